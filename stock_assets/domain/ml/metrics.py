"""Per-horizon forecast metrics on prices, against the naive persistence forecast.

Pure numpy, small enough to check by hand. Conventions:

- predicted price = ``last_close * exp(predicted log return)``; quantile prices likewise (``exp``
  is monotone, so quantiles of the log return map to quantiles of the price);
- naive persistence forecast = ``last_close`` for every horizon; ``relative_mae = mae / naive_mae``
  (NaN when the naive MAE is 0, i.e. prices never moved);
- direction: a forecast is a hit when ``sign(predicted - last_close) == sign(actual - last_close)``
  with ``sign(0) = 0``. So an actual zero move is a hit only for a forecast of exactly no move.
  ``up_rate`` (share of actual moves ``> 0``) is the directional accuracy that an always-up
  forecaster gets under the very same rule, which makes the two directly comparable;
- coverage: share of actual prices inside ``[lower, upper]`` (bounds inclusive), to compare with
  ``nominal_coverage`` (``q_high - q_low``);
- optional drift baseline: ``last_close * exp(mean training log return over h days)``. A model
  that beats naive only as much as the drift baseline does (``relative_mae_drift`` ~ 1) has
  learned the trend, not leaked the future: over a strongly trending test period a constant drift
  alone can reach a relative MAE of ~0.95 at longer horizons.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

METRIC_COLUMNS: tuple[str, ...] = (
    "horizon",
    "n",
    "mae",
    "rmse",
    "naive_mae",
    "naive_rmse",
    "relative_mae",
    "relative_rmse",
    "directional_accuracy",
    "up_rate",
    "direction_edge",
    "coverage",
    "nominal_coverage",
    "mean_interval_width_pct",
    "drift_mae",
    "relative_mae_drift",
)


def prices_from_log_returns(last_close: ArrayLike, log_returns: ArrayLike) -> NDArray[np.float64]:
    """``last_close * exp(log_returns)``; ``last_close`` ``(N,)`` broadcasts over trailing axes."""
    close = np.asarray(last_close, dtype=float)
    lr = np.asarray(log_returns, dtype=float)
    return close.reshape(close.shape + (1,) * (lr.ndim - close.ndim)) * np.exp(lr)


def _as_2d(values: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=float)
    return arr[:, None] if arr.ndim == 1 else arr


def _safe_ratio(num: float, den: float) -> float:
    # NaN denominators (no drift given) fall through to NaN as well.
    return float(num / den) if den > 0 else float("nan")


def horizon_metrics(
    last_close: ArrayLike,
    actual: ArrayLike,
    median: ArrayLike,
    lower: ArrayLike,
    upper: ArrayLike,
    *,
    nominal_coverage: float,
    drift: ArrayLike | None = None,
) -> pd.DataFrame:
    """One row per horizon. ``last_close`` is ``(N,)``; the others are ``(N, H)`` prices.

    1-D ``actual``/``median``/``lower``/``upper`` are treated as a single horizon. ``drift`` (same
    shape, prices) is the drift-baseline forecast; without it the drift columns are NaN.
    """
    base = np.asarray(last_close, dtype=float).reshape(-1, 1)
    act, med, lo, hi = (_as_2d(a) for a in (actual, median, lower, upper))
    if not act.shape == med.shape == lo.shape == hi.shape or act.shape[0] != base.shape[0]:
        raise ValueError("last_close (N,) and actual/median/lower/upper (N, H) shapes disagree")
    if act.shape[0] == 0:
        raise ValueError("no samples to evaluate")

    drift_err = _as_2d(drift) - act if drift is not None else np.full(act.shape, np.nan)
    if drift_err.shape != act.shape:
        raise ValueError("drift must have the shape of actual")
    err = med - act
    naive_err = base - act
    actual_move = np.sign(act - base)
    pred_move = np.sign(med - base)
    rows: list[dict[str, Any]] = []
    for h in range(act.shape[1]):
        mae = float(np.mean(np.abs(err[:, h])))
        rmse = float(np.sqrt(np.mean(err[:, h] ** 2)))
        naive_mae = float(np.mean(np.abs(naive_err[:, h])))
        naive_rmse = float(np.sqrt(np.mean(naive_err[:, h] ** 2)))
        hit = float(np.mean(pred_move[:, h] == actual_move[:, h]))
        up = float(np.mean(actual_move[:, h] > 0))
        inside = (act[:, h] >= lo[:, h]) & (act[:, h] <= hi[:, h])
        drift_mae = float(np.mean(np.abs(drift_err[:, h])))
        rows.append(
            {
                "horizon": h + 1,
                "n": int(act.shape[0]),
                "mae": mae,
                "rmse": rmse,
                "naive_mae": naive_mae,
                "naive_rmse": naive_rmse,
                "relative_mae": _safe_ratio(mae, naive_mae),
                "relative_rmse": _safe_ratio(rmse, naive_rmse),
                "directional_accuracy": hit,
                "up_rate": up,
                "direction_edge": hit - up,
                "coverage": float(np.mean(inside)),
                "nominal_coverage": float(nominal_coverage),
                "mean_interval_width_pct": float(
                    np.mean((hi[:, h] - lo[:, h]) / base[:, 0]) * 100.0
                ),
                "drift_mae": drift_mae,
                "relative_mae_drift": _safe_ratio(mae, drift_mae),
            }
        )
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS))


def metrics_from_log_returns(
    last_close: ArrayLike,
    actual_log_returns: ArrayLike,
    quantile_log_returns: ArrayLike,
    quantiles: tuple[float, ...],
) -> pd.DataFrame:
    """``horizon_metrics`` from model outputs: quantile log returns ``(N, H, Q)``, sorted by q."""
    q_lr = np.asarray(quantile_log_returns, dtype=float)
    if q_lr.ndim != 3 or q_lr.shape[2] != len(quantiles):
        raise ValueError("quantile_log_returns must be (N, H, len(quantiles))")
    prices = prices_from_log_returns(last_close, q_lr)
    return horizon_metrics(
        last_close,
        prices_from_log_returns(last_close, actual_log_returns),
        prices[:, :, quantiles.index(0.5)],
        prices[:, :, 0],
        prices[:, :, -1],
        nominal_coverage=quantiles[-1] - quantiles[0],
    )
