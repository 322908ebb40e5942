"""Walk-forward backtest of every candidate forecaster on the very same folds.

The last ``test_years`` of anchors are cut into ``n_folds`` contiguous test windows. For fold ``k``
starting at anchor ``a0``, a candidate sees only the rows up to the last allowed training anchor's
final target (anchors ``<= a0 - (lookback + horizon) - 1``: the same gap as between train/val
splits, so no training target row reaches a test input window). Those anchors are split into
train and validation by time with their own gap; every candidate is fitted afresh on them (the
LSTM from the parent, never from the previous fold's child; scalers and GARCH scales on the fold's
training rows only), then forecasts the fold's test anchors, with intervals calibrated by rolling
conformal on outcomes matured by each anchor (``conformal``).

Candidates are recipes (``CandidateSpec``): the LSTM challenger, the baselines, and the current
champion's recipe when it differs from the challenger's, so the promotion policy compares them on
identical windows.

Caveat the caller must own: a *parent* trained on data from the test period leaks the index's
future through its weights (the index and the stock share the market move). Pass
``parent_train_end`` (the date of the last row the parent read, target rows included) to have it
checked: ``WalkForwardResult.parent_overlaps_test`` is True when that date is on or after the first
input row of the first test window.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from stock_assets.domain.ml.config import ModelConfig
from stock_assets.domain.ml.conformal import CALIBRATION_WINDOW, calibrated_forecast
from stock_assets.domain.ml.dataset import (
    clean_frame,
    log_return_targets,
    split_anchors,
    valid_anchors,
)
from stock_assets.domain.ml.forecasters import Forecaster, IntArray
from stock_assets.domain.ml.metrics import horizon_metrics, prices_from_log_returns
from stock_assets.domain.ml.progress import EpochProgress

MIN_FOLDS = 4


@dataclass(frozen=True)
class FoldProgress:
    """Progress: fold ``fold`` of ``n_folds`` (1-based), the candidate, the epoch if training."""

    fold: int
    n_folds: int
    epoch: EpochProgress | None = None
    candidate: str | None = None

    @property
    def fraction(self) -> float:
        """Overall completion in [0, 1], counting finished epochs of the current fold."""
        within = self.epoch.epoch / self.epoch.total_epochs if self.epoch else 0.0
        return min(1.0, (self.fold - 1 + within) / self.n_folds)


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold: anchors to fit on (train, val), anchors to forecast (test)."""

    number: int
    train: IntArray
    val: IntArray
    test: IntArray
    history_rows: int  # candidates are fitted on rows 0 .. history_rows - 1 only


@dataclass(frozen=True)
class CandidateSpec:
    """A recipe: ``build(fold)`` returns a fresh, unfitted forecaster for that fold."""

    name: str
    family: str  # "learned", "baseline" or "oracle"
    build: Callable[[Fold, Callable[[EpochProgress], None] | None], Forecaster]
    recipe: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FoldSummary:
    fold: int
    train_start: str
    train_end: str  # last training anchor date (validation follows, then the gap)
    test_start: str
    test_end: str
    train_samples: int
    val_samples: int
    test_samples: int
    epochs: dict[str, int]  # learned candidates: epochs run
    wall_time_s: dict[str, float]  # per candidate: fit + forecast


@dataclass
class WalkForwardResult:
    """Predictions and per-horizon metrics of every candidate over the same test anchors."""

    candidates: dict[str, str]  # name -> family
    recipes: dict[str, dict[str, Any]]
    n_folds: int
    quantiles: tuple[float, ...]
    metrics: pd.DataFrame  # one row per (candidate, horizon), all folds pooled
    predictions: pd.DataFrame  # long: candidate, fold, anchor, horizon, log returns and prices
    folds: list[FoldSummary]
    parent_overlaps_test: bool | None  # None when parent_train_end was not given
    first_test_input_date: str

    @property
    def nominal_coverage(self) -> float:
        return round(self.quantiles[-1] - self.quantiles[0], 10)

    @property
    def horizon(self) -> int:
        return int(self.predictions["horizon"].max())

    def candidate_metrics(self, name: str) -> pd.DataFrame:
        """Per-horizon metrics of one candidate."""
        table = self.metrics[self.metrics["candidate"] == name]
        if table.empty:
            raise KeyError(f"no candidate {name!r} in this backtest")
        return table.sort_values("horizon").reset_index(drop=True)

    def plan_metrics(self, plan: Sequence[str]) -> pd.DataFrame:
        """Per horizon h, the metrics of ``plan[h - 1]`` (the candidate serving h)."""
        # Boolean masks, not DataFrame.query: query parses its expression with ``ast``, and two
        # threads parsing at once (runs share the API's process when it launches in-process)
        # raised "SystemError: AST constructor recursion depth mismatch" on this Python.
        rows = [
            self.metrics[(self.metrics["candidate"] == name) & (self.metrics["horizon"] == h)]
            for h, name in enumerate(plan, 1)
        ]
        return pd.concat(rows).reset_index(drop=True)

    def abs_errors(self, name: str, horizon: int) -> pd.Series:
        """Absolute log-return error of the median, indexed by anchor row."""
        sel = self.predictions[
            (self.predictions["candidate"] == name) & (self.predictions["horizon"] == horizon)
        ]
        return (sel["median_lr"] - sel["actual_lr"]).abs().set_axis(sel["anchor"].to_numpy())

    def plot_frame(self, name: str, horizon: int = 1) -> pd.DataFrame:
        """Actual vs forecast price and interval for one candidate and horizon, by target date."""
        sel = self.predictions[
            (self.predictions["candidate"] == name) & (self.predictions["horizon"] == horizon)
        ]
        return sel[["target_date", "fold", "actual", "median", "lower", "upper"]].reset_index(
            drop=True
        )

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (metrics as records) for metadata, MLflow and reports."""
        return {
            "candidates": self.candidates,
            "recipes": self.recipes,
            "n_folds": self.n_folds,
            "nominal_coverage": self.nominal_coverage,
            "parent_overlaps_test": self.parent_overlaps_test,
            "first_test_input_date": self.first_test_input_date,
            "metrics": self.metrics.to_dict(orient="records"),
            "folds": [asdict(f) for f in self.folds],
        }


BacktestCallback = Callable[[FoldProgress], None]


def select_test_anchors(
    anchors: IntArray,
    anchor_dates: pd.DatetimeIndex,
    test_years: float,
    max_test_share: float,
) -> IntArray:
    """Anchors of the last ``test_years`` (capped at ``max_test_share`` of all anchors).

    The cap is "what the data allows": a short history keeps at least ``1 - max_test_share`` of
    its anchors for training the first fold.
    """
    start = anchor_dates[-1] - pd.DateOffset(days=round(365.25 * test_years))
    n_test = int(np.sum(anchor_dates > start))
    n_test = min(n_test, int(np.floor(len(anchors) * max_test_share)))
    return anchors[len(anchors) - n_test :]


class ShortHistoryError(ValueError):
    """Too little history for a walk-forward backtest: how many sessions there are and how many
    the folds need (a user's answer, not a traceback: a recent listing is a normal case)."""

    def __init__(self, rows: int, needed: int, n_folds: int) -> None:
        self.rows, self.needed, self.n_folds = rows, needed, n_folds
        super().__init__(
            f"{rows} sessions of complete history; a walk-forward backtest of {n_folds} folds "
            f"needs at least {needed}"
        )


def plan_folds(
    cleaned: pd.DataFrame,
    config: ModelConfig,
    *,
    n_folds: int = MIN_FOLDS,
    test_years: float = 2.0,
    max_test_share: float = 0.5,
) -> list[Fold]:
    """The folds of a cleaned frame: gapped fit anchors before each contiguous test window.

    Raises :class:`ShortHistoryError` when the frame is too short for ``n_folds`` folds.
    """
    if n_folds < MIN_FOLDS:
        raise ValueError(f"n_folds must be >= {MIN_FOLDS}")
    dates = pd.DatetimeIndex(cleaned["date"])
    folds = _folds(dates, config, n_folds, test_years, max_test_share)
    if folds is None:
        end = dates[-1] if len(dates) else pd.Timestamp.today().normalize()
        needed = sessions_needed(
            config, n_folds=n_folds, test_years=test_years, max_test_share=max_test_share, end=end
        )
        raise ShortHistoryError(len(cleaned), needed, n_folds)
    return folds


def _folds(
    dates: pd.DatetimeIndex,
    config: ModelConfig,
    n_folds: int,
    test_years: float,
    max_test_share: float,
) -> list[Fold] | None:
    """The folds over rows dated ``dates``, or None where they are too few."""
    lookback, horizon = config.lookback, config.horizon
    anchors = valid_anchors(len(dates), lookback, horizon)
    if len(anchors) == 0:
        return None
    test_anchors = select_test_anchors(anchors, dates[anchors], test_years, max_test_share)
    if len(test_anchors) < n_folds:
        return None
    folds = []
    for k, test in enumerate(np.array_split(test_anchors, n_folds), start=1):
        last_train_anchor = int(test[0]) - (lookback + horizon) - 1
        # Rows up to the last allowed anchor's final target: nothing at or after the fold leaks.
        history_rows = last_train_anchor + horizon + 1
        fit_anchors = valid_anchors(history_rows, lookback, horizon)
        try:
            splits = split_anchors(fit_anchors, lookback, horizon, config.val_fraction, 0.0)
        except ValueError:  # too few anchors to fit this fold
            return None
        folds.append(Fold(k, splits.train, splits.val, test, history_rows))
    return folds


def sessions_needed(
    config: ModelConfig,
    *,
    n_folds: int = MIN_FOLDS,
    test_years: float = 2.0,
    max_test_share: float = 0.5,
    end: pd.Timestamp | None = None,
) -> int:
    """The fewest sessions (weekdays up to ``end``) for which ``n_folds`` folds can be planned.

    More sessions never plan fewer folds, so a bisection finds it."""
    end = pd.Timestamp(end) if end is not None else pd.Timestamp("2024-12-31")

    def plans(n: int) -> bool:
        dates = pd.bdate_range(end=end, periods=n)
        return _folds(dates, config, n_folds, test_years, max_test_share) is not None

    low, high = config.lookback + config.horizon, 256
    while not plans(high):
        low, high = high, high * 2
    while high - low > 1:  # plans(high) and, unless low is the floor, not plans(low)
        mid = (low + high) // 2
        low, high = (low, mid) if plans(mid) else (mid, high)
    return high


def first_test_input_date(
    frame: pd.DataFrame,
    config: ModelConfig,
    *,
    n_folds: int = MIN_FOLDS,
    test_years: float = 2.0,
    max_test_share: float = 0.5,
    timestamp_column: str | None = None,
) -> pd.Timestamp:
    """Date of the first input row of the backtest's first test window.

    Anything that must not see the test period (a parent model, a benchmark's training run) should
    use only rows dated strictly before this. The folds are planned to find it, so a history too
    short to backtest raises :class:`ShortHistoryError` here, before anything is trained on it.
    """
    cleaned = clean_frame(frame, config.feature_columns, timestamp_column)
    folds = plan_folds(
        cleaned, config, n_folds=n_folds, test_years=test_years, max_test_share=max_test_share
    )
    return _first_input(pd.DatetimeIndex(cleaned["date"]), folds, config)


def _first_input(dates: pd.DatetimeIndex, folds: list[Fold], config: ModelConfig) -> pd.Timestamp:
    return pd.Timestamp(dates[int(folds[0].test[0]) - config.lookback + 1])


def _prediction_rows(  # noqa: PLR0917 - one row block per (candidate, fold)
    name: str,
    family: str,
    fold: Fold,
    cleaned: pd.DataFrame,
    targets: np.ndarray,
    values: np.ndarray,
    quantiles: tuple[float, ...],
) -> pd.DataFrame:
    test, horizon = fold.test, values.shape[1]
    h_idx = np.arange(1, horizon + 1)
    dates = cleaned["date"].to_numpy()
    close = cleaned["close"].to_numpy(dtype=float)[test]
    actual_lr = targets[test]
    med = values[:, :, quantiles.index(0.5)]
    columns: dict[str, Any] = {
        "candidate": name,
        "family": family,
        "fold": fold.number,
        "anchor": np.repeat(test, horizon),
        "anchor_date": np.repeat(dates[test], horizon),
        "target_date": dates[(test[:, None] + h_idx).ravel()],
        "horizon": np.tile(h_idx, len(test)),
        "last_close": np.repeat(close, horizon),
        "actual_lr": actual_lr.ravel(),
        "median_lr": med.ravel(),
        "lower_lr": values[:, :, 0].ravel(),
        "upper_lr": values[:, :, -1].ravel(),
        "actual": prices_from_log_returns(close, actual_lr).ravel(),
        "median": prices_from_log_returns(close, med).ravel(),
        "lower": prices_from_log_returns(close, values[:, :, 0]).ravel(),
        "upper": prices_from_log_returns(close, values[:, :, -1]).ravel(),
    }
    for i, q in enumerate(quantiles):
        columns[f"q{q:g}"] = values[:, :, i].ravel()
    return pd.DataFrame(columns)


def metrics_from_predictions(
    predictions: pd.DataFrame, quantiles: tuple[float, ...]
) -> pd.DataFrame:
    """Per (candidate, horizon) metrics of long predictions, with pinball and interval score
    relative to the naive candidate's when it is present."""
    parts = []
    q_cols = [f"q{q:g}" for q in quantiles]
    for name, group in predictions.groupby("candidate", sort=False):
        wide = {
            col: group.pivot(index="anchor", columns="horizon", values=col)
            for col in ("actual_lr", "last_close", *q_cols)
        }
        q_values = np.stack([wide[c].to_numpy() for c in q_cols], axis=-1)
        table = horizon_metrics(
            wide["last_close"].iloc[:, 0].to_numpy(),
            wide["actual_lr"].to_numpy(),
            q_values,
            quantiles,
        )
        table.insert(0, "candidate", name)
        parts.append(table)
    metrics = pd.concat(parts, ignore_index=True)
    naive = metrics[metrics["candidate"] == "naive"].set_index("horizon")
    if not naive.empty:
        for col in ("pinball_pct", "interval_score_pct"):
            ref = metrics["horizon"].map(naive[col])
            metrics[f"relative_{col.removesuffix('_pct')}"] = metrics[col] / ref
    return metrics


def run_walk_forward(
    frame: pd.DataFrame,
    candidates: Sequence[CandidateSpec],
    config: ModelConfig,
    *,
    n_folds: int = MIN_FOLDS,
    test_years: float = 2.0,
    max_test_share: float = 0.5,
    calibration_window: int = CALIBRATION_WINDOW,
    progress_callback: BacktestCallback | None = None,
    timestamp_column: str | None = None,
    parent_train_end: pd.Timestamp | str | None = None,
) -> WalkForwardResult:
    """Fit and forecast every candidate on every fold; pooled metrics per candidate and horizon.

    ``config`` sets the windows (lookback, horizon, validation share) and the quantiles that every
    candidate forecasts, so all are scored on identical anchors and intervals.
    """
    names = [c.name for c in candidates]
    if len(set(names)) != len(names) or not names:
        raise ValueError(f"candidate names must be unique and non-empty, got {names}")
    cleaned = clean_frame(frame, config.feature_columns, timestamp_column)
    folds = plan_folds(
        cleaned, config, n_folds=n_folds, test_years=test_years, max_test_share=max_test_share
    )
    targets = log_return_targets(cleaned["close"].to_numpy(dtype=float), config.horizon)
    dates = pd.DatetimeIndex(cleaned["date"])
    parts: list[pd.DataFrame] = []
    summaries: list[FoldSummary] = []
    for fold in folds:
        history = cleaned.iloc[: fold.history_rows]
        epochs: dict[str, int] = {}
        walls: dict[str, float] = {}
        for spec in candidates:
            if progress_callback is not None:
                progress_callback(FoldProgress(fold.number, n_folds, None, spec.name))

            def on_epoch(progress: EpochProgress, k: int = fold.number, c: str = spec.name) -> None:
                if progress_callback is not None:
                    progress_callback(FoldProgress(k, n_folds, progress, c))

            started = time.perf_counter()
            forecaster = spec.build(fold, on_epoch)
            forecaster.fit(history, fold.train, fold.val)
            calibrated = calibrated_forecast(
                forecaster,
                cleaned,
                fold.test,
                calibration_start=int(fold.val[0]),
                coverage=config.nominal_coverage,
                horizon=config.horizon,
                window=calibration_window,
            )
            walls[spec.name] = round(time.perf_counter() - started, 3)
            result = getattr(forecaster, "result", None)
            if result is not None:
                epochs[spec.name] = int(result.epochs_run)
            parts.append(
                _prediction_rows(
                    spec.name,
                    spec.family,
                    fold,
                    cleaned,
                    targets,
                    calibrated.forecast.values,
                    config.quantiles,
                )
            )
        summaries.append(
            FoldSummary(
                fold=fold.number,
                train_start=str(dates[fold.train[0]].date()),
                train_end=str(dates[fold.train[-1]].date()),
                test_start=str(dates[fold.test[0]].date()),
                test_end=str(dates[fold.test[-1]].date()),
                train_samples=len(fold.train),
                val_samples=len(fold.val),
                test_samples=len(fold.test),
                epochs=epochs,
                wall_time_s=walls,
            )
        )
    predictions = pd.concat(parts, ignore_index=True)
    first_input = _first_input(dates, folds, config)
    overlap: bool | None = None
    if parent_train_end is not None:
        overlap = bool(pd.Timestamp(parent_train_end) >= first_input)
    return WalkForwardResult(
        candidates={c.name: c.family for c in candidates},
        recipes={c.name: dict(c.recipe) for c in candidates},
        n_folds=n_folds,
        quantiles=config.quantiles,
        metrics=metrics_from_predictions(predictions, config.quantiles),
        predictions=predictions,
        folds=summaries,
        parent_overlaps_test=overlap,
        first_test_input_date=str(first_input.date()),
    )
