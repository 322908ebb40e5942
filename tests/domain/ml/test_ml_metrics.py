"""Metrics on hand-made arrays; every expected number is worked out in the comments."""

from __future__ import annotations

import numpy as np
import pytest

from stock_assets.domain.ml.metrics import (
    horizon_metrics,
    interval_score,
    pinball,
    prices_from_log_returns,
)

QUANTILES = (0.1, 0.5, 0.9)
LAST = np.array([100.0, 100.0, 100.0, 100.0])
ACTUAL = np.array([101.0, 97.0, 100.0, 104.0])  # moves: +1, -3, 0, +4
MEDIAN = np.array([102.0, 98.0, 101.0, 101.0])  # moves: +2, -2, +1, +1
LOWER = np.array([99.0, 96.0, 99.0, 102.5])
UPPER = np.array([103.0, 98.0, 101.0, 103.5])


def _lr(prices: np.ndarray) -> np.ndarray:
    return np.log(prices / LAST)[:, None]


def _row() -> dict[str, float]:
    quantiles = np.stack([_lr(LOWER), _lr(MEDIAN), _lr(UPPER)], axis=-1)
    return horizon_metrics(LAST, _lr(ACTUAL), quantiles, QUANTILES).iloc[0].to_dict()


def test_hand_computed_price_metrics() -> None:
    row = _row()
    # errors |1|, |1|, |1|, |3| -> MAE 6/4 = 1.5, RMSE sqrt(12/4)
    assert row["mae"] == pytest.approx(1.5)
    assert row["rmse"] == pytest.approx(np.sqrt(3.0))
    # naive errors |1|, |3|, |0|, |4| -> MAE 8/4 = 2
    assert row["naive_mae"] == pytest.approx(2.0)
    assert row["relative_mae"] == pytest.approx(0.75)
    assert row["fva"] == pytest.approx(0.25)
    # direction hits: +/+ yes, -/- yes, 0/+ no, +/+ yes -> 3/4; up moves: 2 of 4
    assert row["directional_accuracy"] == pytest.approx(0.75)
    assert row["up_rate"] == pytest.approx(0.5)
    assert row["direction_edge"] == pytest.approx(0.25)
    # inside [lower, upper]: 101 in [99,103] yes, 97 in [96,98] yes, 100 in [99,101] yes,
    # 104 in [102.5,103.5] no -> 3/4
    assert row["coverage"] == pytest.approx(0.75)
    assert row["nominal_coverage"] == pytest.approx(0.8)


def test_pinball_and_interval_score_by_hand() -> None:
    # y = 1 with quantiles (0, 1, 2) at (0.1, 0.5, 0.9): errors 1, 0, -1 ->
    # max(0.1*1, -0.9*1)=0.1, 0, max(0.9*-1, 0.1*1)=0.1 -> mean 0.2/3
    assert pinball([1.0], [[0.0, 1.0, 2.0]], QUANTILES) == pytest.approx(0.2 / 3)
    # Winkler at 80%: inside: width 2; below by 1 with width 2: 2 + (2/0.2)*1 = 12
    assert interval_score([1.0], [0.0], [2.0], 0.8) == pytest.approx(2.0)
    assert interval_score([-1.0], [0.0], [2.0], 0.8) == pytest.approx(12.0)


def test_prices_from_log_returns_broadcasts() -> None:
    out = prices_from_log_returns([100.0, 200.0], np.zeros((2, 3, 4)))
    assert out.shape == (2, 3, 4) and out[1, 2, 3] == 200.0


def test_shape_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="disagree"):
        horizon_metrics(LAST[:3], _lr(ACTUAL), np.zeros((4, 1, 3)), QUANTILES)
    with pytest.raises(ValueError, match=r"include 0\.5"):
        horizon_metrics(LAST, _lr(ACTUAL), np.zeros((4, 1, 3)), (0.1, 0.4, 0.9))
