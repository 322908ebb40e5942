"""Conformal calibration of every candidate's intervals, per horizon, from matured forecasts.

A model's raw quantiles say how wide it thinks the future is; conformal calibration measures how
wide it really was on forecasts the model did not train on, and rescales. The scheme is a rolling
split conformal on normalised scores:

- calibration anchors are the model's out-of-sample anchors: from its first validation anchor on
  (the validation windows, then everything after training ended);
- the score of anchor ``a`` at horizon ``h`` is how far the realised log return fell outside the
  median, in units of the model's own distance to its lower (or upper) quantile: ``s <= 1``
  means it fell inside the raw interval;
- the interval at anchor ``t`` scales the model's quantile distances by the conformal quantile of
  the last ``window`` scores that had *matured* by ``t`` (``a + h <= t``: the close of ``a + h`` is
  known at ``t``). Nothing later is read, so a forecast is calibrated exactly as it would have
  been on the day it was made, in a backtest as in serving.

Normalising by the model's own width keeps what it learned about volatility (a GARCH-scaled
baseline's interval still widens after a shock); the rolling window adapts the level to the
current regime, which a one-off split does not.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from stock_assets.domain.ml.dataset import log_return_targets
from stock_assets.domain.ml.forecasters import FloatArray, Forecaster, IntArray, QuantileForecast

CALIBRATION_WINDOW = 250  # about a year of trading days
MIN_SCORES = 20  # fewer matured scores than this: no rescaling (the raw interval is served)
ACI_STEP = 0.03  # how fast the aimed-at miss rate follows the realised one (bench: bench_signal)
# A collapsed quantile (an LSTM whose lower quantile met its median) must not turn one outcome
# into an infinite score: distances are floored at 0.01% of price.
_MIN_DISTANCE = 1e-4


@dataclass(frozen=True)
class Calibrated:
    """Calibrated quantiles at the requested anchors, and the multiplier used per horizon."""

    forecast: QuantileForecast
    multipliers: FloatArray  # (N, horizon)
    n_scores: NDArray[np.int64]  # (N, horizon): matured scores behind each multiplier


def conformity_scores(forecast: QuantileForecast, actual: FloatArray) -> FloatArray:
    """``(N, H)``: distance of the outcome from the median in units of the quantile distance on
    its side; NaN where the outcome is unknown."""
    med, lo, hi = forecast.median, forecast.lower, forecast.upper
    below = (med - actual) / np.maximum(med - lo, _MIN_DISTANCE)
    above = (actual - med) / np.maximum(hi - med, _MIN_DISTANCE)
    return np.where(actual < med, below, above)


def _rank(n: int, coverage: float) -> int:
    """``ceil((n + 1) c)``, the finite-sample conformal rank, kept within ``1..n``."""
    return min(max(math.ceil((n + 1) * coverage), 1), n)


def conformal_quantile(scores: FloatArray, coverage: float) -> float:
    """The ``ceil((n + 1) c)``-th smallest score (the largest when that exceeds ``n``)."""
    k = _rank(len(scores), coverage)
    return float(np.partition(scores, k - 1)[k - 1])


def adaptive_multipliers(
    scores: FloatArray,
    coverage: float,
    window: int = CALIBRATION_WINDOW,
    step: float = ACI_STEP,
) -> tuple[FloatArray, NDArray[np.int64]]:
    """Multiplier at every anchor of a contiguous span, from the scores matured by then.

    ``scores`` is ``(M, H)`` over consecutive anchors; the score of horizon ``h`` (1-based) at
    position ``j`` is known at position ``i`` when ``j + h <= i``. The level adapts online
    (adaptive conformal inference, Gibbs and Candes 2021): each matured outcome that fell outside
    its own calibrated interval lowers the miss rate aimed at, each inside one raises it, by
    ``step``, so a regime change is corrected within weeks instead of a year of window.
    """
    m, horizon = scores.shape
    mult = np.ones((m, horizon))
    counts = np.zeros((m, horizon), dtype=np.int64)
    target_miss = 1.0 - coverage
    for h in range(1, horizon + 1):
        col = scores[:, h - 1].tolist()
        miss = target_miss
        # The matured scores of the last ``window`` positions, in arrival order and sorted: one
        # insertion and at most one eviction per step instead of a sort of the window (this runs
        # on every served forecast, over every out-of-sample anchor since training).
        arrived: deque[tuple[int, float]] = deque()
        ranked: list[float] = []
        for i in range(m):
            j = i - h  # the anchor whose outcome matures at i
            if j >= 0 and math.isfinite(col[j]):
                if counts[j, h - 1] >= MIN_SCORES:
                    missed = float(col[j] > mult[j, h - 1])
                    miss = min(max(miss + step * (target_miss - missed), 0.0), 1.0)
                arrived.append((j, col[j]))
                insort(ranked, col[j])
            while arrived and arrived[0][0] < j + 1 - window:
                ranked.pop(bisect_left(ranked, arrived.popleft()[1]))
            n = len(ranked)
            counts[i, h - 1] = n
            if n >= MIN_SCORES:
                mult[i, h - 1] = ranked[_rank(n, 1.0 - miss) - 1]
    return mult, counts


def rescale(forecast: QuantileForecast, multipliers: FloatArray) -> QuantileForecast:
    """Every quantile's distance from the median scaled by the multiplier (median unchanged)."""
    med = forecast.median[:, :, None]
    values = med + (forecast.values - med) * np.maximum(multipliers, 0.0)[:, :, None]
    return QuantileForecast(values, forecast.quantiles)


def calibrated_forecast(
    forecaster: Forecaster,
    frame: pd.DataFrame,
    anchors: IntArray,
    *,
    calibration_start: int,
    coverage: float,
    horizon: int,
    window: int = CALIBRATION_WINDOW,
    step: float = ACI_STEP,
) -> Calibrated:
    """Calibrated quantiles of ``forecaster`` at ``anchors`` of a cleaned ``frame``.

    ``calibration_start`` is the forecaster's first out-of-sample anchor (its first validation
    anchor). The forecaster predicts every anchor from there to the last target in one pass; only
    outcomes matured by each target anchor are scored for it.
    """
    anchors = np.asarray(anchors, dtype=np.int64)
    if len(anchors) == 0:
        raise ValueError("no anchors to forecast")
    first = min(int(calibration_start), int(anchors.min()))
    span = np.arange(first, int(anchors.max()) + 1, dtype=np.int64)
    raw = forecaster.predict(frame, span)
    actual = log_return_targets(frame["close"].to_numpy(dtype=float), horizon)[span]
    scores = conformity_scores(raw, actual)
    mult, counts = adaptive_multipliers(scores, coverage, window, step)
    at = anchors - first
    target_raw = QuantileForecast(raw.values[at], raw.quantiles)
    return Calibrated(rescale(target_raw, mult[at]), mult[at], counts[at])
