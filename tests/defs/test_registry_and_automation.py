"""Ticker registration, the new-ticker sensor, the daily schedule and the CLI."""

from __future__ import annotations

import datetime as dt
import uuid

import dagster as dg
import pytest

from stock_assets import names
from stock_assets.cli import main as cli_main
from stock_assets.defs.assets.features import FEATURE_DEFINITIONS_KEY
from stock_assets.defs.assets.forecasting import FORECAST_KEY
from stock_assets.defs.assets.market import INDICATORS_KEY
from stock_assets.defs.assets.models import PARENT_KEY
from stock_assets.defs.batches import BATCH_OP
from stock_assets.defs.jobs import register_ticker
from stock_assets.defs.onboarding import MAX_ATTEMPTS
from stock_assets.defs.onboarding_tasks import TaskRecord, TaskStore
from stock_assets.defs.registry import register_tickers, registered_tickers, unregister_ticker
from stock_assets.defs.schedules import daily_refresh_schedule
from stock_assets.defs.sensors.onboarding import (
    OnboardingCursor,
    new_ticker_sensor,
    onboarding_requests,
)
from stock_assets.domain.market_data import OfflineSampleProvider, UnknownTickerError
from stock_assets.domain.symbols import InvalidTickerError
from stock_assets.settings import get_settings


def test_register_validates_then_adds_only_new(dagster_instance) -> None:  # type: ignore[no-untyped-def]
    provider = OfflineSampleProvider()
    assert register_tickers(dagster_instance, provider, ["aapl", "^GSPC", "AAPL"]) == [
        "AAPL",
        "^GSPC",
    ]
    assert register_tickers(dagster_instance, provider, ["AAPL"]) == []
    with pytest.raises(InvalidTickerError):
        register_tickers(dagster_instance, provider, ["MSFT", "../etc"])
    with pytest.raises(
        UnknownTickerError, match=r"does not know TSLA\. Available: AAPL, GOOG, IBM, MSFT, \^GSPC"
    ):
        register_tickers(dagster_instance, provider, ["MSFT", "TSLA"])
    # A bad ticker in a list leaves the set untouched.
    assert sorted(registered_tickers(dagster_instance)) == ["AAPL", "^GSPC"]
    assert unregister_ticker(dagster_instance, "aapl") is True
    assert unregister_ticker(dagster_instance, "AAPL") is False


def _report(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None = None) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, partition=partition))


def _bootstrapped(instance: dg.DagsterInstance) -> None:
    """What the bootstrap run leaves: the Feast registry, the index's data, the parent."""
    for key, partition in (
        (FEATURE_DEFINITIONS_KEY, None),
        (INDICATORS_KEY, "^GSPC"),
        (PARENT_KEY, None),
    ):
        _report(instance, key, partition)


def test_the_sensor_bootstraps_once_then_onboards_each_ticker_in_one_run(dagster_instance) -> None:  # type: ignore[no-untyped-def]
    register_tickers(dagster_instance, OfflineSampleProvider(), ["^GSPC", "AAPL", "IBM"])
    first = new_ticker_sensor(dg.build_sensor_context(instance=dagster_instance))
    # One shared run for every ticker: Feast registry, index data, parent.
    (bootstrap,) = first.run_requests
    assert (bootstrap.job_name, bootstrap.partition_key) == (names.PLATFORM_BOOTSTRAP_JOB, "^GSPC")
    bootstrapped = [
        names.FEATURE_DEFINITIONS,
        names.OHLCV,
        names.INDICATORS,
        names.ONLINE_FEATURES,
        names.PARENT_MODEL,
    ]
    assert [k.to_user_string() for k in bootstrap.asset_selection] == bootstrapped
    assert bootstrap.run_key == "bootstrap:^GSPC:attempt0"

    _bootstrapped(dagster_instance)
    second = new_ticker_sensor(dg.build_sensor_context(instance=dagster_instance))
    assert sorted((r.job_name, r.partition_key) for r in second.run_requests) == [
        (names.ONBOARD_TICKER_JOB, "AAPL"),
        (names.ONBOARD_TICKER_JOB, "IBM"),
    ]
    assert OnboardingCursor.parse(second.cursor).done == {"^GSPC"}


def test_a_bootstrap_asks_only_for_what_is_missing(dagster_instance) -> None:  # type: ignore[no-untyped-def]
    register_tickers(dagster_instance, OfflineSampleProvider(), ["^GSPC", "AAPL"])
    _report(dagster_instance, FEATURE_DEFINITIONS_KEY)
    _report(dagster_instance, INDICATORS_KEY, "^GSPC")
    (request,) = new_ticker_sensor(dg.build_sensor_context(instance=dagster_instance)).run_requests
    assert [k.to_user_string() for k in request.asset_selection] == [names.PARENT_MODEL]


def test_the_index_is_registered_when_missing(dagster_instance) -> None:  # type: ignore[no-untyped-def]
    register_tickers(dagster_instance, OfflineSampleProvider(), ["AAPL"])
    result = new_ticker_sensor(dg.build_sensor_context(instance=dagster_instance))
    (request,) = result.dynamic_partitions_requests
    assert list(request.partition_keys) == ["^GSPC"] and not result.run_requests


def test_onboarded_tickers_are_never_looked_at_again(dagster_instance) -> None:  # type: ignore[no-untyped-def]
    """A tick with nothing new answers from the cursor: no run or materialization query."""
    register_tickers(dagster_instance, OfflineSampleProvider(), ["^GSPC", "AAPL"])
    _bootstrapped(dagster_instance)
    _report(dagster_instance, FORECAST_KEY, "AAPL")
    result = new_ticker_sensor(dg.build_sensor_context(instance=dagster_instance))
    assert result.run_requests == []
    assert OnboardingCursor.parse(result.cursor).done == {"^GSPC", "AAPL"}

    class CountingInstance:
        """The instance, counting every call the sensor makes on it."""

        def __init__(self) -> None:
            self.calls: list[str] = []

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            self.calls.append(name)
            return getattr(dagster_instance, name)

    counting = CountingInstance()
    ctx = dg.build_sensor_context(cursor=result.cursor)
    ctx._instance = counting  # type: ignore[attr-defined]
    skipped = new_ticker_sensor(ctx)
    assert isinstance(skipped, dg.SkipReason)
    assert "All 2 registered tickers are onboarded" in (skipped.skip_message or "")
    assert counting.calls == ["get_dynamic_partitions"]


def test_nothing_is_requested_while_a_run_writes_the_same_assets(dagster_instance) -> None:  # type: ignore[no-untyped-def]
    """The daily refresh of a ticker (or its onboarding, launched by the API) in progress: the
    sensor waits for it instead of launching a twin."""
    register_tickers(dagster_instance, OfflineSampleProvider(), ["^GSPC", "AAPL"])
    _bootstrapped(dagster_instance)
    dagster_instance.add_run(
        dg.DagsterRun(
            job_name=names.TICKER_REFRESH_JOB,
            run_id="a" * 32,
            status=dg.DagsterRunStatus.STARTED,
            tags={names.PARTITION_TAG: "AAPL"},
        )
    )
    assert onboarding_requests(dagster_instance, OnboardingCursor(), ["^GSPC", "AAPL"]) == []


def test_a_failed_step_is_retried_then_given_up_and_a_new_request_starts_afresh(
    dagster_instance, resources: dict
) -> None:  # type: ignore[no-untyped-def]
    """E.g. `make up` stopped mid-run: the next tick tries again, at most MAX_ATTEMPTS times;
    asking for the ticker again (a new task) gives it new attempts."""
    from stock_assets.definitions import build_definitions

    register_tickers(dagster_instance, OfflineSampleProvider(), ["^GSPC", "AAPL"])
    _bootstrapped(dagster_instance)
    job = build_definitions().resolve_job_def(names.ONBOARD_TICKER_JOB)
    tickers = ["^GSPC", "AAPL"]
    for attempt in range(MAX_ATTEMPTS):
        (request,) = onboarding_requests(dagster_instance, OnboardingCursor(), tickers)
        assert request.run_key == f"onboard:AAPL:attempt{attempt}"
        # No parent bundle on disk: the run really fails, as a killed one would.
        failed = job.execute_in_process(
            partition_key="AAPL",
            instance=dagster_instance,
            resources=resources,
            raise_on_error=False,
        )
        assert not failed.success
    assert onboarding_requests(dagster_instance, OnboardingCursor(), tickers) == []
    task = TaskRecord.new("AAPL", "onboard", steps=("onboard",), driver="sensor")
    store = TaskStore(dagster_instance)
    store.save(task)
    store.set_active(task)
    (again,) = onboarding_requests(dagster_instance, OnboardingCursor(), tickers)
    assert again.run_key == f"onboard:AAPL:{int(task.created_at)}:attempt0"
    assert again.tags[names.TASK_TAG] == task.task_id


def test_a_task_the_api_took_is_launched_by_the_sensor_too_within_its_attempts(
    dagster_instance,  # type: ignore[no-untyped-def]
) -> None:
    """One launch path: no daemon was alive when the API took IBM's task (one attempt: the API
    reports a failure at once). Once a daemon runs, its sensor launches that plan with the same
    function, key and task tag the API would; after the task's one failed attempt, nobody
    launches it again until a new request."""
    register_tickers(dagster_instance, OfflineSampleProvider(), ["^GSPC", "IBM", "GOOG"])
    _bootstrapped(dagster_instance)
    store = TaskStore(dagster_instance)
    task = TaskRecord.new("IBM", "onboard", steps=("onboard",), driver="api")
    store.save(task)
    store.set_active(task)
    requests = onboarding_requests(dagster_instance, OnboardingCursor(), ["IBM", "GOOG"])
    assert [r.partition_key for r in requests] == ["IBM", "GOOG"]
    ibm = requests[0]
    assert ibm.run_key == f"onboard:IBM:{int(task.created_at)}:attempt0"
    assert (ibm.tags[names.TASK_TAG], ibm.tags[names.TICKER_TAG]) == (task.task_id, "IBM")
    assert names.TASK_TAG not in requests[1].tags  # GOOG: registered, nobody asked for it

    dagster_instance.add_run(
        dg.DagsterRun(
            job_name=names.ONBOARD_TICKER_JOB,
            run_id=str(uuid.uuid4()),
            status=dg.DagsterRunStatus.FAILURE,
            tags={names.PARTITION_TAG: "IBM"},
        )
    )
    after = onboarding_requests(dagster_instance, OnboardingCursor(), ["IBM", "GOOG"])
    assert [r.partition_key for r in after] == ["GOOG"]


def test_daily_schedule_requests_every_registered_ticker_in_batches(
    dagster_instance, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from stock_assets.defs.assets.models import CHILD_KEY

    tickers = ["AAPL", "GOOG", "IBM", "MSFT", "^GSPC"]
    register_tickers(dagster_instance, OfflineSampleProvider(), tickers)
    dagster_instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=CHILD_KEY, partition="AAPL")
    )
    when = dt.datetime(2026, 11, 24, 17, 30, tzinfo=dt.UTC)
    ctx = dg.build_schedule_context(instance=dagster_instance, scheduled_execution_time=when)

    def batches(size: int, spread: int) -> list[dict]:
        monkeypatch.setenv("STOCKOPS_RUN_BATCH_SIZE", str(size))
        monkeypatch.setenv("STOCKOPS_RUN_BATCH_SPREAD", str(spread))
        get_settings.cache_clear()
        requests = list(daily_refresh_schedule(ctx))
        assert all(r.job_name == names.TICKER_BATCH_JOB for r in requests)
        assert [r.run_key for r in requests] == [
            f"daily:2026-11-24:{n}" for n in range(len(requests))
        ]
        assert all(r.tags[names.TRIGGER_TAG] == names.DAILY_TRIGGER for r in requests)
        return [r.run_config["ops"][BATCH_OP]["config"] for r in requests]

    # One batch run holds them all; only AAPL has a model: the others refresh their data only.
    (only,) = batches(size=50, spread=1)
    assert sorted(only["tickers"]) == sorted(tickers) and only["job"] == names.TICKER_REFRESH_JOB
    assert sorted(only["data_only"]) == sorted(set(tickers) - {"AAPL"})
    # At most two per batch: three batches, every ticker in exactly one.
    small = batches(size=2, spread=1)
    assert sorted(len(b["tickers"]) for b in small) == [1, 2, 2]
    assert sorted(t for b in small for t in b["tickers"]) == sorted(tickers)
    # Spread over the two runs that execute at once, as even as can be.
    assert [len(b["tickers"]) for b in batches(size=50, spread=2)] == [2, 3]
    get_settings.cache_clear()
    assert daily_refresh_schedule.execution_timezone == "America/New_York"


def test_register_ticker_job_from_the_launchpad(dagster_instance, resources: dict) -> None:  # type: ignore[no-untyped-def]
    config = {"ops": {"register_ticker_op": {"config": {"tickers": ["GOOG"]}}}}
    ok = register_ticker.execute_in_process(
        run_config=config,
        instance=dagster_instance,
        resources={"market_data": resources["market_data"]},
    )
    assert ok.success and registered_tickers(dagster_instance) == ["GOOG"]
    bad = register_ticker.execute_in_process(
        run_config={"ops": {"register_ticker_op": {"config": {"tickers": ["NOPE"]}}}},
        instance=dagster_instance,
        resources={"market_data": resources["market_data"]},
        raise_on_error=False,
    )
    assert not bad.success
    assert "does not know NOPE" in str(
        bad.failure_data_for_node("register_ticker_op").user_failure_data.description
    )


def test_cli_adds_lists_and_rejects(
    capsys: pytest.CaptureFixture[str], monkeypatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from stock_assets.settings import get_settings

    monkeypatch.setenv("STOCKOPS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    try:
        assert cli_main(["init"]) == 0
        assert (tmp_path / "home" / "dagster.yaml").exists()
        assert cli_main(["tickers", "add", "--defaults"]) == 0
        assert cli_main(["tickers", "add", "../etc"]) == 2
        assert "not a valid symbol" in capsys.readouterr().err
        assert cli_main(["tickers", "list"]) == 0
        assert capsys.readouterr().out.split() == ["^GSPC", "AAPL", "MSFT", "IBM", "GOOG"]
    finally:
        get_settings.cache_clear()


def test_training_steps_wait_for_room_in_one_concurrency_pool(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every step that trains is in the `training` pool, and the instance `make up` writes
    enforces the pool's limit at run granularity (the run queue holds the runs beyond it)."""
    import shutil
    from pathlib import Path

    from dagster._core.instance.config import PoolGranularity

    from stock_assets.definitions import defs
    from stock_assets.names import TRAINING_POOL

    pooled = {a.key.to_user_string() for a in defs.assets if a.op.pool == TRAINING_POOL}
    assert pooled == {names.PARENT_MODEL, names.CHILD_MODEL, names.BACKTEST}
    shutil.copy(Path(__file__).parents[2] / "config" / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        pools = instance.get_concurrency_config().pool_config
        assert pools.pool_granularity == PoolGranularity.RUN
        assert pools.default_pool_limit == 2
