"""What the Dagster instance says about runs and materializations: the one place it is asked.

Sensors and schedules tick every few seconds over thousands of ticker partitions. Every bulk
question here is answered by a fixed number of queries for all tickers together, never one query
per ticker: at 2,000 tickers, per-ticker queries made one onboarding tick take almost a minute.
Run statuses, "is it materialized?", a run's latest progress and its error live here too, so the
API and the sensors read them the same way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from stock_assets.names import PARTITION_TAG

IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
QUEUED = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]
FAILED = [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
TERMINAL = [dg.DagsterRunStatus.SUCCESS, *FAILED]
# The metadata keys of a progress observation (see ``stock_assets.defs.training.report_progress``).
PROGRESS_KEYS = ("phase", "unit", "done", "total")


def materialized(
    instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None = None
) -> bool:
    """Whether ``key`` (one partition of it, if given) has ever been materialized."""
    return latest_materialization_time(instance, key, partition) is not None


def latest_materialization_time(
    instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None = None
) -> float | None:
    """Unix time of the latest materialization of ``key`` (of one partition, if given)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=key, asset_partitions=[partition] if partition is not None else None
        ),
        limit=1,
    )
    return records.records[0].timestamp if records.records else None


def materialized_partitions(instance: dg.DagsterInstance, key: dg.AssetKey) -> set[str]:
    """Every partition of ``key`` materialized at least once: one query for all tickers."""
    return set(instance.get_materialized_partitions(key))


def epoch(when: datetime) -> float:
    """Unix time of a run record's (naive UTC or aware) timestamp."""
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


@dataclass(frozen=True)
class RunIndex:
    """The runs that matter to automation, read once per tick.

    ``in_progress`` and ``failures`` are keyed by (job, partition); a job without partitions uses
    ``None``. ``failures`` holds the creation time of every failed or cancelled run, so a step's
    attempts can be counted since a given moment (e.g. since a user asked again).
    """

    in_progress: frozenset[tuple[str, str | None]]
    failures: Mapping[tuple[str, str | None], tuple[float, ...]]

    @classmethod
    def load(
        cls,
        instance: dg.DagsterInstance,
        jobs: Iterable[str],
        partitions: Sequence[str] | None = None,
    ) -> RunIndex:
        """In-progress runs of any job (there are few), failures of ``jobs`` (only on
        ``partitions``, e.g. some tickers, when given)."""
        tags = {PARTITION_TAG: list(partitions)} if partitions is not None else None
        running = instance.get_runs(dg.RunsFilter(statuses=IN_PROGRESS))
        failures: dict[tuple[str, str | None], list[float]] = defaultdict(list)
        for job in jobs:
            filters = dg.RunsFilter(job_name=job, statuses=FAILED, tags=tags)
            for record in instance.get_run_records(filters):
                key = (job, record.dagster_run.tags.get(PARTITION_TAG))
                failures[key].append(epoch(record.create_timestamp))
        return cls(
            in_progress=frozenset((r.job_name, r.tags.get(PARTITION_TAG)) for r in running),
            failures={k: tuple(v) for k, v in failures.items()},
        )

    def busy(self, job: str, partition: str | None = None) -> bool:
        """A run of this step is queued or running (any partition when ``partition`` is None)."""
        if partition is not None:
            return (job, partition) in self.in_progress
        return any(j == job for j, _ in self.in_progress)

    def failed(self, job: str, partition: str | None = None, since: float | None = None) -> int:
        """Failed or cancelled runs of this step (of any partition when ``partition`` is None),
        created at or after ``since`` when given."""
        if partition is not None:
            times: Iterable[float] = self.failures.get((job, partition), ())
        else:
            times = (t for (j, _), ts in self.failures.items() if j == job for t in ts)
        return sum(1 for t in times if since is None or t >= since)


def latest_progress(instance: dg.DagsterInstance, run_id: str) -> dict[str, Any] | None:
    """The run's latest progress observation: ``{"phase", "unit", "done", "total"}``, or None.

    One indexed query (the newest observation event of the run), whatever the log's length.
    """
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_OBSERVATION, ascending=False, limit=1
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        data = getattr(event, "event_specific_data", None)
        observation = getattr(data, "asset_observation", None)
        if observation is None:
            continue
        values = {k: v.value for k, v in observation.metadata.items() if k in PROGRESS_KEYS}
        if set(values) == set(PROGRESS_KEYS):
            return values
    return None


def run_error(instance: dg.DagsterInstance, run_id: str) -> str:
    """Why a run failed, in the user's words: a step's ``dg.Failure`` description as written,
    else the step's own exception, not Dagster's wrapper around it."""
    messages: list[str] = []
    for record in instance.get_records_for_run(
        run_id, of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
    ).records:
        event = record.event_log_entry.dagster_event
        data = getattr(event, "event_specific_data", None)
        said = getattr(getattr(data, "user_failure_data", None), "description", None)
        if said and event is not None and event.step_key:
            messages.append(f"{event.step_key}: {said.strip()}")
            continue
        error = getattr(data, "error", None)
        while error is not None and error.cause is not None:
            error = error.cause
        if error is not None and event is not None and event.step_key:
            messages.append(f"{event.step_key}: {error.message.strip()}")
        elif event is not None and event.message and not messages:
            messages.append(event.message)
    run = instance.get_run_by_id(run_id)
    if not messages and run is not None and run.status == dg.DagsterRunStatus.CANCELED:
        return "The run was cancelled."
    return "\n".join(dict.fromkeys(messages)) or "The run failed."
