"""Tasks: the Dagster runs the API launches for a ticker, followed from the run storage.

A task id is the run id of the first run the API launched for a request. Onboarding a brand-new
ticker may need a chain (Feast registry, index data, parent, the ticker's data, its training);
later runs of the chain carry the tag ``stockops/task=<task id>``, and the first run carries the
chain length, so ``/status`` can follow the whole chain from run records alone.

Duplicate requests join: under a short lock (Redis ``SET NX PX``, or in-process) we look for an
active task of the ticker (a key set while a chain lives) or an in-progress run tagged with it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import dagster as dg

from serving_api import metrics
from serving_api.errors import ApiError
from serving_api.kv import KeyValueStore
from serving_api.runs import RunLauncher, RunSpec, deep_merge
from stock_assets.defs.assets.features import FEATURE_DEFINITIONS_KEY
from stock_assets.defs.assets.market import INDICATORS_KEY
from stock_assets.defs.assets.models import PARENT_KEY
from stock_assets.defs.automation import (
    feature_definitions_job,
    parent_training_job,
    ticker_data_job,
    ticker_training_job,
)
from stock_assets.defs.partitions import TICKER_TAG, TRIGGER_TAG
from stock_assets.defs.registry import register_tickers, registered_tickers
from stock_assets.defs.run_state import FAILED, IN_PROGRESS, PARTITION_TAG, materialized
from stock_assets.domain.market_data import MarketDataProvider
from stock_assets.settings import Settings

log = logging.getLogger(__name__)

TASK_TAG = "stockops/task"
STEPS_TAG = "stockops/steps"
STEP_TAG = "stockops/step"
SOURCE_TAG = "stockops/source"
_CHAIN_TIMEOUT_S = 6 * 3600
_PROGRESS_RE = re.compile(r"^progress (?P<label>.+?): (?P<kind>epoch|fold) (?P<i>\d+)/(?P<n>\d+)")
# What each shared step of an onboarding chain materializes (to tell whether it is done).
_STEP_OUTPUT = {
    feature_definitions_job.name: FEATURE_DEFINITIONS_KEY,
    ticker_data_job.name: INDICATORS_KEY,
    parent_training_job.name: PARENT_KEY,
}
_QUEUED = {dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED}


@dataclass
class TaskView:
    """Everything ``/status`` reports, computed from run records."""

    task_id: str
    ticker: str | None
    state: str  # queued | running | succeeded | failed
    steps_done: int = 0
    steps_total: int = 1
    job: str | None = None
    progress: dict[str, Any] | None = None
    error: str | None = None
    runs: list[dict[str, str]] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.state in {"succeeded", "failed"}


def parse_progress(messages: Sequence[str]) -> dict[str, Any] | None:
    """The latest ``progress <label>: epoch i/n`` (or ``fold i/n``) line of a run's log."""
    latest: dict[str, Any] | None = None
    for message in messages:
        match = _PROGRESS_RE.match(message or "")
        if match:
            kind = match["kind"]
            latest = {
                "phase": match["label"],
                "unit": kind,
                "done": int(match["i"]),
                "total": int(match["n"]),
            }
    return latest


class TaskService:
    """Plans, launches, joins and reports runs for tickers."""

    def __init__(
        self,
        settings: Settings,
        instance: dg.DagsterInstance,
        launcher: RunLauncher,
        kv: KeyValueStore,
        *,
        provider: Callable[[], MarketDataProvider],
        run_config_overrides: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.settings = settings
        self.instance = instance
        self.launcher = launcher
        self.kv = kv
        self._provider = provider
        self.overrides = deep_merge(settings.run_config_overrides, run_config_overrides or {})
        self._chains: dict[str, threading.Thread] = {}

    # --- planning -------------------------------------------------------------------------
    def _spec(
        self, job: str, partition: str | None, config: dict[str, Any] | None = None
    ) -> RunSpec:
        run_config = deep_merge(self.overrides.get(job, {}), config or {})
        return RunSpec(job, partition, run_config)

    def plan(self, ticker: str, strategy: str | None) -> list[RunSpec]:
        """What the ticker still needs before (and including) its training run, in order."""
        index = self.settings.index_ticker
        steps: list[RunSpec] = []
        if not materialized(self.instance, FEATURE_DEFINITIONS_KEY, None):
            steps.append(self._spec(feature_definitions_job.name, None))
        if ticker != index and not materialized(self.instance, INDICATORS_KEY, index):
            steps.append(self._spec(ticker_data_job.name, index))
        if not materialized(self.instance, INDICATORS_KEY, ticker):
            steps.append(self._spec(ticker_data_job.name, ticker))
        if not materialized(self.instance, PARENT_KEY, None):
            steps.append(self._spec(parent_training_job.name, None))
        config = {"ops": {"child_model": {"config": {"strategy": strategy}}}} if strategy else None
        steps.append(self._spec(ticker_training_job.name, ticker, config))
        return steps

    # --- launching and joining --------------------------------------------------------------
    def _active_key(self, ticker: str) -> str:
        return self.kv.key("task", ticker)

    def find_active(self, ticker: str) -> str | None:
        """The task a new request for ``ticker`` should join, if any."""
        task_id = self.kv.get(self._active_key(ticker))
        if task_id:
            view = self.status(task_id)
            if view is not None and not view.terminal:
                return task_id
        for tags in ({TICKER_TAG: ticker}, {PARTITION_TAG: ticker}):
            runs = self.instance.get_runs(dg.RunsFilter(tags=tags, statuses=IN_PROGRESS), limit=1)
            if runs:
                return runs[0].tags.get(TASK_TAG, runs[0].run_id)
        return None

    def launch(self, ticker: str, strategy: str | None = None) -> tuple[str, bool]:
        """(task id, joined): register the ticker if needed, then join or start its chain."""
        lock_key = self.kv.key("lock", "launch", ticker)
        deadline = time.monotonic() + self.settings.onboarding_lock_ms / 1000
        token = self.kv.acquire(lock_key, self.settings.onboarding_lock_ms)
        while token is None:
            if time.monotonic() > deadline:
                raise ApiError(503, "busy", f"Another request is launching {ticker}; retry.")
            time.sleep(0.02)
            token = self.kv.acquire(lock_key, self.settings.onboarding_lock_ms)
        try:
            active = self.find_active(ticker)
            if active is not None:
                return active, True
            self._register(ticker)
            steps = self.plan(ticker, strategy)
            # A shared step (Feast registry, index data, parent) already running for someone
            # else, e.g. the onboarding sensor during the first `make up`: join that run rather
            # than train the parent twice; the next request plans from what it left.
            busy = self._running_elsewhere(steps[0])
            if busy is not None:
                return busy, True
            return self._start_chain(ticker, steps), False
        finally:
            self.kv.release(lock_key, token)

    def _running_elsewhere(self, spec: RunSpec) -> str | None:
        """An in-progress run of the same job and partition, whoever launched it."""
        tags = {PARTITION_TAG: spec.partition} if spec.partition else {}
        runs = self.instance.get_runs(
            dg.RunsFilter(job_name=spec.job_name, tags=tags, statuses=IN_PROGRESS), limit=1
        )
        return runs[0].run_id if runs else None

    def _step_done(self, spec: RunSpec) -> bool:
        """Whether what a shared step materializes exists now (another run made it)."""
        key = _STEP_OUTPUT.get(spec.job_name)
        return key is not None and materialized(self.instance, key, spec.partition)

    def launch_job(
        self, ticker: str, job_name: str, tags: dict[str, str] | None = None
    ) -> tuple[str, bool]:
        """(task id, joined): one run of ``job_name`` for a ticker that is already registered
        (e.g. its drift report). A run of that job in progress for the ticker is joined."""
        lock_key = self.kv.key("lock", "job", job_name, ticker)
        deadline = time.monotonic() + self.settings.onboarding_lock_ms / 1000
        token = self.kv.acquire(lock_key, self.settings.onboarding_lock_ms)
        while token is None:  # a concurrent request is launching it: then join its run
            if time.monotonic() > deadline:
                raise ApiError(503, "busy", f"Another request is launching {job_name}; retry.")
            time.sleep(0.02)
            token = self.kv.acquire(lock_key, self.settings.onboarding_lock_ms)
        try:
            # Ours, possibly not recorded yet (the local launcher creates the record later)...
            active_key = self.kv.key("job", job_name, ticker)
            mine = self.kv.get(active_key)
            view = self.status(mine) if mine else None
            if mine and view is not None and not view.terminal:
                return mine, True
            # ... or anyone's (the UI, a schedule).
            running = self.instance.get_runs(
                dg.RunsFilter(
                    job_name=job_name, tags={PARTITION_TAG: ticker}, statuses=IN_PROGRESS
                ),
                limit=1,
            )
            if running:
                return running[0].run_id, True
            spec = replace(
                self._spec(job_name, ticker),
                tags={SOURCE_TAG: "api", STEPS_TAG: "1", **(tags or {})},
            )
            run_id = self.launcher.submit(spec)
            metrics.RUNS.labels(job_name, "launched").inc()
            self.kv.set(active_key, run_id, ttl_s=_CHAIN_TIMEOUT_S)
            return run_id, False
        finally:
            self.kv.release(lock_key, token)

    def _register(self, ticker: str) -> None:
        """Through the one gate (validation + provider); the index too, the parent needs it."""
        wanted = [ticker, self.settings.index_ticker]
        missing = [t for t in wanted if t not in registered_tickers(self.instance)]
        if missing:
            register_tickers(self.instance, self._provider(), missing)

    def _start_chain(self, ticker: str, steps: list[RunSpec]) -> str:
        common = {
            TICKER_TAG: ticker,
            TRIGGER_TAG: "api",
            SOURCE_TAG: "api",
            STEPS_TAG: str(len(steps)),
        }
        first = replace(steps[0], tags={**common, STEP_TAG: "1"})
        task_id = self.launcher.submit(first)
        metrics.RUNS.labels(first.job_name, "launched").inc()
        self.kv.set(self._active_key(ticker), task_id, ttl_s=_CHAIN_TIMEOUT_S)
        rest = [
            replace(s, tags={**common, TASK_TAG: task_id, STEP_TAG: str(i)})
            for i, s in enumerate(steps[1:], start=2)
        ]
        thread = threading.Thread(
            target=self._follow,
            args=(ticker, task_id, first, rest),
            daemon=True,
            name=f"stockops-task-{ticker}",
        )
        self._chains[task_id] = thread
        thread.start()
        return task_id

    def _follow(self, ticker: str, task_id: str, first: RunSpec, rest: list[RunSpec]) -> None:
        """Wait for each run, launch the next while they succeed, count outcomes."""
        try:
            run_id, spec = task_id, first
            while True:
                status = self.launcher.wait(self.instance, run_id, _CHAIN_TIMEOUT_S)
                ok = status == "SUCCESS"
                metrics.RUNS.labels(spec.job_name, "succeeded" if ok else "failed").inc()
                if not ok:
                    return
                spec_or_none = self._next_step(task_id, rest)
                if spec_or_none is None:
                    return
                spec = spec_or_none
                run_id = self.launcher.submit(spec)
                metrics.RUNS.labels(spec.job_name, "launched").inc()
        except Exception:
            log.exception("Task %s for %s stopped", task_id, ticker)
        finally:
            self._chains.pop(task_id, None)
            if self.kv.get(self._active_key(ticker)) == task_id:
                self.kv.delete(self._active_key(ticker))

    def _next_step(self, task_id: str, rest: list[RunSpec]) -> RunSpec | None:
        """The next step to launch; a step another launcher is running (e.g. the onboarding
        sensor training the parent) is waited for instead of repeated, and dropped from the
        task once its output exists."""
        while rest:
            spec = rest.pop(0)
            busy = self._running_elsewhere(spec)
            if busy is None:
                return spec
            self.launcher.wait(self.instance, busy, _CHAIN_TIMEOUT_S)
            if not self._step_done(spec):
                return spec  # their run failed: ours tries again
            self._drop_step(task_id)
        return None

    def _drop_step(self, task_id: str) -> None:
        """One step fewer for the task to count (the first run carries the chain length)."""
        run = self.instance.get_run_by_id(task_id)
        if run is not None:
            total = int(run.tags.get(STEPS_TAG, "1"))
            self.instance.add_run_tags(task_id, {STEPS_TAG: str(max(1, total - 1))})

    # --- status --------------------------------------------------------------------------------
    def _error(self, run_id: str) -> str:
        messages = []
        for entry in self.instance.all_logs(
            run_id, of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
        ):
            event = entry.dagster_event
            data = getattr(event, "event_specific_data", None)
            error = getattr(data, "error", None)
            while error is not None and error.cause is not None:
                error = error.cause  # the user's exception, not Dagster's wrapper
            if error is not None and event.step_key:
                messages.append(f"{event.step_key}: {error.message.strip()}")
            elif event is not None and event.message and not messages:
                messages.append(event.message)
        return "\n".join(dict.fromkeys(messages)) or "The run failed."

    def _progress(self, run_id: str) -> dict[str, Any] | None:
        return parse_progress([e.user_message for e in self.instance.all_logs(run_id)])

    def status(self, task_id: str) -> TaskView | None:
        """None for an unknown task id."""
        first = self.instance.get_run_by_id(task_id)
        if first is None:
            queued = self.launcher.pending(task_id) or task_id in self._chains
            # The launcher may have created the record between the two looks: read it again.
            first = self.instance.get_run_by_id(task_id)
            if first is None:
                return TaskView(task_id, None, "queued") if queued else None
        ticker = first.tags.get(TICKER_TAG) or first.tags.get(PARTITION_TAG)
        later = self.instance.get_runs(dg.RunsFilter(tags={TASK_TAG: task_id}), ascending=True)
        runs = [first, *[r for r in later if r.run_id != task_id]]
        total = int(first.tags.get(STEPS_TAG, "1"))
        done = sum(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        view = TaskView(task_id, ticker, "running", done, total, runs[-1].job_name)
        view.runs = [
            {"run_id": r.run_id, "job": r.job_name, "status": r.status.value} for r in runs
        ]
        failed = [r for r in runs if r.status in FAILED]
        if failed:
            view.state, view.job = "failed", failed[-1].job_name
            view.error = self._error(failed[-1].run_id)
        elif done >= total:
            view.state = "succeeded"
        elif len(runs) == 1 and first.status in _QUEUED:
            view.state = "queued"
        elif not any(r.status in IN_PROGRESS for r in runs) and not self._chain_alive(
            task_id, ticker
        ):
            # Between two steps nobody is following the chain any more: the API stopped.
            view.state = "failed"
            view.error = (
                f"The task stopped after {done} of {total} runs (the API restarted while it "
                "was running). Send the request again to resume from what is materialized."
            )
        current = next((r for r in reversed(runs) if r.status in IN_PROGRESS), runs[-1])
        view.progress = self._progress(current.run_id)
        if view.progress is not None:
            view.progress["step"] = len(runs)
            view.progress["job"] = current.job_name
        return view

    def _chain_alive(self, task_id: str, ticker: str | None) -> bool:
        if task_id in self._chains:
            return True
        return ticker is not None and self.kv.get(self._active_key(ticker)) == task_id

    def close(self) -> None:
        self.launcher.close()
