"""Per-horizon forecast metrics, on prices and on log returns, small enough to check by hand.

Conventions:

- a forecast is a set of quantiles of the h-day log return; its price is ``last_close * exp(.)``
  (``exp`` is monotone, so quantiles of the log return map to quantiles of the price);
- naive persistence forecast = ``last_close`` for every horizon; ``relative_mae = mae / naive_mae``
  on prices (NaN when the naive MAE is 0, i.e. prices never moved) and ``fva = 1 - relative_mae``
  (forecast value added over naive: positive is better than the last close);
- direction: a hit when ``sign(predicted move) == sign(actual move)`` with ``sign(0) = 0``, so the
  naive forecast (no move) never scores. ``up_rate`` (share of actual moves ``> 0``) is what an
  always-up forecaster gets under the very same rule, which makes the two directly comparable;
- coverage: share of outcomes inside ``[lower, upper]`` (bounds inclusive), next to the nominal
  ``q_high - q_low``;
- pinball loss: mean over the quantiles of ``max(q e, (q - 1) e)`` with ``e`` the log-return error,
  in percent; interval (Winkler) score of the outer interval at level ``1 - a``:
  ``(u - l) + 2/a (l - y)+ + 2/a (y - u)+``, in percent. Both: lower is better.
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
    "relative_mae",
    "fva",
    "mae_log_return",
    "directional_accuracy",
    "up_rate",
    "direction_edge",
    "coverage",
    "nominal_coverage",
    "pinball_pct",
    "interval_score_pct",
    "mean_interval_width_pct",
)


def prices_from_log_returns(last_close: ArrayLike, log_returns: ArrayLike) -> NDArray[np.float64]:
    """``last_close * exp(log_returns)``; ``last_close`` ``(N,)`` broadcasts over trailing axes."""
    close = np.asarray(last_close, dtype=float)
    lr = np.asarray(log_returns, dtype=float)
    return close.reshape(close.shape + (1,) * (lr.ndim - close.ndim)) * np.exp(lr)


def _safe_ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else float("nan")


def pinball(actual: ArrayLike, quantile_values: ArrayLike, quantiles: tuple[float, ...]) -> float:
    """Mean pinball loss over samples and quantiles; ``quantile_values`` is ``(N, Q)``."""
    q = np.asarray(quantiles, dtype=float)[None, :]
    err = np.asarray(actual, dtype=float)[:, None] - np.asarray(quantile_values, dtype=float)
    return float(np.mean(np.maximum(q * err, (q - 1.0) * err)))


def interval_score(actual: ArrayLike, lower: ArrayLike, upper: ArrayLike, nominal: float) -> float:
    """Mean Winkler interval score of ``[lower, upper]`` at coverage level ``nominal``."""
    y, lo, hi = (np.asarray(a, dtype=float) for a in (actual, lower, upper))
    alpha = 1.0 - nominal
    penalty = (2.0 / alpha) * (np.maximum(lo - y, 0.0) + np.maximum(y - hi, 0.0))
    return float(np.mean(hi - lo + penalty))


def horizon_metrics(
    last_close: ArrayLike,
    actual_log_return: ArrayLike,
    quantile_log_returns: ArrayLike,
    quantiles: tuple[float, ...],
) -> pd.DataFrame:
    """One row per horizon. ``last_close`` ``(N,)``; ``actual_log_return`` ``(N, H)``;
    ``quantile_log_returns`` ``(N, H, Q)`` sorted along Q (Q includes 0.5)."""
    base = np.asarray(last_close, dtype=float)
    act_lr = np.asarray(actual_log_return, dtype=float)
    q_lr = np.asarray(quantile_log_returns, dtype=float)
    if act_lr.ndim != 2 or q_lr.shape[:2] != act_lr.shape or base.shape != act_lr.shape[:1]:
        raise ValueError("last_close (N,), actual (N, H) and quantiles (N, H, Q) disagree")
    if q_lr.shape[2] != len(quantiles) or 0.5 not in quantiles:
        raise ValueError("quantiles must match the last axis and include 0.5")
    if act_lr.shape[0] == 0:
        raise ValueError("no samples to evaluate")
    nominal = round(quantiles[-1] - quantiles[0], 10)
    med_lr = q_lr[:, :, quantiles.index(0.5)]
    actual = prices_from_log_returns(base, act_lr)
    median = prices_from_log_returns(base, med_lr)
    lower = prices_from_log_returns(base, q_lr[:, :, 0])
    upper = prices_from_log_returns(base, q_lr[:, :, -1])
    rows: list[dict[str, Any]] = []
    for h in range(act_lr.shape[1]):
        err = median[:, h] - actual[:, h]
        naive_err = base - actual[:, h]
        mae = float(np.mean(np.abs(err)))
        naive_mae = float(np.mean(np.abs(naive_err)))
        hit = float(np.mean(np.sign(med_lr[:, h]) == np.sign(act_lr[:, h])))
        up = float(np.mean(act_lr[:, h] > 0))
        inside = (actual[:, h] >= lower[:, h]) & (actual[:, h] <= upper[:, h])
        relative = _safe_ratio(mae, naive_mae)
        rows.append(
            {
                "horizon": h + 1,
                "n": int(act_lr.shape[0]),
                "mae": mae,
                "rmse": float(np.sqrt(np.mean(err**2))),
                "naive_mae": naive_mae,
                "relative_mae": relative,
                "fva": 1.0 - relative,
                "mae_log_return": float(np.mean(np.abs(med_lr[:, h] - act_lr[:, h]))),
                "directional_accuracy": hit,
                "up_rate": up,
                "direction_edge": hit - up,
                "coverage": float(np.mean(inside)),
                "nominal_coverage": float(nominal),
                "pinball_pct": 100.0 * pinball(act_lr[:, h], q_lr[:, h, :], quantiles),
                "interval_score_pct": 100.0
                * interval_score(act_lr[:, h], q_lr[:, h, 0], q_lr[:, h, -1], nominal),
                "mean_interval_width_pct": float(np.mean((upper[:, h] - lower[:, h]) / base) * 100),
            }
        )
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS))
