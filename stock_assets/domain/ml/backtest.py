"""Walk-forward backtest: the child is retrained from the parent for every fold.

The last ``test_years`` of anchors are cut into ``n_folds`` contiguous test windows. For fold ``k``
starting at anchor ``a0``, training uses only anchors ``<= a0 - (lookback + horizon) - 1`` (the same
gap as between train/val/test splits, so no training target row reaches a test input window), split
into train/val by time with its own gap, and with its own scaler fit on that fold's training rows.
The child starts from the parent every fold (never from the previous fold's child), trains for at
most ``config.epochs`` epochs, and predicts the fold's test anchors.

Caveat the caller must own: the *parent* must not have been trained on data from the test period
either, or the index's future leaks in through its weights (the index and the stock share the market
move). Pass ``parent_train_end`` (the date of the last row the parent used, target rows included) to
have the overlap reported: ``BacktestResult.parent_overlaps_test`` is True when that date is on or
after the first input row of the first test window, the same rule as the split gap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from stock_assets.domain.ml.config import ModelConfig, Strategy
from stock_assets.domain.ml.dataset import (
    build_split,
    clean_frame,
    log_return_targets,
    prepare_data,
    valid_anchors,
)
from stock_assets.domain.ml.metrics import horizon_metrics, prices_from_log_returns
from stock_assets.domain.ml.model import init_child_from_parent, predict_log_returns
from stock_assets.domain.ml.trainer import EpochProgress, train

MIN_FOLDS = 4


@dataclass(frozen=True)
class FoldProgress:
    """Progress of a backtest: fold ``fold`` of ``n_folds`` (1-based), and the epoch if training."""

    fold: int
    n_folds: int
    epoch: EpochProgress | None = None

    @property
    def fraction(self) -> float:
        """Overall completion in [0, 1], counting finished epochs of the current fold."""
        within = self.epoch.epoch / self.epoch.total_epochs if self.epoch else 0.0
        return min(1.0, (self.fold - 1 + within) / self.n_folds)


@dataclass(frozen=True)
class FoldSummary:
    fold: int
    train_start: str
    train_end: str  # last training anchor date (val follows, then the gap)
    test_start: str
    test_end: str
    train_samples: int
    val_samples: int
    test_samples: int
    epochs_run: int
    best_val_loss: float
    wall_time_s: float


@dataclass
class BacktestResult:
    """Metrics per horizon (pooled over folds and per fold) and the raw predictions."""

    strategy: str
    n_folds: int
    metrics: pd.DataFrame  # one row per horizon, all folds pooled
    fold_metrics: pd.DataFrame  # one row per (fold, horizon)
    predictions: pd.DataFrame  # long: fold, anchor_date, target_date, horizon, prices
    folds: list[FoldSummary]
    nominal_coverage: float
    parent_overlaps_test: bool | None  # None when parent_train_end was not given

    def plot_frame(self, horizon: int = 1) -> pd.DataFrame:
        """Actual vs predicted price and interval for one horizon, indexed by the target date."""
        sel = self.predictions[self.predictions["horizon"] == horizon]
        return sel[["target_date", "fold", "actual", "median", "lower", "upper"]].reset_index(
            drop=True
        )

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (metrics as records) for metadata, MLflow and reports."""
        return {
            "strategy": self.strategy,
            "n_folds": self.n_folds,
            "nominal_coverage": self.nominal_coverage,
            "parent_overlaps_test": self.parent_overlaps_test,
            "metrics": self.metrics.to_dict(orient="records"),
            "fold_metrics": self.fold_metrics.to_dict(orient="records"),
            "folds": [asdict(f) for f in self.folds],
        }


BacktestCallback = Callable[[FoldProgress], None]


def select_test_anchors(
    anchors: np.ndarray,
    anchor_dates: pd.DatetimeIndex,
    test_years: float,
    max_test_share: float,
) -> np.ndarray:
    """Anchors of the last ``test_years`` (capped at ``max_test_share`` of all anchors).

    The cap is "what the data allows": a short history keeps at least ``1 - max_test_share`` of
    its anchors for training the first fold.
    """
    start = anchor_dates[-1] - pd.DateOffset(days=round(365.25 * test_years))
    n_test = int(np.sum(anchor_dates > start))
    n_test = min(n_test, int(np.floor(len(anchors) * max_test_share)))
    return anchors[len(anchors) - n_test :]


def first_test_input_date(
    frame: pd.DataFrame,
    config: ModelConfig,
    *,
    test_years: float = 2.0,
    max_test_share: float = 0.5,
    timestamp_column: str | None = None,
) -> pd.Timestamp:
    """Date of the first input row of the backtest's first test window.

    Anything that must not see the test period (a parent model, a benchmark's training run) should
    use only rows dated strictly before this.
    """
    cleaned = clean_frame(frame, config.feature_columns, timestamp_column)
    anchors = valid_anchors(len(cleaned), config.lookback, config.horizon)
    if len(anchors) == 0:
        raise ValueError("not enough rows for a single sample")
    dates = pd.DatetimeIndex(cleaned["date"])
    test = select_test_anchors(anchors, dates[anchors], test_years, max_test_share)
    if len(test) == 0:
        raise ValueError("no test anchors")
    return pd.Timestamp(dates[int(test[0]) - config.lookback + 1])


def run_backtest(
    frame: pd.DataFrame,
    parent_state_dict: Mapping[str, torch.Tensor] | None,
    config: ModelConfig,
    strategy: Strategy | str,
    *,
    n_folds: int = MIN_FOLDS,
    test_years: float = 2.0,
    progress_callback: BacktestCallback | None = None,
    device: str | torch.device | None = None,
    timestamp_column: str | None = None,
    max_test_share: float = 0.5,
    parent_train_end: pd.Timestamp | str | None = None,
) -> BacktestResult:
    """Walk-forward backtest of ``strategy`` children of ``parent_state_dict`` on ``frame``."""
    strategy = Strategy(strategy)
    if n_folds < MIN_FOLDS:
        raise ValueError(f"n_folds must be >= {MIN_FOLDS}")
    cleaned = clean_frame(frame, config.feature_columns, timestamp_column)
    lookback, horizon = config.lookback, config.horizon
    anchors = valid_anchors(len(cleaned), lookback, horizon)
    if len(anchors) == 0:
        raise ValueError("not enough rows for a single sample")
    dates = pd.DatetimeIndex(cleaned["date"])
    test_anchors = select_test_anchors(anchors, dates[anchors], test_years, max_test_share)
    if len(test_anchors) < n_folds:
        raise ValueError(f"only {len(test_anchors)} test anchors for {n_folds} folds")
    fold_anchor_sets = np.array_split(test_anchors, n_folds)

    raw_features = cleaned[list(config.feature_columns)].to_numpy(dtype=float)
    targets = log_return_targets(cleaned["close"].to_numpy(dtype=float), horizon)
    gap = lookback + horizon
    date_values = cleaned["date"].to_numpy()

    pred_parts: list[pd.DataFrame] = []
    fold_metric_parts: list[pd.DataFrame] = []
    summaries: list[FoldSummary] = []
    for k, fold_anchors in enumerate(fold_anchor_sets, start=1):
        if progress_callback is not None:
            progress_callback(FoldProgress(k, n_folds))
        last_train_anchor = int(fold_anchors[0]) - gap - 1
        # Rows up to the last allowed anchor's final target: nothing at or after the fold leaks.
        history = cleaned.iloc[: last_train_anchor + horizon + 1]
        prepared = prepare_data(history, config, timestamp_column="date", test_fraction=0.0)
        model = init_child_from_parent(parent_state_dict, config, strategy)

        def on_epoch(progress: EpochProgress, fold: int = k) -> None:
            if progress_callback is not None:
                progress_callback(FoldProgress(fold, n_folds, progress))

        result = train(model, prepared, config, strategy, progress_callback=on_epoch, device=device)

        scaled = prepared.scaler.transform(raw_features)
        test = build_split(cleaned, scaled, targets, fold_anchors, lookback)
        q_lr = predict_log_returns(model, prepared.scaler, test.x)
        q_prices = prices_from_log_returns(test.last_close, q_lr)
        actual = test.actual_prices
        median = q_prices[:, :, config.median_index]
        lower, upper = q_prices[:, :, 0], q_prices[:, :, -1]
        # Drift baseline from this fold's training targets only: mean h-day log return.
        drift = test.last_close[:, None] * np.exp(prepared.train.y.mean(axis=0))[None, :]

        fm = horizon_metrics(
            test.last_close,
            actual,
            median,
            lower,
            upper,
            nominal_coverage=config.nominal_coverage,
            drift=drift,
        )
        fm.insert(0, "fold", k)
        fold_metric_parts.append(fm)
        n_test, h_idx = len(test), np.arange(1, horizon + 1)
        pred_parts.append(
            pd.DataFrame(
                {
                    "fold": k,
                    "anchor_date": np.repeat(test.anchor_dates.to_numpy(), horizon),
                    "target_date": date_values[(fold_anchors[:, None] + h_idx).ravel()],
                    "horizon": np.tile(h_idx, n_test),
                    "last_close": np.repeat(test.last_close, horizon),
                    "actual": actual.ravel(),
                    "median": median.ravel(),
                    "lower": lower.ravel(),
                    "upper": upper.ravel(),
                    "drift": drift.ravel(),
                }
            )
        )
        summaries.append(
            FoldSummary(
                fold=k,
                train_start=str(prepared.train.anchor_dates[0].date()),
                train_end=str(prepared.train.anchor_dates[-1].date()),
                test_start=str(test.anchor_dates[0].date()),
                test_end=str(test.anchor_dates[-1].date()),
                train_samples=len(prepared.train),
                val_samples=len(prepared.val),
                test_samples=n_test,
                epochs_run=result.epochs_run,
                best_val_loss=result.best_val_loss,
                wall_time_s=result.wall_time_s,
            )
        )

    predictions = pd.concat(pred_parts, ignore_index=True)
    wide = {
        col: predictions.pivot(index=["fold", "anchor_date"], columns="horizon", values=col)
        for col in ("actual", "median", "lower", "upper", "drift", "last_close")
    }
    pooled = horizon_metrics(
        wide["last_close"].iloc[:, 0].to_numpy(),
        wide["actual"].to_numpy(),
        wide["median"].to_numpy(),
        wide["lower"].to_numpy(),
        wide["upper"].to_numpy(),
        nominal_coverage=config.nominal_coverage,
        drift=wide["drift"].to_numpy(),
    )
    overlap: bool | None = None
    if parent_train_end is not None:
        overlap = bool(pd.Timestamp(parent_train_end) >= dates[int(test_anchors[0]) - lookback + 1])
    return BacktestResult(
        strategy=strategy.value,
        n_folds=n_folds,
        metrics=pooled,
        fold_metrics=pd.concat(fold_metric_parts, ignore_index=True),
        predictions=predictions,
        folds=summaries,
        nominal_coverage=config.nominal_coverage,
        parent_overlaps_test=overlap,
    )
