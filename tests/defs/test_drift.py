"""Drift through Dagster: a real Evidently report against a real (tiny) child model's training
window, the asset check, and the drift sensor that retrains once per drift episode.

Market data comes from the ``files`` provider over a temp folder holding the real sample history,
so a test can change a ticker's recent days the way a market regime change would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from devkit.platform import TinyPlatform, tiny_platform
from devkit.series import amplify_recent_moves, write_market_folder
from devkit.sizes import TINY_BACKTEST
from stock_assets import names
from stock_assets.defs.assets.evaluation import backtest, champion_model
from stock_assets.defs.assets.market import indicators, ohlcv
from stock_assets.defs.assets.models import child_model
from stock_assets.defs.assets.monitoring import DRIFT_CHECK, drift_report
from stock_assets.defs.resources import FileFolderMarketData
from stock_assets.defs.sensors.retrain import (
    Evaluation,
    RetrainCursor,
    plan_retrains,
    retrain_sensor,
)
from stock_assets.domain.market_data import OfflineSampleProvider
from stock_assets.domain.monitoring import read_drift_summary
from stock_assets.settings import Settings

TICKER = "AAPL"
INDEX = "^GSPC"
HISTORY_ROWS = 1200
# A year of backtest: the shorter history here leaves a half-year test too few folds' rows.
BACKTEST = {names.BACKTEST: {"config": {**TINY_BACKTEST, "test_years": 1.0}}}
CONTRACT_KEYS = {
    "ticker",
    "as_of",
    "drift_share",
    "dataset_drift",
    "threshold",
    "drifted_columns",
    "columns",
    "reference_window",
    "current_window",
}


@dataclass
class Drift:
    platform: TinyPlatform
    folder: Path

    @property
    def settings(self) -> Settings:
        return self.platform.settings

    @property
    def instance(self) -> dg.DagsterInstance:
        return self.platform.instance

    def run(self, assets: list, partition: str | None = None) -> dg.ExecuteInProcessResult:
        return self.platform.run(assets, partition=partition)

    def check(self, result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
        (evaluation,) = [
            e for e in result.get_asset_check_evaluations() if e.check_name == DRIFT_CHECK
        ]
        return evaluation

    def sensor(self, cursor: str | None) -> dg.SensorResult:
        context = dg.build_sensor_context(instance=self.instance, cursor=cursor)
        return retrain_sensor(context)


@pytest.fixture(scope="module")
def drift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drift]:
    root = tmp_path_factory.mktemp("drift")
    sample = OfflineSampleProvider()
    end = sample.fetch(TICKER)["date"].iloc[-1]
    # The last ~5 years of the stock (the index over the same dates, so a backtest parent has
    # index rows before the stock's test period): enough for training, the 504-row reference
    # and the 60-row current window, and quicker to train on than the whole history.
    histories = {t: sample.fetch(t) for t in (INDEX, TICKER)}
    histories = {t: h[h["date"] <= end].tail(HISTORY_ROWS) for t, h in histories.items()}
    folder = write_market_folder(root / "market", histories)
    market_data = FileFolderMarketData(folder=str(folder))
    with tiny_platform(root, market_data=market_data, config=BACKTEST) as platform:
        platform.bootstrap()
        # The drift report compares against what serves: the champion the policy chose.
        platform.onboard(TICKER, through=[child_model, backtest, champion_model])
        yield Drift(platform, folder)


def test_unchanged_data_passes_and_requests_nothing(drift: Drift) -> None:
    result = drift.run([drift_report], partition=TICKER)
    assert result.success
    evaluation = drift.check(result)
    assert evaluation.passed, evaluation.description
    summary = read_drift_summary(drift.settings.resolved_outputs_dir, TICKER)
    assert summary is not None and set(summary) >= CONTRACT_KEYS
    assert summary["dataset_drift"] is False and summary["drift_share"] <= summary["threshold"]
    # No drift, nothing to read: the daily run renders no Evidently report (the API asks for one).
    assert "html_path" not in summary
    assert (
        result.asset_materializations_for_node(names.DRIFT_REPORT)[0]
        .metadata["html_report"]
        .value.startswith("not rendered")
    )
    # Reference = training rows before the current window; they never overlap.
    assert summary["reference_window"][1] < summary["current_window"][0]
    assert {c["column"] for c in summary["columns"]} == {
        "log_return",
        "rsi_14",
        "macd_hist_norm",
        "volatility_20",
        "volume_z_20",
    }
    outcome = drift.sensor(None)
    assert outcome.run_requests == []
    assert json.loads(outcome.cursor)["after"] > 0


def test_shifted_recent_data_fails_the_check_and_retrains_once(drift: Drift) -> None:
    cursor = drift.sensor(None).cursor  # everything so far (the passing report) is seen
    path = drift.folder / f"{TICKER}.parquet"
    frame = pd.read_parquet(path)
    amplify_recent_moves(frame, days=60, factor=4.0).to_parquet(path, index=False)
    assert drift.run([ohlcv, indicators], partition=TICKER).success

    result = drift.run([drift_report], partition=TICKER)
    assert result.success  # a failed drift check is a warning, not a failed run
    evaluation = drift.check(result)
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert "volatility_20" in (evaluation.description or "")
    summary = read_drift_summary(drift.settings.resolved_outputs_dir, TICKER)
    assert summary is not None and summary["dataset_drift"] is True
    assert summary["drift_share"] > summary["threshold"]
    # Drift is something to read: Evidently's report is rendered beside the summary.
    report = Path(summary["html_path"]).read_text(encoding="utf-8")
    assert report.lstrip().lower().startswith("<!doctype html")

    first = drift.sensor(cursor)
    assert len(first.run_requests) == 1
    request = first.run_requests[0]
    assert request.partition_key == TICKER
    assert request.job_name in (None, names.TICKER_TRAINING_JOB)
    assert request.run_key.startswith(f"retrain:{TICKER}:")
    assert request.tags[names.TRIGGER_TAG] == names.DRIFT_TRIGGER

    # Same episode: evaluating again, or a second failing report, asks for nothing more.
    assert drift.sensor(first.cursor).run_requests == []
    assert not drift.check(drift.run([drift_report], partition=TICKER)).passed
    again = drift.sensor(first.cursor)
    assert again.run_requests == []
    assert again.skip_reason is not None
    assert f"{TICKER}: drift episode" in again.skip_reason.skip_message


def test_episodes_and_cool_down() -> None:
    """One retrain per episode and cool-down, in market sessions; drift and decay share an
    episode, which closes only when both checks pass."""
    cursor = RetrainCursor()
    decisions, _ = plan_retrains(
        cursor, [Evaluation(1, "AAPL", False), Evaluation(2, "MSFT", True)], now=100, cooldown=20
    )
    assert [(d.ticker, d.episode, d.kinds) for d in decisions] == [("AAPL", 1, ("drift",))]
    # Still drifting, and now decaying too: the same episode, nothing new inside the cool-down.
    decisions, notes = plan_retrains(
        cursor,
        [Evaluation(3, "AAPL", False), Evaluation(4, "AAPL", False, "decay")],
        now=105,
        cooldown=20,
    )
    assert decisions == [] and "AAPL: decay+drift episode 1 has its retrain" in notes[0]
    # Drift healed (the decision's data is the new reference) but decay persists: still open...
    decisions, notes = plan_retrains(cursor, [Evaluation(5, "AAPL", True)], now=110, cooldown=20)
    assert decisions == [] and "AAPL: decay episode 1" in notes[0]
    # ... and once the cool-down is over it asks for another challenger.
    decisions, _ = plan_retrains(cursor, [], now=120, cooldown=20)
    assert [(d.episode, d.attempt, d.kinds) for d in decisions] == [(1, 2, ("decay",))]
    # Both pass: closed. Failing again inside the cool-down opens a new episode that waits.
    decisions, notes = plan_retrains(
        cursor,
        [Evaluation(6, "AAPL", True, "decay"), Evaluation(7, "AAPL", False)],
        now=125,
        cooldown=20,
    )
    assert decisions == [] and "AAPL: drift episode 7 waits" in notes[0]
    decisions, _ = plan_retrains(cursor, [], now=140, cooldown=20)
    assert [(d.episode, d.attempt) for d in decisions] == [(7, 1)]
    # A ticker already training when its episode opens: that run is the episode's retrain.
    decisions, notes = plan_retrains(
        cursor, [Evaluation(8, "MSFT", False, "decay")], now=141, cooldown=20, busy={"MSFT"}
    )
    assert decisions == [] and "in progress" in notes[-1]
    # Already-seen evaluations are ignored; the cursor survives a round trip.
    restored = RetrainCursor.parse(cursor.dump())
    assert restored == cursor
    assert plan_retrains(restored, [Evaluation(5, "AAPL", False)], now=141, cooldown=20)[0] == []
