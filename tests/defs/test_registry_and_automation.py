"""Ticker registration, the new-ticker sensor, the daily schedule and the CLI."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from stock_assets.cli import main as cli_main
from stock_assets.defs.assets.features import feature_definitions
from stock_assets.defs.automation import (
    DATA_ASSETS,
    OnboardingCursor,
    daily_refresh_schedule,
    new_ticker_sensor,
    onboarding_requests,
    register_ticker,
)
from stock_assets.defs.registry import register_tickers, registered_tickers, unregister_ticker
from stock_assets.domain.market_data import OfflineSampleProvider, UnknownTickerError
from stock_assets.domain.symbols import InvalidTickerError


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


def test_new_ticker_sensor_applies_feast_first_then_one_run_per_new_ticker(
    dagster_instance, resources: dict
) -> None:  # type: ignore[no-untyped-def]
    register_tickers(dagster_instance, OfflineSampleProvider(), ["AAPL", "IBM"])
    first = new_ticker_sensor(dg.build_sensor_context(instance=dagster_instance))
    assert [r.job_name for r in first.run_requests] == ["apply_feature_definitions"]

    dg.materialize([feature_definitions], instance=dagster_instance, resources=resources)
    result = new_ticker_sensor(dg.build_sensor_context(instance=dagster_instance))
    assert sorted(r.partition_key for r in result.run_requests) == ["AAPL", "IBM"]
    assert {r.job_name for r in result.run_requests} == {"ticker_data"}

    register_tickers(dagster_instance, OfflineSampleProvider(), ["MSFT"])
    again = new_ticker_sensor(
        dg.build_sensor_context(instance=dagster_instance, cursor=result.cursor)
    )
    assert [r.partition_key for r in again.run_requests] == ["MSFT"]
    # The cursor of the earlier form (a comma-separated list of requested tickers) still reads.
    legacy = new_ticker_sensor(dg.build_sensor_context(instance=dagster_instance, cursor="AAPL"))
    assert sorted(r.partition_key for r in legacy.run_requests) == ["IBM", "MSFT"]


def test_onboarded_tickers_are_never_looked_at_again(dagster_instance, resources: dict) -> None:  # type: ignore[no-untyped-def]
    """A tick with nothing new answers from the cursor: no run or materialization query."""
    from stock_assets.defs.assets.market import INDICATORS_KEY
    from stock_assets.defs.assets.models import CHILD_KEY, PARENT_KEY

    register_tickers(dagster_instance, OfflineSampleProvider(), ["^GSPC", "AAPL"])
    dg.materialize([feature_definitions], instance=dagster_instance, resources=resources)
    for key, partition in (
        (INDICATORS_KEY, "^GSPC"),
        (INDICATORS_KEY, "AAPL"),
        (PARENT_KEY, None),
        (CHILD_KEY, "AAPL"),
    ):
        dagster_instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=key, partition=partition)
        )
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


def test_onboarding_trains_parent_then_children_once(dagster_instance, resources: dict) -> None:  # type: ignore[no-untyped-def]
    """Index data present -> parent requested; parent present -> one training run per stock."""
    from stock_assets.defs.assets.market import INDICATORS_KEY
    from stock_assets.defs.assets.models import CHILD_KEY, PARENT_KEY

    register_tickers(dagster_instance, OfflineSampleProvider(), ["^GSPC", "AAPL"])
    dg.materialize([feature_definitions], instance=dagster_instance, resources=resources)
    tickers = ["^GSPC", "AAPL"]

    def plan() -> list[dg.RunRequest]:
        return onboarding_requests(
            dagster_instance, OnboardingCursor(requested=set(tickers)), tickers, "^GSPC"
        )

    def report(key: dg.AssetKey, partition: str | None = None) -> None:
        dagster_instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=key, partition=partition)
        )

    assert plan() == []  # no index data yet
    report(INDICATORS_KEY, "^GSPC")
    report(INDICATORS_KEY, "AAPL")
    assert [r.job_name for r in plan()] == ["parent_training"]
    report(PARENT_KEY)
    training = plan()
    assert [(r.job_name, r.partition_key, r.run_key) for r in training] == [
        ("ticker_training", "AAPL", "train:AAPL:attempt0")
    ]
    report(CHILD_KEY, "AAPL")
    assert plan() == []


def test_daily_schedule_requests_every_registered_ticker(dagster_instance) -> None:  # type: ignore[no-untyped-def]
    from stock_assets.defs.assets.models import CHILD_KEY

    register_tickers(dagster_instance, OfflineSampleProvider(), ["AAPL", "^GSPC"])
    dagster_instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=CHILD_KEY, partition="AAPL")
    )
    when = dt.datetime(2026, 11, 24, 17, 30, tzinfo=dt.UTC)
    ctx = dg.build_schedule_context(instance=dagster_instance, scheduled_execution_time=when)
    requests = {r.partition_key: r for r in daily_refresh_schedule(ctx)}
    assert sorted(requests) == ["AAPL", "^GSPC"]
    assert all(r.run_key.startswith("daily:2026-11-24:") for r in requests.values())
    assert requests["AAPL"].asset_selection is None  # data, features and forecast
    assert list(requests["^GSPC"].asset_selection) == DATA_ASSETS  # no model: data only
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


def test_a_failed_training_run_is_retried_with_a_new_key(dagster_instance, resources: dict) -> None:  # type: ignore[no-untyped-def]
    """E.g. `make up` stopped mid-training: the next start must not leave the child untrained."""
    from stock_assets.definitions import ASSETS
    from stock_assets.defs.assets.market import INDICATORS_KEY
    from stock_assets.defs.assets.models import PARENT_KEY
    from stock_assets.defs.automation import MAX_ATTEMPTS, ticker_training_job

    register_tickers(dagster_instance, OfflineSampleProvider(), ["^GSPC", "AAPL"])
    dg.materialize([feature_definitions], instance=dagster_instance, resources=resources)
    for key, partition in ((INDICATORS_KEY, "^GSPC"), (INDICATORS_KEY, "AAPL"), (PARENT_KEY, None)):
        dagster_instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=key, partition=partition)
        )
    job = dg.Definitions(assets=ASSETS, jobs=[ticker_training_job], resources=resources)
    for attempt in range(MAX_ATTEMPTS):
        (request,) = onboarding_requests(
            dagster_instance, OnboardingCursor({"^GSPC", "AAPL"}), ["^GSPC", "AAPL"], "^GSPC"
        )
        assert request.run_key == f"train:AAPL:attempt{attempt}"
        # No parent bundle on disk: the run really fails, as a killed one would.
        failed = job.resolve_job_def("ticker_training").execute_in_process(
            partition_key="AAPL", instance=dagster_instance, raise_on_error=False
        )
        assert not failed.success
    assert (
        onboarding_requests(
            dagster_instance, OnboardingCursor({"^GSPC", "AAPL"}), ["^GSPC", "AAPL"], "^GSPC"
        )
        == []
    )


def test_sensor_leaves_tickers_the_api_onboards_alone(dagster_instance, resources: dict) -> None:  # type: ignore[no-untyped-def]
    from stock_assets.definitions import ASSETS
    from stock_assets.defs.partitions import TICKER_TAG

    register_tickers(dagster_instance, OfflineSampleProvider(), ["IBM", "GOOG"])
    dg.materialize([feature_definitions], instance=dagster_instance, resources=resources)
    # A run the API launched for IBM (tagged with the ticker) marks IBM as the API's to onboard.
    dg.materialize(
        ASSETS,
        selection=["ohlcv"],
        partition_key="IBM",
        instance=dagster_instance,
        resources=resources,
        tags={TICKER_TAG: "IBM"},
    )
    requests = onboarding_requests(dagster_instance, OnboardingCursor(), ["IBM", "GOOG"], "^GSPC")
    assert [r.partition_key for r in requests] == ["GOOG"]


def test_training_steps_wait_for_room_in_one_concurrency_pool(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every step that trains is in the `training` pool, and the instance `make up` writes
    enforces the pool's limit at run granularity (the run queue holds the runs beyond it)."""
    import shutil
    from pathlib import Path

    from dagster._core.instance.config import PoolGranularity

    from stock_assets.definitions import ASSETS
    from stock_assets.defs.partitions import TRAINING_POOL

    pooled = {a.key.to_user_string() for a in ASSETS if a.op.pool == TRAINING_POOL}
    assert pooled == {"parent_model", "child_model", "backtest"}
    shutil.copy(Path(__file__).parents[2] / "config" / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        pools = instance.get_concurrency_config().pool_config
        assert pools.pool_granularity == PoolGranularity.RUN
        assert pools.default_pool_limit == 2
