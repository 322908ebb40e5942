"""Metrics on hand-made arrays; every expected number is worked out in the comments."""

from __future__ import annotations

import numpy as np
import pytest

from stock_assets.domain.ml.metrics import (
    horizon_metrics,
    metrics_from_log_returns,
    prices_from_log_returns,
)

LAST = np.array([100.0, 100.0, 100.0, 100.0])
ACTUAL = np.array([101.0, 97.0, 100.0, 104.0])  # moves: +1, -3, 0, +4
MEDIAN = np.array([102.0, 98.0, 101.0, 101.0])  # moves: +2, -2, +1, +1
LOWER = np.array([99.0, 96.0, 99.0, 102.5])
UPPER = np.array([103.0, 98.0, 101.0, 103.5])


def test_hand_computed_metrics() -> None:
    row = horizon_metrics(LAST, ACTUAL, MEDIAN, LOWER, UPPER, nominal_coverage=0.8).iloc[0]
    # errors |1|, |1|, |1|, |3| -> MAE 6/4 = 1.5, RMSE sqrt(12/4)
    assert row["mae"] == pytest.approx(1.5)
    assert row["rmse"] == pytest.approx(np.sqrt(3.0))
    # naive errors |1|, |3|, |0|, |4| -> MAE 8/4 = 2, RMSE sqrt(26/4)
    assert row["naive_mae"] == pytest.approx(2.0)
    assert row["naive_rmse"] == pytest.approx(np.sqrt(6.5))
    assert row["relative_mae"] == pytest.approx(0.75)
    # direction hits: +/+ yes, -/- yes, 0/+ no (zero move is a hit only for a zero forecast), +/+
    assert row["directional_accuracy"] == pytest.approx(0.75)
    # always-up base rate: moves > 0 are #1 and #4 -> 2/4
    assert row["up_rate"] == pytest.approx(0.5)
    assert row["direction_edge"] == pytest.approx(0.25)
    # inside [lower, upper]: 101 in [99,103], 97 in [96,98], 100 in [99,101] (inclusive),
    # 104 not in [102.5, 103.5] -> 3/4
    assert row["coverage"] == pytest.approx(0.75)
    assert row["nominal_coverage"] == pytest.approx(0.8)
    # widths 4, 2, 2, 1 on a 100 close -> mean 2.25 %
    assert row["mean_interval_width_pct"] == pytest.approx(2.25)
    assert row["horizon"] == 1 and row["n"] == 4
    assert np.isnan(row["drift_mae"]) and np.isnan(row["relative_mae_drift"])


def test_drift_baseline() -> None:
    # drift forecast 101 everywhere: errors |0|, |4|, |1|, |3| -> drift MAE 2, model MAE 1.5
    drift = np.full(4, 101.0)
    row = horizon_metrics(
        LAST, ACTUAL, MEDIAN, LOWER, UPPER, nominal_coverage=0.8, drift=drift
    ).iloc[0]
    assert row["drift_mae"] == pytest.approx(2.0)
    assert row["relative_mae_drift"] == pytest.approx(0.75)


def test_zero_forecast_of_a_zero_move_is_a_hit() -> None:
    row = horizon_metrics([100.0], [100.0], [100.0], [99.0], [101.0], nominal_coverage=0.8).iloc[0]
    assert row["directional_accuracy"] == 1.0
    assert row["up_rate"] == 0.0
    assert np.isnan(row["relative_mae"])  # naive MAE is 0: ratio undefined


def test_perfect_forecast() -> None:
    actual = np.column_stack([ACTUAL, ACTUAL * 1.01])
    metrics = horizon_metrics(LAST, actual, actual, actual, actual, nominal_coverage=0.8)
    assert list(metrics["horizon"]) == [1, 2]
    assert (metrics["mae"] == 0).all() and (metrics["rmse"] == 0).all()
    assert (metrics["relative_mae"] == 0).all()
    assert (metrics["directional_accuracy"] == 1).all()
    assert (metrics["coverage"] == 1).all()


def test_from_log_returns_converts_to_prices() -> None:
    np.testing.assert_allclose(
        prices_from_log_returns([100.0, 50.0], [[np.log(1.1)], [np.log(0.5)]]), [[110.0], [25.0]]
    )
    actual_lr = np.log(ACTUAL / LAST)[:, None]
    q_lr = np.stack([np.log(LOWER / LAST), np.log(MEDIAN / LAST), np.log(UPPER / LAST)], axis=-1)[
        :, None, :
    ]
    row = metrics_from_log_returns(LAST, actual_lr, q_lr, (0.1, 0.5, 0.9)).iloc[0]
    assert row["mae"] == pytest.approx(1.5)
    assert row["coverage"] == pytest.approx(0.75)
    assert row["nominal_coverage"] == pytest.approx(0.8)


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError):
        horizon_metrics(LAST, ACTUAL, MEDIAN[:3], LOWER, UPPER, nominal_coverage=0.8)
