"""A synthetic process's own form with its parameters estimated: the yardstick between the oracle
and the learners.

The oracle (``synthetic.OracleForecaster``) knows the true parameters and the hidden variance. No
forecaster fitted on a fold's training anchors can match it exactly: with about 2,000 noisy daily
returns, even a model that knows the *form* of the process misses by its estimation error. The
specified forecaster measures that error. It regresses each horizon's log return on the form's
basis functions of the last return ``r`` and the GARCH forecast of the next day's variance ``v``
(the fold's own ``GarchScale``, as the baselines use), by least squares weighted by ``1 / v`` (the
Gaussian likelihood given the variance). Where it misses the oracle by more than a learner does,
the learner is as good as this much data allows; where it is close and a learner is not, the
learner is what falls short.

At h=1 the basis is the process's exact conditional mean; beyond, the same basis is regressed on
the h-day return directly, an approximation (the multi-day median of a nonlinear process is not
linear in it). It is a benchmark instrument, never a served candidate (family ``oracle``): it
reads which process made the series.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from stock_assets.domain.ml.forecasters import BaselineForecaster, FloatArray, IntArray

# The threshold AR's threshold is searched over these quantiles of the training |r|.
THRESHOLD_GRID = np.linspace(0.50, 0.98, 25)


def basis(
    process: str, r: FloatArray, var: FloatArray, long_run_var: float, threshold: float
) -> FloatArray:
    """``(n, p)``: the process's conditional-mean regressors from the last return and variance."""
    sigma = np.sqrt(var)
    if process == "ar_returns":
        return np.stack([np.ones_like(r), r], axis=1)
    if process == "threshold_ar":
        small = np.abs(r) <= threshold
        return np.stack([r * small, r * ~small], axis=1)
    if process == "sign_asymmetric_ar":
        return np.stack([r * (r < 0), r * (r >= 0), sigma], axis=1)
    if process == "volatility_in_mean":
        return np.stack([np.ones_like(r), sigma], axis=1)
    if process == "regime_switching_ar":
        calm = var < long_run_var
        return np.stack([r * calm, r * ~calm], axis=1)
    return np.zeros((len(r), 0))  # random walk, GARCH: no signal in the level


def weighted_fit(x: FloatArray, y: FloatArray, weight: FloatArray) -> tuple[FloatArray, float]:
    """Weighted least squares of ``y`` (n,) on ``x`` (n, p): coefficients and weighted SSE."""
    if x.shape[1] == 0:
        return np.zeros(0), float(np.sum(weight * y**2))
    root = np.sqrt(weight)
    coef, *_ = np.linalg.lstsq(x * root[:, None], y * root, rcond=None)
    return coef, float(np.sum(weight * (y - x @ coef) ** 2))


class SpecifiedForecaster(BaselineForecaster):
    """The process's own conditional-mean form, its parameters fitted on the training anchors."""

    name = "specified"
    family = "oracle"

    def __init__(self, process: str, horizon: int, quantiles: tuple[float, ...]) -> None:
        super().__init__(horizon, quantiles)
        self.process = process
        self.threshold = 0.0
        self.coef: FloatArray | None = None  # (horizon, p)

    def _state(self, frame: pd.DataFrame, anchors: IntArray) -> tuple[FloatArray, FloatArray]:
        assert self.scale is not None
        returns = frame["log_return"].to_numpy(dtype=float)
        last = int(np.max(anchors)) + 1 if len(anchors) else 0
        var = self.scale.h_day_std(returns[:last], 1)[anchors, 0] ** 2
        return np.nan_to_num(returns[anchors]), var

    def _basis(self, r: FloatArray, var: FloatArray, threshold: float | None = None) -> FloatArray:
        """The basis at the fitted threshold, or at ``threshold`` (the search's candidates)."""
        assert self.scale is not None
        k = self.threshold if threshold is None else threshold
        return basis(self.process, r, var, self.scale.long_run_var, k)

    def _fit_point(
        self, frame: pd.DataFrame, train: IntArray, y: FloatArray, val: IntArray, y_val: FloatArray
    ) -> None:
        # The validation anchors are fitted on too: least squares has nothing to stop early.
        anchors = np.concatenate([train, val])
        targets = np.concatenate([y, y_val])
        r, var = self._state(frame, anchors)
        weight = 1.0 / var
        if self.process == "threshold_ar":

            def sse(k: float) -> float:
                return weighted_fit(self._basis(r, var, float(k)), targets[:, 0], weight)[1]

            self.threshold = float(min(np.quantile(np.abs(r), THRESHOLD_GRID), key=sse))
        x = self._basis(r, var)
        self.coef = np.stack(
            [weighted_fit(x, targets[:, h], weight)[0] for h in range(self.horizon)]
        )

    def _point(self, frame: pd.DataFrame, anchors: IntArray) -> FloatArray:
        assert self.coef is not None
        if len(anchors) == 0:
            return np.zeros((0, self.horizon))
        r, var = self._state(frame, anchors)
        return self._basis(r, var) @ self.coef.T

    def _point_state(self) -> dict[str, Any]:
        assert self.coef is not None
        return {"process": self.process, "threshold": self.threshold, "coef": self.coef.tolist()}

    def _load_point_state(self, state: dict[str, Any]) -> None:
        self.process = str(state["process"])
        self.threshold = float(state["threshold"])
        self.coef = np.asarray(state["coef"], dtype=float)
