"""What the Dagster instance says about runs and materializations, asked in bulk.

Sensors and schedules tick every few seconds over thousands of ticker partitions. Every question
here is answered by a fixed number of queries for all tickers together, never one query per
ticker: at 2,000 tickers, per-ticker queries made one onboarding tick take almost a minute.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg

from stock_assets.defs.partitions import TICKER_TAG

PARTITION_TAG = "dagster/partition"
IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
FAILED = [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


def materialized(
    instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None = None
) -> bool:
    """Whether ``key`` (one partition of it, if given) has ever been materialized."""
    if partition is None:
        return instance.get_latest_materialization_event(key) is not None
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    )
    return bool(records.records)


def materialized_partitions(instance: dg.DagsterInstance, key: dg.AssetKey) -> set[str]:
    """Every partition of ``key`` materialized at least once: one query for all tickers."""
    return set(instance.get_materialized_partitions(key))


@dataclass(frozen=True)
class RunIndex:
    """The runs that matter to automation, read once per tick.

    ``in_progress`` and ``failures`` are keyed by (job, partition); a job without partitions uses
    ``None``.
    """

    in_progress: frozenset[tuple[str, str | None]]
    failures: Counter[tuple[str, str | None]]

    @classmethod
    def load(cls, instance: dg.DagsterInstance, jobs: Iterable[str]) -> RunIndex:
        running = instance.get_runs(dg.RunsFilter(statuses=IN_PROGRESS))
        failures: Counter[tuple[str, str | None]] = Counter()
        for job in jobs:
            for run in instance.get_runs(dg.RunsFilter(job_name=job, statuses=FAILED)):
                failures[(job, run.tags.get(PARTITION_TAG))] += 1
        return cls(
            in_progress=frozenset((r.job_name, r.tags.get(PARTITION_TAG)) for r in running),
            failures=failures,
        )

    def busy(self, job: str, partition: str | None = None) -> bool:
        """A run of this step is queued or running (any partition when ``partition`` is None)."""
        if partition is not None:
            return (job, partition) in self.in_progress
        return any(j == job for j, _ in self.in_progress)

    def failed(self, job: str, partition: str | None = None) -> int:
        """Failed or cancelled runs of this step (of any partition when ``partition`` is None)."""
        if partition is not None:
            return self.failures[(job, partition)]
        return sum(n for (j, _), n in self.failures.items() if j == job)


def owned_tickers(instance: dg.DagsterInstance) -> set[str]:
    """Tickers some other launcher (the API) has run anything for: one query for all."""
    owned: set[str] = set()
    for key, values in instance.get_run_tags(tag_keys=[TICKER_TAG]):
        if key == TICKER_TAG:
            owned |= set(values)
    return owned
