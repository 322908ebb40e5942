"""The MLOps loop end to end, offline: a replay of autumn 2008 through real Dagster assets.

The replay sensor advances the market one NYSE session per tick; each requested run is executed
in process on a temporary Dagster instance (what the daemon would launch), with a real MLflow
store, a real Feast repo and small model sizes. Forecasts are archived, scored only once they
mature, drift or decay is detected as the crisis unfolds, the retrain sensor trains a challenger,
and the promotion policy's decision is recorded in Dagster and MLflow. Market data comes from
the ``files`` provider over a folder holding the real sample history of AAPL and the index.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from devkit.platform import TickerRun, TinyPlatform, tiny_platform
from devkit.series import write_market_folder
from devkit.sizes import TINY_BACKTEST
from stock_assets import names
from stock_assets.defs.assets.evaluation import CHAMPION_KEY
from stock_assets.defs.assets.live import (
    FORECAST_ARCHIVE_KEY,
    LIVE_SKILL_CHECK,
    LIVE_SKILL_KEY,
)
from stock_assets.defs.assets.monitoring import DRIFT_CHECK, DRIFT_KEY
from stock_assets.defs.batches import BATCH_OP
from stock_assets.defs.jobs import REFRESH_ASSETS as REFRESH
from stock_assets.defs.jobs import TRAINING_ASSETS
from stock_assets.defs.sensors.replay import market_replay_sensor
from stock_assets.defs.sensors.retrain import retrain_sensor
from stock_assets.domain.calendar import session_number
from stock_assets.domain.market_data import OfflineSampleProvider
from stock_assets.domain.market_data.replay import read_clock, start_clock, write_clock
from stock_assets.domain.ml.live import served_forecasts
from stock_assets.domain.symbols import ticker_slug
from stock_assets.names import TRIGGER_TAG
from stock_assets.settings import Settings, get_settings

pytestmark = pytest.mark.slow

TICKER, INDEX = "AAPL", "^GSPC"
FIRST, LAST = "2003-06-02", "2008-12-31"
START = "2008-09-02"
TICKS = 18  # one session each
WEEKLY_TICKS = 2  # then five sessions each: the archive forecasts the sessions in between
COOLDOWN = 6
SESSIONS = TICKS + 5 * WEEKLY_TICKS
SMALL = {
    names.BACKTEST: {"config": {**TINY_BACKTEST, "test_years": 1.0}},
    names.DRIFT_REPORT: {"config": {"current_rows": 20}},
}


@dataclass
class Replay:
    platform: TinyPlatform
    folder: Path
    retrain_cursor: str | None = None
    requests: list[dg.RunRequest] = field(default_factory=list)
    retrains: list[tuple[str, dg.RunRequest]] = field(default_factory=list)  # (as_of, request)
    matured_seen: list[tuple[int, int]] = field(default_factory=list)  # (metadata, expected)
    failed_checks: set[str] = field(default_factory=set)
    drift_passed: list[bool] = field(default_factory=list)  # AAPL's drift check, per tick
    retrain_ticks: list[int] = field(default_factory=list)
    batches: list[list[str]] = field(default_factory=list)  # each batch run's tickers

    def execute(
        self, request: dg.RunRequest, job_assets: list[dg.AssetKey] | None = None
    ) -> dg.ExecuteInProcessResult:
        """Run what a sensor requested, in process (what the daemon would launch)."""
        keys = request.asset_selection or job_assets or []
        result = self.platform.must(list(keys), request.partition_key, tags=request.tags)
        self.note_checks(result)
        return result

    def note_checks(self, result: dg.ExecuteInProcessResult | TickerRun) -> None:
        for evaluation in result.get_asset_check_evaluations():
            if not evaluation.passed:
                self.failed_checks.add(evaluation.check_name)

    @property
    def instance(self) -> dg.DagsterInstance:
        return self.platform.instance

    @property
    def settings(self) -> Settings:
        return self.platform.settings

    def tick(self) -> str:
        """One replay tick and what it triggers; returns the new as-of session."""
        outcome = market_replay_sensor(dg.build_sensor_context(instance=self.instance))
        assert isinstance(outcome, dg.SensorResult), outcome
        as_of = read_clock(self.settings.replay_clock_path).as_of
        assert outcome.cursor == as_of
        for request in outcome.run_requests or []:
            assert request.job_name == names.TICKER_BATCH_JOB
            assert request.tags[names.AS_OF_TAG] == as_of
            batch = self.platform.run_batch(request)
            assert batch.result.success, batch.result.all_events
            self.batches.append(sorted(batch.runs))
            for run in batch.runs.values():
                # Each ticker's own run, tagged like the batch, with its own checks.
                assert run.success and run.run.tags[names.AS_OF_TAG] == as_of
                self.note_checks(run)
            result = batch.runs[TICKER]
            self.note_matured(result, as_of)
            self.drift_passed += [
                e.passed
                for e in result.get_asset_check_evaluations()
                if e.check_name == DRIFT_CHECK
            ]
        self.retrain()
        return as_of

    def retrain(self) -> None:
        context = dg.build_sensor_context(instance=self.instance, cursor=self.retrain_cursor)
        outcome = retrain_sensor(context)
        self.retrain_cursor = outcome.cursor
        for request in outcome.run_requests or []:
            as_of = read_clock(self.settings.replay_clock_path).as_of
            self.retrains.append((as_of, request))
            self.retrain_ticks.append(len(self.drift_passed))
            self.execute(request, TRAINING_ASSETS)

    def note_matured(self, result: TickerRun, as_of: str) -> None:
        """The scored count must be exactly the archived forecasts whose target has arrived."""
        (event,) = [
            m for m in result.get_asset_materialization_events() if m.asset_key == LIVE_SKILL_KEY
        ]
        metadata = event.materialization.metadata
        archive = self.table(FORECAST_ARCHIVE_KEY.path[0])
        expected = int((served_forecasts(archive)["date"] <= pd.Timestamp(as_of)).sum())
        self.matured_seen.append((int(metadata["matured_forecasts"].value), expected))

    def table(self, asset: str, ticker: str = TICKER) -> pd.DataFrame:
        return pd.read_parquet(self.settings.tables_dir / asset / f"{ticker_slug(ticker)}.parquet")


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replay]:
    root = tmp_path_factory.mktemp("replay")
    sample = OfflineSampleProvider()
    histories = {t: sample.fetch(t) for t in (INDEX, TICKER)}
    histories = {t: h[h["date"].between(FIRST, LAST)] for t, h in histories.items()}
    folder = write_market_folder(root / "market", histories)
    (root / "dagster").mkdir()
    env = {
        "STOCKOPS_DATA_DIR": str(root / "data"),
        "STOCKOPS_REPLAY_START": START,
        "STOCKOPS_MARKET_DATA_PROVIDER": "files",
        "STOCKOPS_MARKET_DATA_DIR": str(folder),
        "STOCKOPS_DECAY_MIN_FORECASTS": "10",
        "STOCKOPS_RETRAIN_COOLDOWN_SESSIONS": str(COOLDOWN),
        # Both tickers in one batch run per tick (the default spreads two tickers over two).
        "STOCKOPS_RUN_BATCH_SPREAD": "1",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        settings = get_settings()
        start_clock(settings.replay_clock_path, START)
        # The settings' resources: the files provider, wrapped by the replay clock.
        with tiny_platform(root, settings=settings, config=SMALL) as platform:
            r = Replay(platform, folder)
            platform.bootstrap()
            platform.onboard(TICKER, through=[*TRAINING_ASSETS, DRIFT_KEY])
            r.retrain()  # sees the onboarding's evaluations: nothing to do
            assert r.retrains == []
            for _ in range(TICKS):
                r.tick()
            patch.setenv("STOCKOPS_REPLAY_SESSIONS_PER_TICK", "5")
            get_settings.cache_clear()
            for _ in range(WEEKLY_TICKS):
                r.tick()
            yield r
    get_settings.cache_clear()


def test_the_clock_moved_one_session_per_tick_and_nothing_saw_past_it(replay: Replay) -> None:
    clock = read_clock(replay.settings.replay_clock_path)
    assert clock.ticks == TICKS + WEEKLY_TICKS
    assert session_number(clock.as_of) - session_number(START) == SESSIONS
    for asset in (names.OHLCV, names.INDICATORS):
        for ticker in (INDEX, TICKER):
            assert pd.to_datetime(replay.table(asset, ticker)["date"]).max() == pd.Timestamp(
                clock.as_of
            )
    archive = replay.table(names.FORECAST_ARCHIVE)
    assert pd.to_datetime(archive["as_of"]).max() == pd.Timestamp(clock.as_of)


def test_each_tick_refreshed_every_ticker_in_a_run_of_its_own_inside_one_batch(
    replay: Replay,
) -> None:
    assert replay.batches == [sorted([INDEX, TICKER])] * (TICKS + WEEKLY_TICKS)
    refreshes = replay.instance.get_runs(dg.RunsFilter(job_name=names.TICKER_REFRESH_JOB))
    batches = replay.instance.get_runs(dg.RunsFilter(job_name=names.TICKER_BATCH_JOB))
    assert len(batches) == TICKS + WEEKLY_TICKS
    assert len(refreshes) == 2 * len(batches)
    assert {r.tags[names.BATCH_TAG] for r in refreshes} == {b.run_id for b in batches}


def test_every_session_is_archived_with_the_model_that_made_it(replay: Replay) -> None:
    archive = replay.table(names.FORECAST_ARCHIVE)
    # The onboarding forecast, then one per session, those between weekly ticks caught up.
    assert archive["as_of"].nunique() == SESSIONS + 1
    caught_up = archive[archive["caught_up"].astype(bool)]
    assert caught_up["as_of"].nunique() == WEEKLY_TICKS * 4 and len(caught_up) % 7 == 0
    assert not archive.duplicated(["as_of", "horizon", "bundle_version"]).any()
    assert archive.groupby(["as_of", "bundle_version"]).size().eq(7).all()
    assert archive["bundle_version"].notna().all() and archive["model"].notna().all()


def test_forecasts_are_scored_only_once_they_mature(replay: Replay) -> None:
    assert len(replay.matured_seen) == TICKS + WEEKLY_TICKS
    for reported, expected in replay.matured_seen:
        assert reported == expected
    # The first tick: only the onboarding forecast's h=1 target has arrived.
    assert replay.matured_seen[0] == (1, 1)
    live = replay.table(names.LIVE_SKILL)
    overall = live[live["window"] == 0].set_index("horizon")
    assert overall.loc[1, "n"] == SESSIONS  # one h=1 forecast per session before the last
    assert overall.loc[7, "n"] == SESSIONS + 1 - 7


def test_the_crisis_triggers_a_challenger_and_the_decision_is_recorded(replay: Replay) -> None:
    assert replay.failed_checks & {DRIFT_CHECK, LIVE_SKILL_CHECK}, "neither drift nor decay"
    assert replay.retrains, "no challenger was trained"
    triggers = {request.tags[TRIGGER_TAG] for _, request in replay.retrains}
    assert triggers <= {"drift", "decay", "decay+drift"}
    # The decision adopts the regime it validated as the drift reference: the drift check of the
    # next session passes, which closes the drift episode.
    after = [replay.drift_passed[i] for i in replay.retrain_ticks if i < len(replay.drift_passed)]
    assert after and all(after), (replay.retrain_ticks, replay.drift_passed)
    # Cool-down in market sessions between two retrains of the ticker.
    sessions = [session_number(as_of) for as_of, _ in replay.retrains]
    assert all(b - a >= COOLDOWN for a, b in itertools.pairwise(sessions))
    # Dagster: the champion decision made by the retrain run says what triggered it.
    run_id = replay.instance.get_runs(
        dg.RunsFilter(tags={TRIGGER_TAG: replay.retrains[0][1].tags[TRIGGER_TAG]})
    )[-1].run_id
    records = replay.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=CHAMPION_KEY, asset_partitions=[TICKER]), limit=10
    ).records
    (decision,) = [r for r in records if r.run_id == run_id]
    metadata = decision.asset_materialization.metadata  # type: ignore[union-attr]
    assert metadata["trigger"].value in triggers
    assert metadata["outcome"].value in {"promote", "keep", "serve_baseline"}
    # MLflow: the decision run carries the same trigger and outcome.
    tracker = replay.platform.tracker
    logged = [d for d in tracker.decisions(TICKER) if d["trigger"] in triggers]
    assert logged and logged[-1]["outcome"] == metadata["outcome"].value


def test_no_asset_reads_a_row_after_the_as_of_session(replay: Replay) -> None:
    """Poison every row after the as-of session and refresh again at the same session: the
    indicators and the forecast come out identical, so nothing read the future."""
    as_of = pd.Timestamp(read_clock(replay.settings.replay_clock_path).as_of)
    before = replay.table(names.INDICATORS)
    forecast_before = replay.table(names.FORECAST)
    for ticker in (INDEX, TICKER):
        path = replay.folder / f"{ticker_slug(ticker)}.parquet"
        frame = pd.read_parquet(path)
        future = frame["date"] > as_of
        assert future.sum() > 20
        for column in ("open", "high", "low", "close"):
            frame.loc[future, column] *= 3.0
        frame.loc[future, "volume"] *= 50.0
        frame.to_parquet(path, index=False)
    request = dg.RunRequest(partition_key=TICKER)
    replay.execute(request, REFRESH)
    pd.testing.assert_frame_equal(replay.table(names.INDICATORS), before)
    pd.testing.assert_frame_equal(replay.table(names.FORECAST), forecast_before)


def test_the_replay_stops_at_the_end_of_the_data(replay: Replay) -> None:
    clock = read_clock(replay.settings.replay_clock_path)
    write_clock(replay.settings.replay_clock_path, type(clock)(LAST, clock.start, clock.ticks))
    try:
        outcome = market_replay_sensor(dg.build_sensor_context(instance=replay.instance))
        assert isinstance(outcome, dg.SkipReason)
        assert "end of the data" in (outcome.skip_message or "")
    finally:
        write_clock(replay.settings.replay_clock_path, clock)


def test_live_skill_is_served_by_the_api_and_exported_to_prometheus(replay: Replay) -> None:
    from fastapi.testclient import TestClient

    from serving_api.app import create_app

    settings = replay.settings.model_copy(update={"redis_key_prefix": "stockops:test:replay:"})
    with TestClient(create_app(settings, instance=replay.instance)) as client:
        model = client.get("/models/AAPL")
        assert model.status_code == 200, model.text
        live = model.json()["live"]
        overall = {h["horizon"]: h for h in live["horizons"] if h["window"] == 0}
        assert set(overall) == set(range(1, 8))
        assert live["matured"] == overall[1]["n"] > 0
        assert live["served_bundle"]
        assert 0.0 <= overall[1]["coverage"] <= 1.0 and overall[1]["relative_mae"] > 0
        assert any(
            d["trigger"] in {"drift", "decay", "decay+drift"} for d in model.json()["decisions"]
        )
        metrics = client.get("/metrics").text
    assert 'stockops_live_relative_mae{horizon="1",ticker="AAPL",window="20"}' in metrics
    assert 'stockops_live_coverage{horizon="7",ticker="AAPL",window="all"}' in metrics
    assert 'stockops_live_skill_decayed{ticker="AAPL"}' in metrics
    assert 'stockops_live_matured_forecasts{ticker="AAPL"}' in metrics


def test_a_tick_waits_for_the_previous_runs_but_not_for_a_retrain(replay: Replay) -> None:
    """A run of the previous session holds the clock; a ticker's retrain does not: that ticker
    sits the tick out (its next refresh catches up) and the others go on."""
    path = replay.settings.replay_clock_path
    clock = read_clock(path)
    instance = replay.instance

    def in_progress(job: str, partition: str | None = None) -> dg.DagsterRun:
        run = dg.DagsterRun(
            job_name=job,
            run_id=str(uuid.uuid4()),
            status=dg.DagsterRunStatus.STARTED,
            tags={names.PARTITION_TAG: partition} if partition else {},
        )
        instance.add_run(run)
        return run

    batch = in_progress(names.TICKER_BATCH_JOB)
    training = in_progress(names.TICKER_TRAINING_JOB, TICKER)
    try:
        held = market_replay_sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(held, dg.SkipReason)
        assert "waiting for 1 run(s)" in (held.skip_message or "")
        assert read_clock(path) == clock
        instance.report_run_canceled(batch)
        moved = market_replay_sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(moved, dg.SensorResult), moved
        assert session_number(read_clock(path).as_of) > session_number(clock.as_of)
        asked = [
            t
            for r in moved.run_requests or []
            for t in r.run_config["ops"][BATCH_OP]["config"]["tickers"]
        ]
        assert asked == [INDEX]  # TICKER is retraining
    finally:
        instance.report_run_canceled(training)
        write_clock(path, clock)
