"""Baselines behind the forecaster interface: what each one forecasts, causally, and how it is
stored for serving."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stock_assets.domain.indicators import compute_indicators
from stock_assets.domain.ml.artifacts import load_bundle, save_bundle
from stock_assets.domain.ml.candidates import fit_production_baseline, production_splits
from stock_assets.domain.ml.config import ModelConfig
from stock_assets.domain.ml.dataset import clean_frame, log_return_targets
from stock_assets.domain.ml.forecasters import (
    AdditiveForecaster,
    BaselineForecaster,
    BoostedForecaster,
    GarchScale,
    LinearForecaster,
    make_baseline,
)
from stock_assets.domain.ml.synthetic import (
    ar_returns,
    garch_returns,
    random_walk,
    sign_asymmetric_ar,
    volatility_in_mean,
)

CFG = ModelConfig()


def _cleaned(ohlcv: pd.DataFrame) -> pd.DataFrame:
    return clean_frame(compute_indicators(ohlcv), CFG.feature_columns)


@pytest.fixture(scope="module")
def ar_frame() -> pd.DataFrame:
    return _cleaned(ar_returns(2000, phi=0.3, seed=7).ohlcv)


def _fit(name: str, frame: pd.DataFrame) -> BaselineForecaster:
    splits = production_splits(frame, CFG)
    baseline = make_baseline(name, CFG.horizon, CFG.quantiles)
    baseline.fit(frame, splits.train, splits.val)
    return baseline


def test_naive_is_exactly_the_last_close(ar_frame: pd.DataFrame) -> None:
    forecast = _fit("naive", ar_frame).predict(ar_frame, np.arange(100, 200))
    assert np.all(forecast.median == 0.0)
    assert np.all(forecast.lower < 0) and np.all(forecast.upper > 0)
    assert np.all(np.diff(forecast.values, axis=-1) >= 0)


def test_drift_is_the_training_mean(ar_frame: pd.DataFrame) -> None:
    splits = production_splits(ar_frame, CFG)
    y = log_return_targets(ar_frame["close"].to_numpy(), CFG.horizon)
    forecast = _fit("drift", ar_frame).predict(ar_frame, np.array([1500]))
    np.testing.assert_allclose(forecast.median[0], y[splits.train].mean(axis=0))


def test_linear_recovers_the_autoregression(ar_frame: pd.DataFrame) -> None:
    """On r_t = 0.3 r_(t-1) + e, the h=1 forecast is about 0.3 x today's return."""
    linear = _fit("linear", ar_frame)
    anchors = np.arange(200, 1800)
    today = ar_frame["log_return"].to_numpy()[anchors]
    slope = np.polyfit(today, linear.predict(ar_frame, anchors).median[:, 0], 1)[0]
    assert slope == pytest.approx(0.3, abs=0.08)
    assert isinstance(linear, LinearForecaster)


def test_garch_scale_is_causal_and_tracks_volatility() -> None:
    series = garch_returns(2500, seed=3)
    returns = np.diff(np.log(series.ohlcv["close"].to_numpy()), prepend=np.nan)
    scale = GarchScale.fit(returns[:2000])
    std = scale.h_day_std(returns, 7)
    changed = returns.copy()
    changed[1500:] *= 3
    np.testing.assert_array_equal(scale.h_day_std(changed, 7)[:1500], std[:1500])
    # The fitted filter follows the true conditional volatility closely.
    corr = np.corrcoef(std[100:, 0], series.oracle_std[100:, 0])[0, 1]
    assert corr > 0.9 and scale.alpha + scale.beta < 1


@pytest.mark.parametrize(
    ("name", "kind"), [("boosted", BoostedForecaster), ("additive", AdditiveForecaster)]
)
def test_a_nonlinear_baseline_learns_a_kink_the_linear_baseline_averages_away(
    name: str, kind: type[BaselineForecaster]
) -> None:
    """Falls continue (0.5 x) and rises fade (-0.25 x): the h=1 forecast after a fall is about
    half the fall, after a rise a quarter of it reversed. The linear fit sees one slope."""
    series = sign_asymmetric_ar(2000, seed=7)
    frame = _cleaned(series.ohlcv)
    model, linear = _fit(name, frame), _fit("linear", frame)
    assert isinstance(model, kind)
    anchors = np.arange(200, 1800)
    today = frame["log_return"].to_numpy()[anchors]
    forecast = model.predict(frame, anchors).median[:, 0]
    falls, rises = today < -0.005, today > 0.005
    assert np.polyfit(today[falls], forecast[falls], 1)[0] > 0.25
    assert np.polyfit(today[rises], forecast[rises], 1)[0] < 0.0
    # The truth at h=1 is the oracle's mean: the model is far closer to it than the ridge.
    truth = series.oracle(CFG.horizon, CFG.quantiles).predict(frame, anchors).median[:, 0]
    linear_forecast = linear.predict(frame, anchors).median[:, 0]
    assert np.mean((forecast - truth) ** 2) < 0.5 * np.mean((linear_forecast - truth) ** 2)


def test_boosted_trees_find_nothing_in_a_random_walk() -> None:
    """Early stopping on the validation anchors keeps the trees near a constant where returns
    are noise: their forecasts vary far less than the returns themselves."""
    frame = _cleaned(random_walk(2000, seed=8).ohlcv)
    boosted = _fit("boosted", frame)
    forecast = boosted.predict(frame, np.arange(200, 1800)).median[:, 0]
    assert forecast.std() < 0.15 * frame["log_return"].std()


def test_additive_splines_keep_the_slope_beyond_the_largest_fall() -> None:
    """A fall twice the largest one the training windows saw: the forecast falls further,
    following the fitted slope, where a tree's would stay at its last leaf."""
    frame = _cleaned(sign_asymmetric_ar(2000, seed=7).ohlcv)
    additive = _fit("additive", frame)
    anchors = np.arange(200, 1800)
    today = frame["log_return"].to_numpy()[anchors]
    forecast = additive.predict(frame, anchors).median[:, 0]
    crash = frame.copy()
    crash.loc[1799, "log_return"] = 2 * today.min()
    at_crash = additive.predict(crash, np.array([1799])).median[0, 0]
    assert at_crash < forecast[today.argmin()] < 0


def test_additive_splines_see_volatility_in_the_mean() -> None:
    """Rebounds after volatile spells: no function of the returns' signs holds it, a spline in
    the volatility forecast does."""
    series = volatility_in_mean(2500, seed=7)
    frame = _cleaned(series.ohlcv)
    additive, linear = _fit("additive", frame), _fit("linear", frame)
    anchors = np.arange(300, 2300)
    truth = series.oracle(CFG.horizon, CFG.quantiles).predict(frame, anchors).median[:, 0]
    forecast = additive.predict(frame, anchors).median[:, 0]
    linear_forecast = linear.predict(frame, anchors).median[:, 0]
    assert np.corrcoef(forecast, truth)[0, 1] > 0.7
    assert np.mean((forecast - truth) ** 2) < 0.5 * np.mean((linear_forecast - truth) ** 2)


def test_additive_splines_find_nothing_in_a_random_walk() -> None:
    """The penalty chosen on the validation anchors shrinks a basis of 40 columns to near a
    constant where returns are noise."""
    frame = _cleaned(random_walk(2000, seed=8).ohlcv)
    additive = _fit("additive", frame)
    forecast = additive.predict(frame, np.arange(200, 1800)).median[:, 0]
    assert forecast.std() < 0.15 * frame["log_return"].std()


@pytest.mark.parametrize("name", ["naive", "drift", "linear", "additive", "boosted"])
def test_a_baseline_reads_no_row_after_its_anchor(name: str, ar_frame: pd.DataFrame) -> None:
    baseline = _fit(name, ar_frame.iloc[:1500])
    anchors = np.arange(1200, 1400)
    before = baseline.predict(ar_frame, anchors).values
    changed = ar_frame.copy()
    numeric = [c for c in changed.columns if c != "date"]
    changed.loc[1400:, numeric] = changed.loc[1400:, numeric] * 5.0 + 1.0
    np.testing.assert_array_equal(baseline.predict(changed, anchors).values, before)


@pytest.mark.parametrize("name", ["linear", "additive", "boosted"])
def test_a_baseline_bundle_round_trips(name: str, tmp_path: Path, ar_frame: pd.DataFrame) -> None:
    baseline, window = fit_production_baseline(name, ar_frame, CFG, timestamp_column="date")
    save_bundle(tmp_path, "SYN", "v1", baseline=baseline, config=CFG, metadata=window)
    bundle = load_bundle(tmp_path, "SYN", "v1")
    assert bundle.kind == "baseline" and bundle.candidate == name
    assert bundle.calibration_start == window["calibration_start"]
    anchors = np.arange(1500, 1600)
    np.testing.assert_allclose(
        bundle.forecaster.predict(ar_frame, anchors).values,
        baseline.predict(ar_frame, anchors).values,
    )
    with pytest.raises(ValueError, match="either an LSTM"):
        save_bundle(tmp_path, "SYN", "v2", config=CFG)


def test_unknown_baseline_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown baseline"):
        make_baseline("arima", 7, (0.1, 0.5, 0.9))
