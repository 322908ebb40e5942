"""``stockops_dagster_runs`` counts the runs of every job of the code location, whoever launched
them: a job missing from the metrics is a failure nobody is alerted to."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster._core.test_utils import create_run_for_test

from serving_api.monitoring import PlatformStateCollector
from stock_assets import names
from stock_assets.definitions import defs


def _run_counts(instance: dg.DagsterInstance, root: Path) -> dict[tuple[str, str], float]:
    collector = PlatformStateCollector(ttl_s=0.0)
    collector.bind(root / "outputs", root / "tables", instance)
    (family,) = [f for f in collector.collect() if f.name == "stockops_dagster_runs"]
    return {(s.labels["job"], s.labels["status"]): s.value for s in family.samples}


def test_every_job_of_the_code_location_is_counted(
    dagster_instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    jobs = {j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")}
    counted = _run_counts(dagster_instance, tmp_path)
    missing = {
        (job, status)
        for job in jobs
        for status in ("success", "failure", "canceled")
        if (job, status) not in counted
    }
    assert not missing, f"jobs the metrics do not count: {sorted(missing)}"


def test_a_failed_onboarding_run_is_counted_as_a_failure(
    dagster_instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    """What ``StockOpsTrainingRunsFailing`` fires on (its promtool case feeds this series)."""
    for status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS):
        create_run_for_test(dagster_instance, job_name=names.ONBOARD_TICKER_JOB, status=status)
    counted = _run_counts(dagster_instance, tmp_path)
    assert counted[(names.ONBOARD_TICKER_JOB, "failure")] == 1.0
    assert counted[(names.ONBOARD_TICKER_JOB, "success")] == 1.0
    assert counted[(names.PLATFORM_BOOTSTRAP_JOB, "failure")] == 0.0
