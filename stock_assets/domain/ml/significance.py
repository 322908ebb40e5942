"""Is one forecaster really better than another on the same windows? Diebold-Mariano.

Walk-forward errors of h-step forecasts made on consecutive days overlap: the errors of anchors
``t`` and ``t+1`` share ``h-1`` future days, so they are autocorrelated up to lag ``h-1`` even
for an optimal forecast. A plain t-test on the loss differential would then be far too confident.
The Diebold-Mariano statistic uses the long-run variance with equal weights up to lag ``h-1``
(the truncated kernel of Diebold and Mariano, which the Harvey-Leybourne-Newbold small-sample
correction assumes), falling back to Newey-West's Bartlett weights in the rare sample where that
estimate is not positive, and Student-t critical values. With Bartlett weights throughout, equal
7-step forecasts were called different 7% of the time at a nominal 5%.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

# Student's t distribution function from scipy.special: what scipy.stats.t.cdf computes, without
# importing scipy.stats (a second of every process's start-up).
from scipy.special import stdtr


@dataclass(frozen=True)
class DMResult:
    """``d = loss_a - loss_b``; a negative statistic means ``a`` has the lower loss."""

    statistic: float
    p_better: float  # one-sided p-value of "a has lower expected loss than b"
    p_worse: float  # one-sided p-value of "a has higher expected loss than b"
    mean_diff: float
    n: int
    lag: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def newey_west_variance(d: ArrayLike, lag: int) -> float:
    """HAC variance of the mean of ``d`` (Bartlett weights, always >= 0)."""
    x = np.asarray(d, dtype=float)
    n = len(x)
    e = x - x.mean()
    total = float(e @ e) / n
    for k in range(1, min(lag, n - 1) + 1):
        total += 2.0 * (1.0 - k / (lag + 1.0)) * float(e[k:] @ e[:-k]) / n
    return max(total, 0.0) / n


def truncated_variance(d: ArrayLike, lag: int) -> float:
    """Variance of the mean of ``d`` with equal weights on autocovariances up to ``lag``."""
    x = np.asarray(d, dtype=float)
    n = len(x)
    e = x - x.mean()
    total = float(e @ e) / n
    for k in range(1, min(lag, n - 1) + 1):
        total += 2.0 * float(e[k:] @ e[:-k]) / n
    return total / n


def long_run_variance(d: ArrayLike, lag: int) -> float:
    """Variance of the mean of ``d`` with equal weights up to ``lag``, or Newey-West's Bartlett
    weights in the rare sample where that estimate is not positive (0 when neither is)."""
    var = truncated_variance(d, lag)
    return var if var > 0.0 else newey_west_variance(d, lag)


def diebold_mariano(loss_a: ArrayLike, loss_b: ArrayLike, horizon: int) -> DMResult:
    """DM test of equal expected loss for ``horizon``-step forecasts (lag ``horizon - 1``).

    Identical losses give a statistic of 0 and p-values of 0.5: no evidence either way.
    """
    a = np.asarray(loss_a, dtype=float)
    b = np.asarray(loss_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("loss_a and loss_b must be 1-D arrays of the same length")
    keep = np.isfinite(a) & np.isfinite(b)
    d = a[keep] - b[keep]
    n = len(d)
    if n < 3:
        raise ValueError(f"need at least 3 paired losses, got {n}")
    lag = max(int(horizon) - 1, 0)
    mean = float(d.mean())
    var = long_run_variance(d, lag)
    if var <= 0.0 or not math.isfinite(var):
        return DMResult(0.0, 0.5, 0.5, mean, n, lag)
    h = lag + 1
    correction = math.sqrt(max((n + 1 - 2 * h + h * (h - 1) / n) / n, 1e-12))
    stat = mean / math.sqrt(var) * correction
    return DMResult(
        statistic=stat,
        p_better=float(stdtr(n - 1, stat)),
        p_worse=float(stdtr(n - 1, -stat)),
        mean_diff=mean,
        n=n,
        lag=lag,
    )
