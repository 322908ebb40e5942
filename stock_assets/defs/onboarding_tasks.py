"""The onboarding plan's tasks, their status, and the one function that launches the plan.

- **Tasks** (``TaskRecord``, ``TaskStore``): what someone asked for (a ticker's whole onboarding,
  or one run of one job), kept in the Dagster instance so every API worker, the sensor and a
  restarted API read the same tasks.
- **Status** (``describe``): a task's state read from the instance alone; an onboarding task
  succeeds only once the ticker's forecast is materialized, whoever launched the runs.
- **Launching** (``onboarding_launches``): the runs the plans of some tickers need now. It is the
  only launch path: the new-ticker sensor calls it on every tick when a Dagster daemon runs, and
  the API hosts the same call (and launches what it returns itself) when none does
  (``sensor_drives``). Every launch carries a run key that counts the step's attempts, so
  whoever launches, a step is launched once per attempt.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

import dagster as dg

from stock_assets import names
from stock_assets.defs.onboarding import (
    MAX_ATTEMPTS,
    ONBOARD,
    Facts,
    Step,
    StepState,
    plan_done,
    plan_steps,
)
from stock_assets.defs.run_state import (
    FAILED,
    IN_PROGRESS,
    QUEUED,
    epoch,
    latest_progress,
    run_error,
)

# --- tasks: what the API (or anyone) asked for, kept in the Dagster instance ---------------------
_TASK_KEY = "stockops/task/{}"
_ACTIVE_KEY = "stockops/onboarding/{}"


@dataclass(frozen=True)
class TaskRecord:
    """A request to onboard a ticker (``kind="onboard"``: its whole plan) or to run one job for
    it (``kind="run"``). Kept in the Dagster instance's key-value storage (SQLite or Postgres), so
    every API worker, the sensor and a restarted API read the same tasks."""

    task_id: str
    ticker: str
    kind: Literal["onboard", "run"]
    created_at: float
    steps: tuple[str, ...] = ()  # onboard: the plan's steps still needed when it was created
    strategy: str | None = None
    job_name: str | None = None  # run: the job
    run_id: str | None = None  # run: its run, once launched
    # Who launched the plan when it was asked for: the sensor (a daemon ran) retries a failed
    # step; with no daemon the API reports a failure at once, and a new request retries.
    driver: Literal["sensor", "api"] = "sensor"
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def new(cls, ticker: str, kind: Literal["onboard", "run"], **fields: Any) -> TaskRecord:
        return cls(str(uuid.uuid4()), ticker, kind, time.time(), **fields)

    def to_json(self) -> str:
        data = asdict(self)
        data["steps"] = list(self.steps)
        data["tags"] = dict(self.tags)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TaskRecord:
        data = json.loads(text)
        data["steps"] = tuple(data.get("steps", ()))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})  # older records: extras

    @property
    def slot(self) -> str:
        """What a second request for the same work joins: the ticker's onboarding, or this job
        for this ticker."""
        return self.ticker if self.kind == "onboard" else f"{self.job_name}/{self.ticker}"

    @property
    def max_attempts(self) -> int:
        return MAX_ATTEMPTS if self.driver == "sensor" else 1


class TaskStore:
    """Task records and the active task of each slot (a ticker's onboarding, or one job of a
    ticker), in the instance's key-value storage (the table Dagster's daemons keep their
    cursors in)."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.storage = instance.daemon_cursor_storage

    def save(self, record: TaskRecord) -> None:
        self.storage.set_cursor_values({_TASK_KEY.format(record.task_id): record.to_json()})

    def get(self, task_id: str) -> TaskRecord | None:
        key = _TASK_KEY.format(task_id)
        text = self.storage.get_cursor_values({key}).get(key)
        return TaskRecord.from_json(text) if text else None

    def set_active(self, record: TaskRecord) -> None:
        self.storage.set_cursor_values({_ACTIVE_KEY.format(record.slot): record.task_id})

    def clear_active(self, record: TaskRecord) -> None:
        """The slot has no active task any more (e.g. its first run could not be launched)."""
        self.storage.set_cursor_values({_ACTIVE_KEY.format(record.slot): ""})

    def active(self, slots: Iterable[str]) -> dict[str, TaskRecord]:
        """The latest task (finished or not) of each slot, by slot: two queries for all. A
        ticker's onboarding slot is the ticker itself."""
        keys = {_ACTIVE_KEY.format(s): s for s in slots}
        if not keys:
            return {}
        ids = self.storage.get_cursor_values(set(keys))
        tasks = self.storage.get_cursor_values({_TASK_KEY.format(i) for i in ids.values() if i})
        found: dict[str, TaskRecord] = {}
        for key, task_id in ids.items():
            text = tasks.get(_TASK_KEY.format(task_id))
            if text:
                found[keys[key]] = TaskRecord.from_json(text)
        return found


# --- what a task's plan looks like now ------------------------------------------------------------
@dataclass
class PlanView:
    """A task as ``/status`` reports it, read from the instance."""

    state: Literal["queued", "running", "succeeded", "failed"]
    steps_done: int
    steps_total: int
    job: str | None = None
    progress: dict[str, Any] | None = None
    error: str | None = None
    runs: list[dict[str, str]] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.state in {"succeeded", "failed"}


def _step_runs(
    instance: dg.DagsterInstance, record: TaskRecord, step: Step, limit: int = 20
) -> list[dg.DagsterRun]:
    """The step's runs that belong to the task, oldest first: those in progress (a run the
    sensor started before the task was asked for is joined) and those created since."""
    filters = dg.RunsFilter(job_name=step.job_name, tags={names.PARTITION_TAG: step.partition})
    # A second of slack: a run launched in the same instant as the record must count.
    since = record.created_at - 1.0
    return [
        r.dagster_run
        for r in reversed(instance.get_run_records(filters, limit=limit))
        if r.dagster_run.status in IN_PROGRESS or epoch(r.create_timestamp) >= since
    ]


def _with_progress(
    instance: dg.DagsterInstance, run: dg.DagsterRun, step_no: int, steps: int
) -> dict[str, Any] | None:
    progress = latest_progress(instance, run.run_id)
    if progress is None:
        return None
    return {**progress, "step": step_no, "steps": steps, "job": run.job_name}


def describe(instance: dg.DagsterInstance, record: TaskRecord, index_ticker: str) -> PlanView:
    """The task's state from the instance alone: an onboarding task succeeds only once every
    step it needed is done (the ticker's forecast is materialized), whoever ran the steps."""
    if record.kind == "run":
        return _describe_run(instance, record)
    steps = [s for s in plan_steps(record.ticker, index_ticker) if s.name in record.steps]
    facts = Facts.load(instance, [record.ticker, index_ticker])
    view = PlanView("queued", 0, len(steps))
    for number, step in enumerate(steps, start=1):
        runs = _step_runs(instance, record, step)
        view.runs += [
            {"run_id": r.run_id, "job": r.job_name, "status": r.status.value} for r in runs
        ]
        state = facts.state(step, record.created_at, record.max_attempts)
        if state is StepState.DONE:
            view.steps_done += 1
            continue
        view.job = step.job_name
        if state is StepState.FAILED:
            failed = [r for r in runs if r.status in FAILED]
            view.state = "failed"
            view.error = run_error(instance, failed[-1].run_id) if failed else "The step failed."
            return view
        active = [r for r in runs if r.status in IN_PROGRESS]
        if state is StepState.RUNNING and active:
            view.state = "queued" if all(r.status in QUEUED for r in active) else "running"
            view.progress = _with_progress(instance, active[-1], number, len(steps))
        elif number > 1 or view.runs:
            view.state = "running"  # between two steps: the next one is being launched
        return view
    view.state = "succeeded"
    return view


def _describe_run(instance: dg.DagsterInstance, record: TaskRecord) -> PlanView:
    run = instance.get_run_by_id(record.run_id) if record.run_id else None
    view = PlanView("queued", 0, 1, job=record.job_name)
    if run is None:
        return view
    view.runs = [{"run_id": run.run_id, "job": run.job_name, "status": run.status.value}]
    if run.status == dg.DagsterRunStatus.SUCCESS:
        view.state, view.steps_done = "succeeded", 1
    elif run.status in FAILED:
        view.state, view.error = "failed", run_error(instance, run.run_id)
    elif run.status not in QUEUED:
        view.state = "running"
        view.progress = _with_progress(instance, run, 1, 1)
    return view


# --- launching ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Launch:
    """A run to launch for a step: the same whether the sensor or the API launches it."""

    step: Step
    assets: tuple[dg.AssetKey, ...]
    run_key: str
    run_config: Mapping[str, Any]
    tags: Mapping[str, str]

    def run_request(self) -> dg.RunRequest:
        return dg.RunRequest(
            run_key=self.run_key,
            job_name=self.step.job_name,
            partition_key=self.step.partition,
            asset_selection=list(self.assets),
            run_config=dict(self.run_config),
            tags=dict(self.tags),
        )


def child_strategy_config(strategy: str | None) -> dict[str, Any]:
    return {"ops": {names.CHILD_MODEL: {"config": {"strategy": strategy}}}} if strategy else {}


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` over ``base``, recursively for nested mappings (run config)."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def launch_for(
    facts: Facts,
    step: Step,
    *,
    trigger: str,
    task: TaskRecord | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Launch:
    """The run for ``step``: its assets, run config (the job's overrides, the task's strategy),
    tags, and a run key that counts the attempts since the task began."""
    since = task.created_at if task else None
    attempt = facts.attempts(step, since)
    config: dict[str, Any] = dict((overrides or {}).get(step.job_name, {}))
    if step.name == ONBOARD and task is not None:
        config = deep_merge(config, child_strategy_config(task.strategy))
    tags = {names.TRIGGER_TAG: trigger}
    if task is not None:  # the UI finds a task's runs by its tag (the shared bootstrap too)
        tags[names.TASK_TAG] = task.task_id
        tags[names.TICKER_TAG] = task.ticker
    marker = f":{int(since)}" if since else ""
    return Launch(
        step=step,
        assets=tuple(facts.assets(step)),
        run_key=f"{step.key}{marker}:attempt{attempt}",
        run_config=config,
        tags=tags,
    )


def pending_launches(
    facts: Facts,
    tickers: Iterable[str],
    index_ticker: str,
    tasks: Mapping[str, TaskRecord],
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    trigger: str = names.ONBOARDING_TRIGGER,
) -> list[Launch]:
    """One launch per ready step of the given tickers' plans (a shared step once); a ticker's
    attempts count from its latest task, up to that task's limit."""
    launches: dict[str, Launch] = {}
    for ticker in tickers:
        task = tasks.get(ticker)
        since, attempts = (task.created_at, task.max_attempts) if task else (None, MAX_ATTEMPTS)
        found = facts.next_step(ticker, index_ticker, since, attempts)
        if found is None or found[1] is not StepState.READY or found[0].key in launches:
            continue
        step = found[0]
        launches[step.key] = launch_for(
            facts, step, trigger=trigger, task=task, overrides=overrides
        )
    return list(launches.values())


def sensor_drives(instance: dg.DagsterInstance, max_age_s: float = 60.0) -> bool:
    """Whether a Dagster daemon is alive to run the new-ticker sensor (it then launches every
    plan); otherwise the API launches the plans it is asked for itself."""
    heartbeats = instance.get_daemon_heartbeats()
    sensor = heartbeats.get("SENSOR")
    if sensor is None or time.time() - sensor.timestamp > max_age_s:
        return False
    from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorType

    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if (
            state.instigator_name == names.NEW_TICKER_SENSOR
            and state.status == InstigatorStatus.STOPPED
        ):
            return False
    return True


@dataclass
class OnboardingCursor:
    """The tickers whose plan is done (their forecast exists): never looked at again. The
    sensor keeps it as its cursor, the API in memory."""

    done: set[str] = field(default_factory=set)

    @classmethod
    def parse(cls, text: str | None) -> OnboardingCursor:
        if not text:
            return cls()
        if not text.startswith("{"):  # the first form (requested tickers): nothing known done
            return cls()
        return cls(set(json.loads(text).get("done", [])))

    def dump(self) -> str:
        return json.dumps({"done": sorted(self.done)})


def onboarding_launches(
    instance: dg.DagsterInstance,
    cursor: OnboardingCursor,
    tickers: Sequence[str],
    index_ticker: str,
    *,
    trigger: str = names.ONBOARDING_TRIGGER,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Launch]:
    """The runs the plans of ``tickers`` need now (a shared step once); updates ``cursor.done``.

    The one launch function of the plan: the sensor's tick when a daemon runs, the API's host
    loop when none does. A fixed number of queries answers for all tickers together.
    """
    # A few tickers (the API's tasks): read just theirs; many (the sensor): read everything once.
    facts = Facts.load(instance, [*tickers, index_ticker] if len(tickers) <= 20 else None)
    cursor.done |= {t for t in tickers if plan_done(facts, t, index_ticker)}
    pending = [t for t in tickers if t not in cursor.done]
    tasks = TaskStore(instance).active(pending)
    return pending_launches(
        facts, pending, index_ticker, tasks, overrides=overrides, trigger=trigger
    )
