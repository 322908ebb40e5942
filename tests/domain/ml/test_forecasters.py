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
    BaselineForecaster,
    GarchScale,
    LinearForecaster,
    make_baseline,
)
from stock_assets.domain.ml.synthetic import ar_returns, garch_returns

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


def test_a_baseline_bundle_round_trips(tmp_path: Path, ar_frame: pd.DataFrame) -> None:
    baseline, window = fit_production_baseline("linear", ar_frame, CFG, timestamp_column="date")
    save_bundle(tmp_path, "SYN", "v1", baseline=baseline, config=CFG, metadata=window)
    bundle = load_bundle(tmp_path, "SYN", "v1")
    assert bundle.kind == "baseline" and bundle.candidate == "linear"
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
