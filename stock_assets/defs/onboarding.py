"""A ticker's onboarding plan: what it still needs before a forecast serves, in as few runs as
Dagster allows. The one plan of the platform; its tasks, their status and the one function that
launches it live beside it (``onboarding_tasks``).

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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import dagster as dg

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
from stock_assets.defs.run_state import RunIndex, materialized, materialized_partitions

if TYPE_CHECKING:
    from stock_assets.defs.onboarding_tasks import TaskRecord

BOOTSTRAP = "bootstrap"
ONBOARD = "onboard"
# Failed attempts of a step before the sensor gives up on it (e.g. `make up` stopped mid-run).
MAX_ATTEMPTS = 3
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


def plan_done(facts: Facts, ticker: str, index_ticker: str) -> bool:
    return facts.next_step(ticker, index_ticker) is None


def waiting_tickers(
    facts: Facts, tickers: Iterable[str], index_ticker: str, tasks: Mapping[str, TaskRecord]
) -> list[str]:
    """Tickers whose plan is not done and still has a chance (no step out of attempts)."""
    waiting = []
    for ticker in tickers:
        task = tasks.get(ticker)
        since, attempts = (task.created_at, task.max_attempts) if task else (None, MAX_ATTEMPTS)
        found = facts.next_step(ticker, index_ticker, since, attempts)
        if found is not None and found[1] is not StepState.FAILED:
            waiting.append(ticker)
    return waiting
