"""Parent -> child -> backtest -> champion -> forecast through Dagster, on the real sample data,
with tiny model sizes, the real promotion policy, a real MLflow (SQLite) store and a real Feast
repo."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from devkit import sizes
from devkit.platform import TinyPlatform, tiny_platform
from serving_api.app import create_app
from stock_assets import names
from stock_assets.defs.assets.evaluation import backtest, champion_model
from stock_assets.defs.assets.forecasting import forecast
from stock_assets.defs.assets.market import indicators, ohlcv
from stock_assets.defs.assets.models import child_model, parent_model
from stock_assets.defs.resources import FileFolderMarketData
from stock_assets.defs.sensors.retrain import RetrainCursor, new_evaluations, plan_retrains
from stock_assets.domain.calendar import trading_days
from stock_assets.domain.market_data import OfflineSampleProvider
from stock_assets.domain.ml.artifacts import list_versions
from stock_assets.domain.ml.evaluation import load_evaluation
from stock_assets.domain.ml.policy import INSUFFICIENT_HISTORY, POLICY_VERSION
from stock_assets.domain.symbols import ticker_slug
from stock_assets.names import TICKERS_PARTITION

# A little more training than the tiny sizes (the checks below read its loss curves), and a year
# of backtest.
TINY_PARENT = {**sizes.TINY_PARENT, "epochs": 3, "patience": 2}
TINY_CHILD = {**sizes.TINY_CHILD, "epochs": 3, "patience": 2, "strategy": "fine_tune"}
BT = {**sizes.TINY_BACKTEST, "test_years": 1.0}
TICKER = "AAPL"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TinyPlatform]:
    with tiny_platform(tmp_path_factory.mktemp("models")) as p:
        p.data("^GSPC", TICKER)
        yield p


def _meta(result: dg.ExecuteInProcessResult, node: str) -> dict:
    return {k: v.value for k, v in result.asset_materializations_for_node(node)[0].metadata.items()}


def _failure(result: dg.ExecuteInProcessResult, node: str) -> str:
    """What the run says about the failed step: the user's Failure, or the framework's error."""
    data = result.failure_data_for_node(node)
    if data is None:
        return ""
    if data.user_failure_data is not None:
        return str(data.user_failure_data.description)
    return str(data.error)


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_parent_trains_on_the_index_and_is_registered(platform: TinyPlatform) -> None:
    result = platform.run([parent_model], {names.PARENT_MODEL: {"config": TINY_PARENT}})
    assert result.success
    meta = _meta(result, names.PARENT_MODEL)
    assert meta["epochs_run"] <= 3 and meta["best_val_loss"] > 0
    assert Path(meta["bundle_path"]).joinpath("model.pt").exists()
    assert (meta["registered_model"], meta["model_version"]) == ("stockops-parent", "1")
    assert meta["data"]["train_anchor_dates"][0] >= "1999-02-01"  # the index, from 1999
    run = platform.tracker.client.get_run(meta["mlflow_run_id"])
    assert run.data.params["lookback"] == "20"
    history = platform.tracker.client.get_metric_history(run.info.run_id, "val_loss")
    assert len(history) == meta["epochs_run"]


def _decisions(platform: TinyPlatform) -> list[dict]:
    return platform.tracker.decisions(TICKER)


def test_real_policy_serves_the_best_baseline_and_a_worse_retrain_changes_nothing(
    platform: TinyPlatform,
) -> None:
    """The real promotion policy on real AAPL prices: no learned model beats the naive forecast
    with significance, so naive serves, labelled; a worse retrain leaves it serving, visibly."""
    if not list_versions(platform.resources["model_store"].parent_root, "^GSPC"):
        assert platform.run([parent_model], {names.PARENT_MODEL: {"config": TINY_PARENT}}).success
    tracker = platform.tracker

    child = platform.run([child_model], {names.CHILD_MODEL: {"config": TINY_CHILD}}, TICKER)
    assert child.success
    first_version = _meta(child, names.CHILD_MODEL)["bundle_version"]
    bundle_dir = platform.settings.resolved_outputs_dir / ticker_slug(TICKER) / first_version
    assert {"model.pt", "scaler.pkl", "config.json", "metadata.json"} <= {
        p.name for p in bundle_dir.iterdir()
    }
    mv = tracker.client.get_model_version("stockops-child-AAPL", "1")
    assert mv.tags["bundle_version"] == first_version
    run = tracker.client.get_run(mv.run_id)
    assert run.data.tags["dagster.partition"] == TICKER and run.data.tags["dagster.run_id"]

    # A child alone is never served: nothing has judged it yet.
    unjudged = platform.run([forecast], partition=TICKER)
    assert not unjudged.success
    assert "No stored table for backtest [AAPL]" in _failure(unjudged, names.FORECAST)

    first = platform.run(
        [backtest, champion_model, forecast], {names.BACKTEST: {"config": BT}}, TICKER
    )
    assert first.success
    checks = _checks(first)
    gate = checks["promotion_gate"]
    assert not gate.passed and gate.severity == dg.AssetCheckSeverity.WARN
    assert "does not beat naive" in gate.description
    assert checks["no_leakage_signs"].passed
    assert "calibrated_coverage" in checks
    meta = _meta(first, names.BACKTEST)
    assert meta["outcome"] == "serve_baseline" and meta["served_model"] == "naive"
    assert meta["policy_version"] == POLICY_VERSION
    # The evidence: every candidate, every horizon, with p-values against naive.
    table = pd.read_parquet(platform.settings.tables_dir / names.BACKTEST / "AAPL.parquet")
    assert set(table["candidate"]) == {"naive", "drift", "linear", "additive", "boosted", "lstm"}
    assert list(table[table["candidate"] == "lstm"]["horizon"]) == list(range(1, 8))
    assert table.loc[table["candidate"] == "lstm", "p_vs_naive"].between(0, 1).all()
    # The backtest parent never saw the test period: its data ends before the first test input.
    assert meta["backtest_parent_data_end"] < meta["first_test_input_date"]
    assert meta["first_test_input_date"] < meta["folds"][0]["test_start"]

    champion = tracker.champion("stockops-child-AAPL")
    assert champion is not None and champion.model_version == "2"  # a registered baseline
    assert tracker.version_tags("stockops-child-AAPL", "2")["kind"] == "baseline"
    cmeta = _meta(first, names.CHAMPION_MODEL)
    assert (cmeta["outcome"], cmeta["served_model"], cmeta["alias_moved"]) == (
        "serve_baseline",
        "naive",
        True,
    )
    fmeta = _meta(first, names.FORECAST)
    assert (fmeta["model"], fmeta["model_kind"]) == ("naive", "baseline")
    assert fmeta["as_of"] == "2013-03-01"
    frame = pd.read_parquet(platform.settings.tables_dir / names.FORECAST / "AAPL.parquet")
    assert len(frame) == 7 and (frame["model"] == "naive").all()
    sessions = trading_days("2013-03-02", "2013-03-31")
    assert list(pd.to_datetime(frame["date"])) == list(sessions[:7])
    assert (frame["median"] == frame["median"].iloc[0]).all()  # the last close, every day
    assert (frame["lower"] < frame["median"]).all() and (frame["median"] < frame["upper"]).all()
    assert "not promoted" in tracker.version_tags("stockops-child-AAPL", "1")["promotion_gate"]

    # A worse retrain (one epoch) is a challenger too: judged, not promoted, champion unchanged.
    worse = {**TINY_CHILD, "epochs": 1}
    assert platform.run([child_model], {names.CHILD_MODEL: {"config": worse}}, TICKER).success
    again = platform.run([backtest, champion_model], {names.BACKTEST: {"config": BT}}, TICKER)
    assert again.success and not _checks(again)["promotion_gate"].passed
    assert tracker.champion("stockops-child-AAPL").model_version == "2"
    kept = _meta(again, names.CHAMPION_MODEL)
    assert (kept["outcome"], kept["alias_moved"], kept["champion_version"]) == ("keep", False, "2")
    assert tracker.version_tags("stockops-child-AAPL", "3")["promotion_decision"] == "keep"
    history = _decisions(platform)
    assert [d["outcome"] for d in history[:2]] == ["keep", "serve_baseline"]
    assert history[0]["champion"] == history[0]["previous_champion"] == "2"


def test_forecast_without_model_fails_with_reason(platform: TinyPlatform) -> None:
    platform.instance.add_dynamic_partitions(TICKERS_PARTITION, ["IBM"])
    assert platform.run([ohlcv, indicators], partition="IBM").success
    result = platform.run([forecast], partition="IBM")
    assert not result.success
    assert "No stored table for backtest [IBM]" in _failure(result, names.FORECAST)


def test_a_recent_listing_is_served_the_naive_forecast_with_the_history_it_needs(
    platform: TinyPlatform, tmp_path: Path
) -> None:
    """A ticker listed 120 sessions ago (its own CSV through the ``files`` provider: 120 of AAPL's
    sessions under another name) trains a child, which no backtest can judge yet: the naive
    forecast serves, claiming no skill, and every check and statement says how much history the
    ticker has and needs. Once its history has grown enough, the forecast's check asks for the
    retrain that judges it, and the retrain sensor plans one."""
    if not list_versions(platform.resources["model_store"].parent_root, "^GSPC"):
        assert platform.run([parent_model], {names.PARENT_MODEL: {"config": TINY_PARENT}}).success
    sessions = OfflineSampleProvider().fetch("AAPL").tail(200)
    recent = sessions.head(120)
    recent.to_csv(tmp_path / "NEWCO.csv", index=False)
    files = FileFolderMarketData(folder=str(tmp_path))
    listing = TinyPlatform(
        platform.instance,
        platform.settings,
        {**platform.resources, "market_data": files},
        platform.config,
    )
    listing.data("NEWCO")
    child = listing.run([child_model], {names.CHILD_MODEL: {"config": TINY_CHILD}}, "NEWCO")
    assert child.success
    result = listing.run(
        [backtest, champion_model, forecast], {names.BACKTEST: {"config": BT}}, "NEWCO"
    )
    assert result.success
    meta = _meta(result, names.BACKTEST)
    assert meta["outcome"] == INSUFFICIENT_HISTORY and meta["served_model"] == "naive"
    assert meta["sessions"] < meta["sessions_needed"] == 137
    said = f"NEWCO has {meta['sessions']} sessions of complete history"
    assert meta["decision"].startswith(said) and "needs at least 137" in meta["decision"]
    checks = _checks(result)
    assert not checks["promotion_gate"].passed and said in checks["promotion_gate"].description
    assert not checks["calibrated_coverage"].passed
    assert checks["calibrated_coverage"].severity == dg.AssetCheckSeverity.WARN
    assert checks["no_leakage_signs"].passed
    champion = _meta(result, names.CHAMPION_MODEL)
    assert champion["served_model"] == "naive" and champion["outcome"] == INSUFFICIENT_HISTORY
    # The forecast is the last close at every horizon, inside a band.
    served = pd.read_parquet(listing.settings.tables_dir / names.FORECAST / "NEWCO.parquet")
    assert len(served) == 7
    last_close = float(recent["close"].iloc[-1])
    assert served["median"].to_numpy() == pytest.approx(last_close)
    assert (served["lower"] < served["median"]).all() and (served["median"] < served["upper"]).all()
    evaluation = load_evaluation(listing.settings.tables_dir, "NEWCO")
    assert evaluation is not None and evaluation.horizons == ()
    assert evaluation.statement().startswith(f"The naive forecast (the last close) serves: {said}")
    assert "No skill is claimed" in evaluation.statement()
    waiting = _checks(result)["judged_on_current_history"]
    assert waiting.passed and "of the 137 sessions a backtest needs" in waiting.description

    # 80 sessions later the listing has the history: the check fails, and the sensor retrains.
    sessions.to_csv(tmp_path / "NEWCO.csv", index=False)
    listing.data("NEWCO")
    grown = listing.run([forecast], partition="NEWCO")
    assert grown.success
    ready = _checks(grown)["judged_on_current_history"]
    assert not ready.passed and ready.severity == dg.AssetCheckSeverity.WARN
    assert "NEWCO now has" in ready.description and "A retrain will judge" in ready.description
    evaluations = [e for e in new_evaluations(listing.instance, 0) if e.ticker == "NEWCO"]
    decisions, _ = plan_retrains(RetrainCursor(), evaluations, now=100, cooldown=5)
    assert [(d.ticker, d.kinds) for d in decisions] == [("NEWCO", (names.HISTORY_TRIGGER,))]


def test_mlflow_artifacts_stay_under_the_data_dir(platform: TinyPlatform) -> None:
    experiment = platform.tracker.client.get_experiment(platform.tracker.experiment_id)
    expected = (platform.settings.resolved_data_dir / "mlflow" / "artifacts").as_uri()
    assert experiment.artifact_location == expected
    assert not Path("mlruns").exists()


def test_a_mixed_plan_is_carried_out_as_one_bundle_serving_each_horizon(
    platform: TinyPlatform,
) -> None:
    """``champion_model`` carries out a decision that serves different models at different
    horizons: one registered mix bundle (the challenger's LSTM at h=1-2, the linear baseline
    fitted on all the data at h=3-7), forecasts labelled per horizon, and the skill stated per
    horizon. The decision is written into the stored backtest table: the tiny models on AAPL
    earn no horizon, and the policy that makes such plans is tested on constructed and
    synthetic evidence (``tests/domain/ml/test_policy.py``, ``test_signal_recovery.py``)."""
    if not list_versions(platform.resources["model_store"].parent_root, "^GSPC"):
        assert platform.run([parent_model], {names.PARENT_MODEL: {"config": TINY_PARENT}}).success
    children = platform.resources["model_store"].children_root
    if not list_versions(children, TICKER, kind="lstm"):
        assert platform.run(
            [child_model], {names.CHILD_MODEL: {"config": TINY_CHILD}}, TICKER
        ).success
    assert platform.run([backtest], {names.BACKTEST: {"config": BT}}, TICKER).success
    path = platform.settings.tables_dir / names.BACKTEST / f"{TICKER}.parquet"
    table = pd.read_parquet(path)
    plan = {h: "lstm" if h <= 2 else "linear" for h in range(1, 8)}
    table["is_served"] = [
        plan[int(h)] == c for c, h in zip(table["candidate"], table["horizon"], strict=True)
    ]
    table["outcome"], table["served"], table["served_kind"] = "promote", "mix", "mixed"
    table.to_parquet(path)
    challenger = str(table["challenger_bundle"].iloc[0])

    result = platform.run([champion_model, forecast], partition=TICKER)
    assert result.success
    cmeta = _meta(result, names.CHAMPION_MODEL)
    assert cmeta["plan"] == "h=1-2 lstm; h=3-7 linear" and cmeta["alias_moved"]
    serving = platform.serving(TICKER)
    assert serving.model == "mix" and serving.kind == "mixed"
    assert (
        platform.tracker.version_tags("stockops-child-AAPL", serving.model_version)["kind"] == "mix"
    )
    assert [m for m, _ in serving.plan] == ["lstm"] * 2 + ["linear"] * 5
    assert serving.plan[0][1] == challenger  # the challenger's own bundle, copied in
    components = serving.bundle.path / "components"
    assert sorted(p.name for p in components.iterdir()) == ["linear", "lstm"]

    frame = pd.read_parquet(platform.settings.tables_dir / names.FORECAST / f"{TICKER}.parquet")
    assert list(frame.sort_values("horizon")["model"]) == ["lstm"] * 2 + ["linear"] * 5
    assert (frame["model_kind"] == "mixed").all()
    fmeta = _meta(result, names.FORECAST)
    assert fmeta["skill"].startswith("Per horizon, the LSTM serves h=1-2: ")
    assert (
        "the linear baseline (ridge on lagged returns and indicators) serves h=3-7"
        in fmeta["skill"]
    )
    evaluation = load_evaluation(platform.settings.tables_dir, TICKER)
    assert evaluation is not None and evaluation.describes(serving.plan)
    assert [h.model for h in evaluation.horizons] == ["lstm"] * 2 + ["linear"] * 5

    # The API says the same per horizon: each point names its model, /models each horizon's.
    settings = platform.settings.model_copy(update={"redis_key_prefix": f"mix-{uuid.uuid4().hex}"})
    with TestClient(create_app(settings, instance=platform.instance)) as client:
        answer = client.post("/predict-child", json={"ticker": TICKER})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["model"], body["model_kind"]) == ("mix", "mixed")
        assert [p["model"] for p in body["points"]] == ["lstm"] * 2 + ["linear"] * 5
        assert body["skill"] == fmeta["skill"]
        summary = client.get(f"/models/{TICKER}").json()
        assert [h["model"] for h in summary["backtest"]] == ["lstm"] * 2 + ["linear"] * 5
        assert summary["model"] == "mix" and summary["skill"] == fmeta["skill"]
