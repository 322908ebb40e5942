"""Tasks: what the API was asked to have Dagster do for a ticker, and how far it got.

A task is one of two kinds (``stock_assets.defs.onboarding_tasks.TaskRecord``):

* **onboard**: the ticker's whole onboarding plan, from nothing to a served forecast. Its state
  is read from the instance (``onboarding_tasks.describe``): it succeeds only once the ticker's
  forecast is materialized, whoever launched the runs. The plan has one launch function
  (``onboarding_launches``): while a Dagster daemon runs, the new-ticker sensor calls it (the API
  only registers the ticker and records the task); with no daemon, the API hosts the same call,
  on the request and then once a second, and launches what it returns.
* **run**: one run of one job for a ticker (a retraining, a drift report).

Task records live in the Dagster instance, so every API worker, the sensor and a restarted API
see the same tasks. A second request for work already under way joins its task (one task per
slot: a ticker's onboarding, or a job of a ticker), under a short lock (Redis ``SET NX PX``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import dagster as dg

from serving_api import metrics
from serving_api.kv import KeyValueStore
from serving_api.problems import BusyError, DependencyUnavailableError, IndexTickerError
from serving_api.runs import RunLauncher, RunSpec
from stock_assets import names
from stock_assets.defs.onboarding import Facts, plan_steps
from stock_assets.defs.onboarding_tasks import (
    Launch,
    OnboardingCursor,
    PlanView,
    TaskRecord,
    TaskStore,
    child_strategy_config,
    deep_merge,
    describe,
    onboarding_launches,
    sensor_drives,
)
from stock_assets.defs.registry import register_tickers, registered_tickers
from stock_assets.defs.run_state import IN_PROGRESS
from stock_assets.domain.market_data import MarketDataProvider
from stock_assets.settings import Settings

log = logging.getLogger(__name__)

PUMP_INTERVAL_S = 1.0
# How long the answer "a daemon drives the plans" is trusted before asking the instance again.
DRIVER_CHECK_S = 10.0
VIEW_TTL_S = 0.25
ACTIVE_TTL_S = 6 * 3600


@dataclass(frozen=True)
class TaskHandle:
    """The answer to a request that started or joined a task."""

    task_id: str
    ticker: str
    joined: bool
    runs: int  # runs planned (for the message)


@dataclass(frozen=True)
class TaskView:
    """Everything ``/status`` reports."""

    task_id: str
    ticker: str
    view: PlanView

    @property
    def state(self) -> str:
        return self.view.state


class TaskService:
    """Starts, joins and reports tasks; launches the plans of the tasks it drives."""

    def __init__(
        self,
        settings: Settings,
        instance: dg.DagsterInstance,
        launcher: RunLauncher,
        kv: KeyValueStore,
        *,
        provider: Callable[[], MarketDataProvider],
        run_config_overrides: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.settings = settings
        self.instance = instance
        self.launcher = launcher
        self.kv = kv
        self.store = TaskStore(instance)
        self._provider = provider
        self.overrides = deep_merge(settings.run_config_overrides, run_config_overrides or {})
        self.index = settings.index_ticker
        self._driving: set[str] = set()  # tickers whose plans this API launches (no daemon)
        self._cursor = OnboardingCursor()
        self._views: dict[str, tuple[float, PlanView]] = {}
        self._flights: dict[str, threading.Lock] = {}
        self._records: dict[str, TaskRecord] = {}
        self._counted: set[str] = set()  # runs whose outcome was counted in the metrics
        self._lock = threading.Lock()
        self._sensor_checked: tuple[float, bool] = (0.0, False)
        self._stop = threading.Event()
        self._pump: threading.Thread | None = None

    # --- use cases -------------------------------------------------------------------------------
    def onboard(self, ticker: str, strategy: str | None = None) -> TaskHandle | None:
        """Start (or join) the ticker's onboarding; None when its plan is already done."""
        if ticker == self.index:
            raise IndexTickerError(
                f"{ticker} is the index the parent model learns from: it has no model of its "
                "own to forecast with. Ask for a stock."
            )
        joined = self._join(ticker, durable=False)  # most duplicates end here, lock-free
        if joined is not None:
            return joined
        with self._locked(f"onboard:{ticker}"):
            joined = self._join(ticker)
            if joined is not None:
                return joined
            self._register(ticker)
            facts = Facts.load(self.instance, [ticker, self.index])
            needed = [s for s in plan_steps(ticker, self.index) if not facts.done(s)]
            if not needed:
                return None
            driver = "sensor" if self._sensor_drives() else "api"
            record = TaskRecord.new(
                ticker,
                "onboard",
                steps=tuple(s.name for s in needed),
                strategy=strategy,
                driver=driver,
            )
            self._activate(record)
            # A step the sensor is already running (e.g. `make up`'s first onboarding): the
            # task joins it.
            joined = facts.running(needed[0])
        if driver == "api":
            try:
                self._drive(record.ticker, now=True)
            except DependencyUnavailableError:
                self._deactivate(record)  # nothing started: the next request starts afresh
                raise
        return TaskHandle(record.task_id, ticker, joined, len(needed))

    def _join(self, slot: str, durable: bool = True) -> TaskHandle | None:
        """The unfinished task of ``slot`` (a ticker's onboarding, or a job of a ticker). The
        slot's task id is looked up in Redis first, its record and state in memos, so a burst
        of duplicate requests reads the instance about once."""
        task_id = self.kv.get(self.kv.key("active", slot))
        if task_id:
            existing = self._record(task_id)
        else:  # Redis lost it (flushed, or another worker's fallback): the instance knows
            existing = self.store.active([slot]).get(slot) if durable else None
        if existing is None or self._describe(existing).terminal:
            return None
        return TaskHandle(existing.task_id, existing.ticker, True, max(1, len(existing.steps)))

    def _deactivate(self, record: TaskRecord) -> None:
        self.store.clear_active(record)
        self.kv.delete(self.kv.key("active", record.slot))
        with self._lock:
            self._driving.discard(record.ticker)

    def _record(self, task_id: str) -> TaskRecord | None:
        with self._lock:
            record = self._records.get(task_id)
        if record is None:
            record = self.store.get(task_id)
            if record is not None:
                with self._lock:
                    self._records[task_id] = record
        return record

    def _activate(self, record: TaskRecord) -> None:
        """Save the task and make it its slot's active one (the instance, and Redis for fast
        joins)."""
        self.store.save(record)
        self.store.set_active(record)
        with self._lock:
            self._records[record.task_id] = record
        self.kv.set(self.kv.key("active", record.slot), record.task_id, ttl_s=ACTIVE_TTL_S)

    def train(self, ticker: str, strategy: str) -> TaskHandle:
        """Train a child with ``strategy``: a new ticker is onboarded with it, a ticker with a
        forecast gets one training run (the promotion policy then decides)."""
        handle = self.onboard(ticker, strategy)
        if handle is not None:
            return handle
        config = child_strategy_config(strategy)
        return self.run_job(ticker, names.TICKER_TRAINING_JOB, config=config)

    def run_job(
        self,
        ticker: str,
        job_name: str,
        *,
        config: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> TaskHandle:
        """One run of ``job_name`` for a registered ticker (e.g. its drift report); a run of
        that job in progress for the ticker, ours or anyone's, is joined."""
        slot = f"{job_name}/{ticker}"
        joined = self._join(slot, durable=False)
        if joined is not None:
            return joined
        with self._locked(f"job:{slot}"):
            joined = self._join(slot)
            if joined is not None:
                return joined
            running = self.instance.get_runs(
                dg.RunsFilter(
                    job_name=job_name, tags={names.PARTITION_TAG: ticker}, statuses=IN_PROGRESS
                ),
                limit=1,
            )
            record = TaskRecord.new(ticker, "run", job_name=job_name, driver="api")
            if running:
                record = replace(record, run_id=running[0].run_id)
            else:
                run_config = deep_merge(self.overrides.get(job_name, {}), config or {})
                spec = RunSpec(
                    job_name, ticker, run_config, self._tags(record, names.API_TRIGGER, tags or {})
                )
                record = replace(record, run_id=self._submit(spec))
            self._activate(record)
        return TaskHandle(record.task_id, ticker, bool(running), 1)

    def status(self, task_id: str) -> TaskView | None:
        """None for an unknown task id."""
        record = self._record(task_id)
        if record is None:
            return None
        view = self._describe(record)
        if record.kind == "onboard" and record.driver == "api":
            if view.terminal:
                with self._lock:
                    self._driving.discard(record.ticker)
            else:
                self._drive(record.ticker)  # e.g. a task of an API process since restarted
        return TaskView(record.task_id, record.ticker, view)

    # --- hosting the plan's launch function (no daemon) -------------------------------------
    def start(self) -> None:
        """Start the loop that hosts the plan's launch function while no daemon runs."""
        if self._pump is None:
            self._pump = threading.Thread(target=self._pump_loop, name="task-pump", daemon=True)
            self._pump.start()

    def close(self) -> None:
        self._stop.set()
        if self._pump is not None:
            self._pump.join(timeout=5)
        self.launcher.close()

    def _drive(self, ticker: str, *, now: bool = False) -> None:
        """Launch the ticker's plan from here: what is ready now (on a new task, or when this
        process did not know the plan), the next steps from the loop."""
        with self._lock:
            new = ticker not in self._driving
            self._driving.add(ticker)
        if now or new:
            self._launch([ticker])
        self.start()

    def _pump_loop(self) -> None:
        while not self._stop.wait(PUMP_INTERVAL_S):
            with self._lock:
                tickers = sorted(self._driving)
            if not tickers or self._sensor_drives():
                continue  # a daemon's sensor launches every plan (the same function)
            try:
                self._launch(tickers)
            except Exception as exc:  # the instance briefly unreachable: next round
                log.warning("plans of %s not advanced: %s", ", ".join(tickers), exc)

    def _launch(self, tickers: list[str]) -> None:
        """The plan's one launch function (the sensor's), its runs submitted here. A run is
        submitted once per run key (the step and its attempt), whichever worker gets there
        first; a run of the step's job already busy on its partition is left alone."""
        launches = onboarding_launches(
            self.instance,
            self._cursor,
            tickers,
            self.index,
            trigger=names.API_TRIGGER,
            overrides=self.overrides,
        )
        with self._lock:
            self._driving -= self._cursor.done
        for launch in launches:
            try:
                with self._locked(f"step:{launch.step.key}", wait_s=0):
                    if self._launched(launch):
                        continue
                    self._submit(
                        RunSpec(
                            launch.step.job_name,
                            launch.step.partition,
                            launch.run_config,
                            self._launch_tags(launch),
                            asset_selection=launch.assets,
                        )
                    )
            except BusyError:
                continue  # another worker is launching it

    def _launched(self, launch: Launch) -> bool:
        step = launch.step
        if self.launcher.busy(step.job_name, step.partition):
            return True
        runs = self.instance.get_runs(
            dg.RunsFilter(tags={names.RUN_KEY_TAG: launch.run_key}), limit=1
        )
        return bool(runs)

    def _launch_tags(self, launch: Launch) -> dict[str, str]:
        return {
            names.SOURCE_TAG: "api",
            names.TICKER_TAG: launch.step.partition,
            **launch.tags,  # the task's ticker and id, when a task asked for it
            names.RUN_KEY_TAG: launch.run_key,  # what the sensor's runs carry: one run per key
        }

    # --- helpers ---------------------------------------------------------------------------------
    def _describe(self, record: TaskRecord) -> PlanView:
        """The task's state; read at most every ``VIEW_TTL_S`` per task (a burst of duplicate
        requests, several clients polling one task)."""
        with self._lock:
            flight = self._flights.setdefault(record.task_id, threading.Lock())
        with flight:  # one reader per task at a time; the others take its answer
            cached = self._views.get(record.task_id)
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
            view = describe(self.instance, record, self.index)
            self._views[record.task_id] = (time.monotonic() + VIEW_TTL_S, view)
        for run in view.runs:
            if (
                run["status"] in ("SUCCESS", "FAILURE", "CANCELED")
                and run["run_id"] not in self._counted
            ):
                self._counted.add(run["run_id"])
                outcome = "succeeded" if run["status"] == "SUCCESS" else "failed"
                metrics.RUNS.labels(run["job"], outcome).inc()
        return view

    def _submit(self, spec: RunSpec) -> str:
        run_id = self.launcher.submit(spec)
        metrics.RUNS.labels(spec.job_name, "launched").inc()
        log.info(
            "launched %s", spec.job_name, extra={"run_id": run_id, "partition": spec.partition}
        )
        return run_id

    def _tags(self, record: TaskRecord, trigger: str, extra: Mapping[str, str]) -> dict[str, str]:
        return {
            names.TRIGGER_TAG: trigger,
            names.SOURCE_TAG: "api",
            names.TICKER_TAG: record.ticker,
            **extra,
            names.TASK_TAG: record.task_id,
        }

    def _register(self, ticker: str) -> None:
        """Through the one gate (validation + provider); the index too, the parent needs it."""
        wanted = [ticker, self.index]
        missing = [t for t in wanted if t not in registered_tickers(self.instance)]
        if missing:
            register_tickers(self.instance, self._provider(), missing)

    def _sensor_drives(self) -> bool:
        checked_at, drives = self._sensor_checked
        if time.monotonic() - checked_at > DRIVER_CHECK_S:
            drives = sensor_drives(self.instance)
            self._sensor_checked = (time.monotonic(), drives)
        return drives

    @contextlib.contextmanager
    def _locked(self, name: str, wait_s: float | None = None) -> Iterator[None]:
        """A short cross-worker lock; BusyError when another request holds it past ``wait_s``."""
        key = self.kv.key("lock", name)
        ttl_ms = self.settings.onboarding_lock_ms
        deadline = time.monotonic() + (ttl_ms / 1000 if wait_s is None else wait_s)
        token = self.kv.acquire(key, ttl_ms)
        while token is None:
            if time.monotonic() >= deadline:
                raise BusyError(f"Another request is starting the same work ({name}); retry.")
            time.sleep(0.02)
            token = self.kv.acquire(key, ttl_ms)
        try:
            yield
        finally:
            self.kv.release(key, token)
