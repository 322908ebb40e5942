"""Targets, windows, gapped time splits, and a scaler fit on training rows only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stock_assets.domain.calendar import trading_days
from stock_assets.domain.ml.config import TINY
from stock_assets.domain.ml.dataset import (
    clean_frame,
    latest_window,
    log_return_targets,
    make_windows,
    prepare_data,
    valid_anchors,
)

FEATURES = ("f1", "f2")
CFG = TINY.replace(feature_columns=FEATURES, lookback=5, horizon=3)


def generic_frame(n: int = 200, seed: int = 1) -> pd.DataFrame:
    """Two features whose level shifts late in the series, so train-only stats differ clearly."""
    rng = np.random.default_rng(seed)
    f1 = rng.normal(0, 1, n)
    f1[n // 2 :] += 10.0
    return pd.DataFrame(
        {
            "date": trading_days("2015-01-02", "2016-12-30")[:n],
            "close": 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n))),
            "f1": f1,
            "f2": np.arange(n, dtype=float),
        }
    )


def test_targets_on_a_hand_made_series() -> None:
    y = log_return_targets(np.array([100.0, 110.0, 121.0, 100.0, 50.0]), horizon=2)
    expected = np.array(
        [
            [np.log(1.1), np.log(1.21)],
            [np.log(1.1), np.log(100 / 110)],
            [np.log(100 / 121), np.log(50 / 121)],
            [np.log(0.5), np.nan],
            [np.nan, np.nan],
        ]
    )
    np.testing.assert_allclose(y, expected, equal_nan=True)
    # Anchors need a full window behind and all targets ahead: lookback 2 -> rows 1..2.
    np.testing.assert_array_equal(valid_anchors(5, lookback=2, horizon=2), [1, 2])


def test_windows_are_the_rows_ending_at_the_anchor() -> None:
    feats = np.arange(20, dtype=float).reshape(10, 2)
    win = make_windows(feats, np.array([3, 9]), lookback=4)
    assert win.shape == (2, 4, 2) and win.dtype == np.float32
    np.testing.assert_array_equal(win[0], feats[0:4])
    np.testing.assert_array_equal(win[1], feats[6:10])


def test_split_samples_match_their_targets_and_windows() -> None:
    frame = generic_frame()
    data = prepare_data(frame, CFG)
    close = frame["close"].to_numpy()
    for split in (data.train, data.val, data.test):
        t = split.anchors
        np.testing.assert_allclose(split.y[:, 0], np.log(close[t + 1] / close[t]))
        np.testing.assert_allclose(split.y[:, 2], np.log(close[t + 3] / close[t]))
        np.testing.assert_allclose(split.last_close, close[t])
        assert (split.anchor_dates == pd.DatetimeIndex(frame["date"].to_numpy()[t])).all()
        # The last step of each window is the anchor row's scaled feature vector.
        scaled_anchor = data.scaler.transform(frame.loc[t, list(FEATURES)].to_numpy())
        np.testing.assert_allclose(split.x[:, -1, :], scaled_anchor, rtol=1e-5, atol=1e-5)


def test_gap_separates_splits_and_no_window_crosses() -> None:
    data = prepare_data(generic_frame(), CFG)
    lookback, horizon = CFG.lookback, CFG.horizon
    assert len(data.train) and len(data.val) and len(data.test)
    pairs = ((data.train, data.val), (data.val, data.test))
    for early, late in pairs:
        last_target_row = early.anchors.max() + horizon
        first_input_row = late.anchors.min() - lookback + 1
        assert last_target_row < first_input_row
        assert late.anchors.min() - early.anchors.max() == lookback + horizon + 1
    for split in (data.train, data.val, data.test):
        assert np.all(np.diff(split.anchors) == 1)  # contiguous, time-ordered


def test_scaler_uses_training_rows_only() -> None:
    frame = generic_frame()
    data = prepare_data(frame, CFG)
    lo, hi = data.scaler_rows
    assert lo == 0 and hi == data.train.anchors.max()
    train_rows = frame.loc[lo:hi, list(FEATURES)].to_numpy()
    np.testing.assert_allclose(data.scaler.mean_, train_rows.mean(axis=0))
    np.testing.assert_allclose(data.scaler.scale_, train_rows.std(axis=0))
    np.testing.assert_allclose(data.scaler.target_scale_, data.train.y.std(axis=0))
    # The late level shift is not in the training rows: full-data stats would differ a lot.
    full_mean = frame[list(FEATURES)].to_numpy().mean(axis=0)
    assert abs(full_mean[0] - data.scaler.mean_[0]) > 1.0


def test_warmup_rows_are_dropped_and_later_nan_is_an_error() -> None:
    frame = generic_frame(120)
    frame.loc[:4, "f1"] = np.nan
    cleaned = clean_frame(frame, FEATURES)
    assert len(cleaned) == 115 and cleaned["date"].iloc[0] == frame["date"].iloc[5]
    frame.loc[50, "f2"] = np.nan
    with pytest.raises(ValueError, match="f2"):
        clean_frame(frame, FEATURES)


def test_event_timestamp_is_accepted_and_normalised() -> None:
    frame = generic_frame(120)
    ts = pd.to_datetime(frame.pop("date")).dt.tz_localize("UTC") + pd.Timedelta(hours=21)
    frame.insert(0, "event_timestamp", ts)
    cleaned = clean_frame(frame.iloc[::-1], FEATURES)  # unsorted input is sorted
    assert cleaned["date"].dt.tz is None
    assert cleaned["date"].iloc[0] == pd.Timestamp("2015-01-02")
    with pytest.raises(ValueError, match="duplicate"):
        clean_frame(pd.concat([frame, frame.iloc[:1]]), FEATURES)


def test_too_little_data_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not enough data"):
        prepare_data(generic_frame(20), CFG)


def test_latest_window_uses_the_last_rows_and_given_scaler() -> None:
    frame = generic_frame()
    data = prepare_data(frame, CFG)
    window = latest_window(frame, data.scaler, CFG)
    assert window.x.shape == (1, CFG.lookback, 2)
    expected = data.scaler.transform(frame[list(FEATURES)].to_numpy()[-CFG.lookback :])
    np.testing.assert_allclose(window.x[0], expected, rtol=1e-5)
    assert window.as_of == frame["date"].iloc[-1]
    assert window.last_close == frame["close"].iloc[-1]
