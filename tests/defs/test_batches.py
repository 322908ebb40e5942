"""The daily refresh in batch runs, on a real Dagster instance: each ticker keeps a run of its
own (partition, materializations, checks), and a ticker with bad data fails alone, with its
reason, while the rest of its batch finishes.

Both storages a Dagster instance has here: SQLite (``make up``) and PostgreSQL (production; a
batch keeps its connections open there). Market data comes from the ``files`` provider over a
folder of the real sample history; one ticker's file has rows whose high is below the open (a
vendor's broken rows).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from devkit.platform import BatchOutcome, TinyPlatform, tiny_platform
from devkit.series import write_market_folder
from devkit.servers import REPO, postgres_storage, scratch_database
from stock_assets import names
from stock_assets.defs.assets.features import FEATURE_DEFINITIONS_KEY
from stock_assets.defs.assets.market import INDICATORS_KEY, OHLCV_KEY
from stock_assets.defs.batches import batches
from stock_assets.defs.schedules import daily_refresh_schedule
from stock_assets.domain.market_data import OfflineSampleProvider
from stock_assets.domain.symbols import ticker_slug
from stock_assets.settings import get_settings

GOOD = ["^GSPC", "MSFT", "IBM"]
BAD = "BROKE"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database on the local PostgreSQL for this session. Dropped only when the session ends:
    Dagster keeps the last opened instance's state storage as the process's current one, and the
    definitions resolved later in the process read it."""
    with scratch_database("stockops_batches") as database:
        yield database


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def refreshed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TinyPlatform, BatchOutcome]]:
    """The daily refresh of four tickers in one batch, on an instance with SQLite storage (`make
    up`'s) and one with PostgreSQL storage (production's; the local server)."""
    home = None
    if request.param == "postgres":
        database = request.getfixturevalue("postgres_database")
        home = tmp_path_factory.mktemp("dagster-home")
        instance_file = (REPO / "config" / "dagster.yaml").read_text()
        (home / "dagster.yaml").write_text(instance_file + postgres_storage(database))
    # On PostgreSQL, as a pod would: the batch shares its tickers with a second process.
    workers = 2 if request.param == "postgres" else 1
    yield from _refreshed(tmp_path_factory.mktemp("batches"), home, workers)


def _refreshed(
    root: Path, dagster_home: Path | None, workers: int
) -> Iterator[tuple[TinyPlatform, BatchOutcome]]:
    sample = OfflineSampleProvider()
    histories = {t: sample.fetch(t).tail(400).reset_index(drop=True) for t in GOOD}
    broken = histories["IBM"].copy()
    broken.loc[broken.index[-3:], "high"] = broken["open"] * 0.9
    folder = write_market_folder(root / "market", {**histories, BAD: broken})
    env = {
        "STOCKOPS_DATA_DIR": str(root / "data"),
        "STOCKOPS_MARKET_DATA_PROVIDER": "files",
        "STOCKOPS_MARKET_DATA_DIR": str(folder),
        "STOCKOPS_RUN_BATCH_SPREAD": "1",  # all four tickers in one batch run
        "STOCKOPS_RUN_BATCH_WORKERS": str(workers),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        with tiny_platform(root, settings=get_settings(), dagster_home=dagster_home) as platform:
            platform.register(*GOOD, BAD)
            platform.must([FEATURE_DEFINITIONS_KEY])
            when = dt.datetime(2026, 11, 24, 17, 30, tzinfo=dt.UTC)
            context = dg.build_schedule_context(
                instance=platform.instance, scheduled_execution_time=when
            )
            (request,) = daily_refresh_schedule(context)
            yield platform, platform.run_batch(request)
    get_settings.cache_clear()


def test_every_ticker_ran_as_a_run_of_its_own_inside_the_batch(
    refreshed: tuple[TinyPlatform, BatchOutcome],
) -> None:
    platform, batch = refreshed
    assert sorted(batch.runs) == sorted([*GOOD, BAD])
    for ticker, run in batch.runs.items():
        assert run.run.job_name == names.TICKER_REFRESH_JOB
        assert run.run.tags[names.TRIGGER_TAG] == names.DAILY_TRIGGER
        assert run.run.tags[names.BATCH_TAG] == batch.result.run_id
        planned = {e.asset_key for e in run.all_events if e.is_asset_materialization_planned}
        assert planned == {OHLCV_KEY, INDICATORS_KEY, dg.AssetKey(names.ONLINE_FEATURES)}, ticker
    assert batch.result.success is False  # BROKE failed (below)
    # Every ticker's run executed in the batch's process, or shared with a spawned worker.
    processes = {e.pid for run in batch.runs.values() for e in run.all_events} - {None}
    (own,) = {e.pid for e in batch.result.all_events} - {None}
    assert len(processes) == platform.settings.run_batch_workers and own in processes
    # One run for the batch, one per ticker: what a launcher started is the batch alone.
    batch_runs = platform.instance.get_runs(dg.RunsFilter(job_name=names.TICKER_BATCH_JOB))
    assert [r.run_id for r in batch_runs] == [batch.result.run_id]


def test_each_good_ticker_has_its_materializations_and_checks_per_partition(
    refreshed: tuple[TinyPlatform, BatchOutcome],
) -> None:
    platform, batch = refreshed
    for ticker in GOOD:
        run = batch.runs[ticker]
        assert run.success, ticker
        materialized = {
            e.asset_key: e.event_specific_data.materialization
            for e in run.get_asset_materialization_events()
        }
        assert set(materialized) == {OHLCV_KEY, INDICATORS_KEY, dg.AssetKey(names.ONLINE_FEATURES)}
        assert all(m.partition == ticker for m in materialized.values())
        assert materialized[OHLCV_KEY].metadata["dagster/row_count"].value == 400
        checks = {e.check_name: e.passed for e in run.get_asset_check_evaluations()}
        assert checks["ohlc_consistency"] and checks["no_nan_after_warmup"], checks
        stored = platform.settings.tables_dir / names.INDICATORS / f"{ticker_slug(ticker)}.parquet"
        assert len(pd.read_parquet(stored)) == 400


def test_the_bad_ticker_fails_alone_with_its_reason(
    refreshed: tuple[TinyPlatform, BatchOutcome],
) -> None:
    platform, batch = refreshed
    run = batch.runs[BAD]
    assert not run.success
    checks = {e.check_name: e for e in run.get_asset_check_evaluations()}
    assert not checks["ohlc_consistency"].passed
    # The blocking check stopped it before its indicators: nothing downstream was written.
    assert not [e for e in run.get_asset_materialization_events() if e.asset_key != OHLCV_KEY]
    assert not (platform.settings.tables_dir / names.INDICATORS / f"{BAD}.parquet").exists()
    # The batch run says which ticker failed and why, after the others finished.
    assert not batch.result.success
    (failure,) = [e for e in batch.result.all_events if e.event_type_value == "STEP_FAILURE"]
    said = failure.event_specific_data.user_failure_data
    assert said.description.startswith("1 of 4 tickers failed (the others finished): BROKE: ")
    # In the check's own words, not only Dagster's "1 blocking asset check failed".
    assert "ohlcv check ohlc_consistency failed: 3 row(s) break OHLC ordering" in said.description
    assert said.metadata["failed"].value == 1 and said.metadata["tickers"].value == 4


def test_a_ticker_retraining_sits_the_batch_out(
    refreshed: tuple[TinyPlatform, BatchOutcome],
) -> None:
    """Its training run writes the same forecast: the batch leaves it alone (said so in the
    batch's table) and refreshes the others."""
    platform, _ = refreshed
    instance = platform.instance
    training = dg.DagsterRun(
        job_name=names.TICKER_TRAINING_JOB,
        run_id=str(uuid.uuid4()),
        status=dg.DagsterRunStatus.STARTED,
        tags={names.PARTITION_TAG: "MSFT"},
    )
    instance.add_run(training)
    try:
        when = dt.datetime(2026, 11, 25, 17, 30, tzinfo=dt.UTC)
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
        (request,) = daily_refresh_schedule(context)
        again = platform.run_batch(request)
        assert "MSFT" not in again.runs and {"^GSPC", "IBM"} <= set(again.runs)
        # BROKE fails again, so the batch ends in its failure, with the table.
        (failure,) = [e for e in again.result.all_events if e.event_type_value == "STEP_FAILURE"]
        table = failure.event_specific_data.user_failure_data.metadata["runs"].value
        assert "| MSFT | skipped |" in table and "retraining" in table
    finally:
        instance.report_run_canceled(training)


def test_batches_split_evenly_and_keep_each_ticker_once() -> None:
    tickers = [f"T{i}" for i in range(7)]
    assert batches([], 3) == []
    assert batches(tickers, 50) == [tickers]
    assert [len(b) for b in batches(tickers, 3)] == [2, 3, 2]
    assert [len(b) for b in batches(tickers, 50, spread=2)] == [4, 3]
    assert batches(["A", "B"], 50, spread=4) == [["A"], ["B"]]
    assert batches(["A", "B", "A"], 1) == [["A"], ["B"]]
    assert [t for b in batches(tickers, 2, spread=3) for t in b] == tickers
    # A multiple of the spread: slots finish together instead of one batch running alone.
    assert sorted(len(b) for b in batches(tickers, 3, spread=2)) == [1, 2, 2, 2]
    assert len(batches([f"T{i}" for i in range(501)], 250, spread=2)) == 4
    assert len(batches([f"T{i}" for i in range(5000)], 250, spread=2)) == 20
