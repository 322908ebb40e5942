"""A ticker's onboarding plan: what it still needs before a forecast serves, in as few runs as
Dagster allows. The one plan of the platform: the new-ticker sensor launches it, the API follows
it (and launches it itself when no Dagster daemon runs).

Two steps at most, each one run:

1. ``bootstrap`` (job ``platform_bootstrap`` on the index partition): the Feast registry, the
   index's data and the parent model, whichever of them is still missing. Every ticker shares it.
2. ``onboard`` (job ``onboard_ticker`` on the ticker): data, features, child model, backtest, the
   promotion policy's decision, forecast (archived and scored).

The index's own plan is the bootstrap alone. A step is done when what it produces is materialized
(the parent; the ticker's forecast), so anyone reading the instance at any time sees the same
plan in the same state. A step that failed is tried again up to ``MAX_ATTEMPTS`` times by the
sensor; attempts are counted since the ticker was last asked for, so asking again after a
failure (the API, or re-registering) starts afresh.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal

import dagster as dg

from stock_assets import names
from stock_assets.defs.assets.features import FEATURE_DEFINITIONS_KEY
from stock_assets.defs.assets.forecasting import FORECAST_KEY
from stock_assets.defs.assets.market import INDICATORS_KEY
from stock_assets.defs.assets.models import PARENT_KEY
from stock_assets.defs.jobs import (
    BOOTSTRAP_ASSETS,
    DATA_ASSETS,
    TRAINING_ASSETS,
    bootstrap_job,
    feature_definitions_job,
    onboard_ticker_job,
    parent_training_job,
    ticker_data_job,
    ticker_refresh_job,
    ticker_training_job,
)
from stock_assets.defs.run_state import (
    FAILED,
    IN_PROGRESS,
    QUEUED,
    RunIndex,
    epoch,
    latest_progress,
    materialized,
    materialized_partitions,
    run_error,
)

BOOTSTRAP = "bootstrap"
ONBOARD = "onboard"
# Failed attempts of a step before the sensor gives up on it (e.g. `make up` stopped mid-run).
MAX_ATTEMPTS = 3
# A task the API drives (no daemon) is left to it while it said so within this long.
DRIVER_STALE_S = 60.0
# Jobs whose runs on a step's partition would write what the step writes: while one of them is
# in progress the step waits instead of launching a twin (e.g. the daily refresh of the index).
_BLOCKING_JOBS = {
    BOOTSTRAP: (
        bootstrap_job.name,
        feature_definitions_job.name,
        parent_training_job.name,
        ticker_data_job.name,
        ticker_refresh_job.name,
    ),
    ONBOARD: (
        onboard_ticker_job.name,
        ticker_data_job.name,
        ticker_training_job.name,
        ticker_refresh_job.name,
    ),
}


@dataclass(frozen=True)
class Step:
    """One run of a plan: a job on a partition (done once what it produces is materialized:
    the parent for the bootstrap, the ticker's forecast for its onboarding)."""

    name: str
    job_name: str
    partition: str

    @property
    def key(self) -> str:
        return f"{self.name}:{self.partition}"

    @property
    def blocking_jobs(self) -> tuple[str, ...]:
        return _BLOCKING_JOBS[self.name]


def plan_steps(ticker: str, index_ticker: str) -> tuple[Step, ...]:
    """Every step of a ticker's plan, in order, done or not."""
    bootstrap = Step(BOOTSTRAP, bootstrap_job.name, index_ticker)
    if ticker == index_ticker:
        return (bootstrap,)
    return (bootstrap, Step(ONBOARD, onboard_ticker_job.name, ticker))


class StepState(StrEnum):
    DONE = "done"
    RUNNING = "running"  # a run that writes what the step writes is queued or running
    READY = "ready"  # to be launched
    FAILED = "failed"  # out of attempts


@dataclass(frozen=True)
class Facts:
    """What the instance says about the plans of some tickers, read in a fixed number of
    queries (the sensor asks for all tickers at once, ``/status`` for one)."""

    feast_applied: bool
    parent_trained: bool
    with_data: frozenset[str]
    with_forecast: frozenset[str]
    runs: RunIndex

    @classmethod
    def load(cls, instance: dg.DagsterInstance, tickers: Sequence[str] | None = None) -> Facts:
        """For ``tickers`` (and the index), or for every ticker when None."""
        jobs = {job for jobs in _BLOCKING_JOBS.values() for job in jobs}
        if tickers is None:
            with_data = materialized_partitions(instance, INDICATORS_KEY)
            with_forecast = materialized_partitions(instance, FORECAST_KEY)
            runs = RunIndex.load(instance, jobs)
        else:
            with_data = {t for t in tickers if materialized(instance, INDICATORS_KEY, t)}
            with_forecast = {t for t in tickers if materialized(instance, FORECAST_KEY, t)}
            runs = RunIndex.load(instance, jobs, partitions=list(tickers))
        return cls(
            feast_applied=materialized(instance, FEATURE_DEFINITIONS_KEY),
            parent_trained=materialized(instance, PARENT_KEY),
            with_data=frozenset(with_data),
            with_forecast=frozenset(with_forecast),
            runs=runs,
        )

    def done(self, step: Step) -> bool:
        if step.name == BOOTSTRAP:
            return self.parent_trained and self.feast_applied and step.partition in self.with_data
        return step.partition in self.with_forecast

    def assets(self, step: Step) -> list[dg.AssetKey]:
        """What the step's run materializes: the bootstrap only what is missing."""
        if step.name == ONBOARD:
            return [*DATA_ASSETS, *TRAINING_ASSETS]
        needed = []
        if not self.feast_applied:
            needed.append(FEATURE_DEFINITIONS_KEY)
        if step.partition not in self.with_data:
            needed += DATA_ASSETS
        needed.append(PARENT_KEY)  # a bootstrap that is not done always (re)trains the parent
        return [key for key in BOOTSTRAP_ASSETS if key in needed]

    def running(self, step: Step) -> bool:
        partitions = (step.partition, None) if step.name == BOOTSTRAP else (step.partition,)
        return any(self.runs.busy(job, p) for job in step.blocking_jobs for p in partitions)

    def attempts(self, step: Step, since: float | None) -> int:
        return self.runs.failed(step.job_name, step.partition, since)

    def state(
        self, step: Step, since: float | None = None, max_attempts: int = MAX_ATTEMPTS
    ) -> StepState:
        # Running first: a step is done once its run has finished too (the onboarding run
        # archives and scores the forecast after writing it).
        if self.running(step):
            return StepState.RUNNING
        if self.done(step):
            return StepState.DONE
        if self.attempts(step, since) >= max_attempts:
            return StepState.FAILED
        return StepState.READY

    def next_step(
        self,
        ticker: str,
        index_ticker: str,
        since: float | None = None,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> tuple[Step, StepState] | None:
        """The first step of the plan that is not done, and its state; None when all are."""
        for step in plan_steps(ticker, index_ticker):
            state = self.state(step, since, max_attempts)
            if state is not StepState.DONE:
                return step, state
        return None


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
    driver: Literal["sensor", "api"] = "sensor"  # who launches the plan's runs
    driver_seen_at: float | None = None  # the API driver says it is alive
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
        return cls(**data)

    @property
    def slot(self) -> str:
        """What a second request for the same work joins: the ticker's onboarding, or this job
        for this ticker."""
        return self.ticker if self.kind == "onboard" else f"{self.job_name}/{self.ticker}"

    @property
    def max_attempts(self) -> int:
        # The sensor retries a failed step; the API (no daemon) reports the failure at once and
        # a new request retries.
        return MAX_ATTEMPTS if self.driver == "sensor" else 1

    def driven_by_api(self, now: float | None = None) -> bool:
        seen = self.driver_seen_at or self.created_at
        return self.driver == "api" and (now or time.time()) - seen < DRIVER_STALE_S


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
    if task is not None:
        tags[names.TASK_TAG] = task.task_id
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
    """One launch per ready step of the given tickers' plans (a shared step once), skipping
    tickers whose task the API is driving itself."""
    launches: dict[str, Launch] = {}
    for ticker in tickers:
        task = tasks.get(ticker)
        if task is not None and task.driven_by_api():
            continue
        since = task.created_at if task else None
        found = facts.next_step(ticker, index_ticker, since)
        if found is None or found[1] is not StepState.READY or found[0].key in launches:
            continue
        step = found[0]
        launches[step.key] = launch_for(
            facts,
            step,
            trigger=trigger,
            task=task if step.name == ONBOARD else None,
            overrides=overrides,
        )
    return list(launches.values())


def plan_done(facts: Facts, ticker: str, index_ticker: str) -> bool:
    return facts.next_step(ticker, index_ticker) is None


def waiting_tickers(
    facts: Facts, tickers: Iterable[str], index_ticker: str, tasks: Mapping[str, TaskRecord]
) -> list[str]:
    """Tickers whose plan is not done and still has a chance (no step out of attempts)."""
    waiting = []
    for ticker in tickers:
        task = tasks.get(ticker)
        found = facts.next_step(ticker, index_ticker, task.created_at if task else None)
        if found is not None and found[1] is not StepState.FAILED:
            waiting.append(ticker)
    return waiting


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
