"""Walk-forward backtest on a random walk: honest numbers, no leakage, bounded work."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from stock_assets.domain.ml.backtest import FoldProgress, first_test_input_date, run_backtest
from stock_assets.domain.ml.config import TINY
from stock_assets.domain.ml.dataset import prepare_data
from stock_assets.domain.ml.model import build_model
from stock_assets.domain.ml.trainer import train

FrameFactory = Callable[..., pd.DataFrame]


def test_random_walk_backtest_is_close_to_naive(indicator_frame: FrameFactory) -> None:
    cfg = TINY.replace(epochs=3)
    frame = indicator_frame(900, seed=12)
    # The parent sees the index up to the child's last date, as a parent trained on all history.
    parent_frame = indicator_frame(600, seed=11, end=str(frame["date"].iloc[-1].date()))
    parent = build_model(cfg)
    train(parent, prepare_data(parent_frame, cfg), cfg, "scratch", device="cpu")

    progress: list[FoldProgress] = []
    result = run_backtest(
        frame,
        parent.state_dict(),
        cfg,
        "fine_tune",
        n_folds=4,
        test_years=1.0,
        progress_callback=progress.append,
        device="cpu",
        parent_train_end=parent_frame["date"].iloc[-1],
    )
    assert result.n_folds == 4 and len(result.folds) == 4
    assert list(result.metrics["horizon"]) == list(range(1, cfg.horizon + 1))
    assert set(result.fold_metrics["fold"]) == {1, 2, 3, 4}
    # A random walk cannot be beaten: far better than naive would mean leakage.
    rel = result.metrics["relative_mae"]
    assert (rel > 0.9).all() and (rel < 1.5).all(), rel.tolist()
    assert result.metrics["coverage"].between(0, 1).all()
    assert (result.metrics["relative_mae_drift"] > 0.9).all()
    assert result.metrics["directional_accuracy"].between(0, 1).all()

    # Test windows: the last ~year of anchors, contiguous, folds in time order.
    anchors = result.predictions.drop_duplicates(["fold", "anchor_date"])
    assert anchors["anchor_date"].is_monotonic_increasing
    span = anchors["anchor_date"].iloc[-1] - anchors["anchor_date"].iloc[0]
    assert pd.Timedelta(days=330) < span < pd.Timedelta(days=366)
    dates = pd.DatetimeIndex(frame["date"])
    for fold in result.folds:
        # Training anchors (and their targets) end well before the fold's first test window.
        last_train = dates.get_loc(pd.Timestamp(fold.train_end))
        first_test = dates.get_loc(pd.Timestamp(fold.test_start))
        assert last_train + cfg.horizon < first_test - cfg.lookback + 1
        assert fold.epochs_run <= cfg.epochs
    # The first test window's first input row: what a parent must not reach.
    first_anchor = dates.get_loc(anchors["anchor_date"].iloc[0])
    start = first_test_input_date(frame, cfg, test_years=1.0)
    assert start == dates[first_anchor - cfg.lookback + 1]
    # The parent's data overlaps the test years: reported, not hidden.
    assert result.parent_overlaps_test is True

    plot = result.plot_frame(1)
    assert len(plot) == len(anchors) and (plot["lower"] <= plot["upper"]).all()
    np.testing.assert_allclose(
        plot["actual"].to_numpy(),
        frame.set_index("date").loc[plot["target_date"], "close"].to_numpy(),
    )

    assert progress[0] == FoldProgress(1, 4)
    assert {p.fold for p in progress} == {1, 2, 3, 4}
    fractions = [p.fraction for p in progress]
    assert fractions == sorted(fractions) and fractions[0] >= 0 and fractions[-1] <= 1
    assert result.summary()["metrics"][0]["horizon"] == 1


def test_needs_at_least_four_folds(indicator_frame: FrameFactory) -> None:
    with pytest.raises(ValueError, match="n_folds"):
        run_backtest(indicator_frame(300), None, TINY, "scratch", n_folds=3)
