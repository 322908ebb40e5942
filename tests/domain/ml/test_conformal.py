"""Conformal calibration: reaches nominal coverage from a miscalibrated model, uses only matured
outcomes, adapts after a volatility shift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stock_assets.domain.ml.conformal import (
    MIN_SCORES,
    adaptive_multipliers,
    calibrated_forecast,
    conformal_quantile,
    conformity_scores,
)
from stock_assets.domain.ml.forecasters import Forecaster, IntArray, QuantileForecast

QUANTILES = (0.1, 0.5, 0.9)


class _FixedWidth(Forecaster):
    """Median 0 and a fixed (wrong) interval half-width, whatever the data."""

    name = "fixed"
    family = "baseline"

    def __init__(self, half_width: float, horizon: int = 2) -> None:
        self.half_width, self.horizon = half_width, horizon

    def fit(self, frame: pd.DataFrame, train: IntArray, val: IntArray) -> None:
        return None

    def predict(self, frame: pd.DataFrame, anchors: IntArray) -> QuantileForecast:
        w = np.full((len(anchors), self.horizon), self.half_width)
        return QuantileForecast(np.stack([-w, 0 * w, w], axis=-1), QUANTILES)


def _frame(returns: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.bdate_range("2010-01-01", periods=len(returns)),
            "close": 100 * np.exp(np.cumsum(returns)),
        }
    )


def test_scores_by_hand() -> None:
    forecast = QuantileForecast(np.array([[[-1.0, 0.0, 2.0]]]), QUANTILES)
    # below the median: distance / lower distance; above: / upper distance
    assert conformity_scores(forecast, np.array([[-0.5]]))[0, 0] == pytest.approx(0.5)
    assert conformity_scores(forecast, np.array([[3.0]]))[0, 0] == pytest.approx(1.5)
    # n=9, c=0.8: ceil(10 * 0.8) = 8 -> the 8th smallest score
    assert conformal_quantile(np.arange(1.0, 10.0), 0.8) == 8.0


def test_a_too_narrow_model_is_widened_to_nominal_coverage() -> None:
    rng = np.random.default_rng(0)
    returns = rng.normal(0, 0.01, 3000)
    frame = _frame(returns)
    anchors = np.arange(1000, 2990)
    out = calibrated_forecast(
        _FixedWidth(0.001), frame, anchors, calibration_start=0, coverage=0.8, horizon=2
    )
    y1 = np.log(frame["close"].shift(-1) / frame["close"]).to_numpy()[anchors]
    inside = (y1 >= out.forecast.lower[:, 0]) & (y1 <= out.forecast.upper[:, 0])
    assert inside.mean() == pytest.approx(0.8, abs=0.02)
    assert np.median(out.multipliers[:, 0]) > 5  # widened ~12x: 1.28% vs 0.1%


def test_only_matured_outcomes_calibrate_a_forecast() -> None:
    rng = np.random.default_rng(1)
    returns = rng.normal(0, 0.01, 800)
    target = np.array([600])
    base = calibrated_forecast(
        _FixedWidth(0.01), _frame(returns), target, calibration_start=0, coverage=0.8, horizon=2
    )
    changed = returns.copy()
    changed[601:] *= 20  # every close after the forecast's own: unknown at row 600
    later = calibrated_forecast(
        _FixedWidth(0.01), _frame(changed), target, calibration_start=0, coverage=0.8, horizon=2
    )
    np.testing.assert_array_equal(base.forecast.values, later.forecast.values)
    # h=2 scores of anchors 599 and 598 need rows 601 and 600: 598 matured at 600, 599 not yet.
    assert base.n_scores[0, 1] == min(599, 250) and base.n_scores[0, 0] == min(600, 250)


def test_adapts_to_a_volatility_shift() -> None:
    """After volatility doubles, the adaptive level restores coverage within the year."""
    rng = np.random.default_rng(2)
    z = rng.normal(size=(1500, 1))
    scores = np.abs(np.where(np.arange(1500)[:, None] < 750, z, 2 * z))
    mult, counts = adaptive_multipliers(scores, coverage=0.8)
    late = slice(900, 1500)
    covered = (scores[late, 0] <= mult[late, 0]).mean()
    assert covered == pytest.approx(0.8, abs=0.03)
    assert counts[MIN_SCORES - 1, 0] == MIN_SCORES - 1 and mult[0, 0] == 1.0  # not enough yet


def test_the_conformal_quantile_is_the_kth_smallest_score() -> None:
    scores = np.arange(1.0, 21.0)  # 1..20
    # n=20, c=0.9: ceil(21 * 0.9) = 19 -> the 19th smallest, 19.0 (not 20.0)
    assert conformal_quantile(scores, 0.9) == 19.0
    assert conformal_quantile(scores, 0.99) == 20.0  # ceil(20.79) = 21 > n: the largest
