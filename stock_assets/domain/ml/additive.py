"""Penalised regression splines on the last return and the volatility: shapes a ridge cannot fit,
with the straight tails a tree cannot have.

The basis is generic, not a guess of any one process: piecewise-linear splines (hinges at
quantiles of the training inputs) in the last daily return ``u`` and in the relative volatility
``s`` (the GARCH forecast of the next day's standard deviation over its long-run level), and the
last return times a spline in ``s`` (dynamics that change with the volatility regime). Beside them
the linear baseline's own inputs (lagged returns, indicators) enter linearly. Each linear input
is scaled by its own spread, every spline column by its input's (``fit_penalised``), and the
coefficients are shrunk by a ridge penalty chosen per horizon by cross-validation on the training
anchors.

A hinge basis is linear beyond its outermost knots, so the forecast after the largest move or the
most volatile spell follows the slope the training windows showed, where a tree's forecast stays
at its last leaf. The fit is least squares weighted by the inverse forecast variance (the Gaussian
likelihood given the volatility), so calm and turbulent spells count by their information, not
by the size of their moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# Knots at these quantiles of the training inputs: dense enough for a kink or a steep step
# anywhere in the bulk, none in the tails, where a slope is all a few points can support.
RETURN_KNOTS = (0.05, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 0.95)
VOLATILITY_KNOTS = (0.1, 0.25, 0.5, 0.75, 0.9)
# Ridge penalties tried (on scaled columns, per unit of weight), chosen by cross-validation over
# contiguous blocks of the training anchors.
PENALTIES = tuple(float(p) for p in np.logspace(-3, 2, 11))
CV_BLOCKS = 5


def hinges(x: FloatArray, knots: FloatArray) -> FloatArray:
    """``(n, 1 + k)``: ``x`` and ``max(0, x - knot)`` for each knot (a linear spline)."""
    return np.concatenate([x[:, None], np.maximum(0.0, x[:, None] - knots[None, :])], axis=1)


@dataclass(frozen=True)
class SplineBasis:
    """Knots of the last return and the relative volatility, fixed on the training anchors."""

    return_knots: FloatArray
    volatility_knots: FloatArray
    volatility_range: FloatArray  # (low, high) seen on the training anchors

    @classmethod
    def fit(cls, last_return: FloatArray, relative_vol: FloatArray) -> SplineBasis:
        return cls(
            return_knots=np.unique(np.quantile(last_return, RETURN_KNOTS)),
            volatility_knots=np.unique(np.quantile(relative_vol, VOLATILITY_KNOTS)),
            volatility_range=np.array([relative_vol.min(), relative_vol.max()]),
        )

    def expand(
        self, linear_inputs: FloatArray, last_return: FloatArray, relative_vol: FloatArray
    ) -> FloatArray:
        """The design: linear inputs, splines in ``u`` and ``s``, and ``u`` times a spline in ``s``.

        In the product, ``s`` is held within the range the training anchors saw: beyond it the
        slope on the last return stays the one fitted at the edge. A product extrapolated in both
        inputs at once (a large move in a calmer or wilder spell than any seen) would forecast
        from two extrapolations multiplied.
        """
        low, high = self.volatility_range
        regime = hinges(np.clip(relative_vol, low, high), self.volatility_knots)
        return np.concatenate(
            [
                linear_inputs,
                hinges(last_return, self.return_knots)[:, 1:],  # u itself is a linear input
                hinges(relative_vol, self.volatility_knots),
                last_return[:, None] * regime,
            ],
            axis=1,
        )

    def column_scales(self, design: FloatArray) -> FloatArray:
        """Per column of a design from ``expand``, the scale its penalty is measured in: each
        linear input its own spread; every spline column of the return the return's (linear
        input 0), of the volatility the volatility's, of the product the product's
        (``fit_penalised``)."""
        n_return, n_vol = len(self.return_knots), 1 + len(self.volatility_knots)
        # ``expand``'s order: linear inputs, return hinges, volatility spline, product.
        vol_start = design.shape[1] - 2 * n_vol
        product_start = vol_start + n_vol
        n_linear = vol_start - n_return

        def spread(column: FloatArray) -> float:
            std = float(np.std(column))
            return std if std > 0 else 1.0

        return np.concatenate(
            [
                [spread(design[:, k]) for k in range(n_linear)],
                [spread(design[:, 0])] * n_return,
                [spread(design[:, vol_start])] * n_vol,
                [spread(design[:, product_start])] * n_vol,
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "return_knots": self.return_knots.tolist(),
            "volatility_knots": self.volatility_knots.tolist(),
            "volatility_range": self.volatility_range.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SplineBasis:
        return cls(
            return_knots=np.asarray(data["return_knots"], dtype=float),
            volatility_knots=np.asarray(data["volatility_knots"], dtype=float),
            volatility_range=np.asarray(data["volatility_range"], dtype=float),
        )


@dataclass(frozen=True)
class PenalisedFit:
    """``predict(x) = intercept + ((x - mean) / scale) @ coef``, one penalty per horizon."""

    mean: FloatArray
    scale: FloatArray
    coef: FloatArray  # (horizon, p)
    intercept: FloatArray  # (horizon,)
    penalty: FloatArray  # (horizon,): the ridge penalty cross-validation chose

    def predict(self, x: FloatArray) -> FloatArray:
        """``(n, horizon)``."""
        return self.intercept[None, :] + ((x - self.mean) / self.scale) @ self.coef.T

    def to_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key).tolist() for key in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PenalisedFit:
        return cls(**{key: np.asarray(data[key], dtype=float) for key in cls.__dataclass_fields__})


def _weighted_moments(
    z: FloatArray, y: FloatArray, weight: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    """The weighted, centred normal equations of ``y`` on ``z``: gram, cross, means."""
    w = weight / weight.sum()
    z_bar, y_bar = w @ z, float(w @ y)
    zc = z - z_bar
    return (zc * w[:, None]).T @ zc, (zc * w[:, None]).T @ (y - y_bar), z_bar, y_bar


def _ridge_path(z: FloatArray, y: FloatArray, weight: FloatArray) -> list[tuple[FloatArray, float]]:
    """Weighted ridge with an unpenalised intercept, for every penalty: (coef, intercept)."""
    gram, cross, z_bar, y_bar = _weighted_moments(z, y, weight)
    eye = np.eye(z.shape[1])
    out = []
    for penalty in PENALTIES:
        coef = np.linalg.solve(gram + penalty * eye, cross)
        out.append((coef, y_bar - float(z_bar @ coef)))
    return out


def _cv_errors(z: FloatArray, y: FloatArray, weight: FloatArray) -> FloatArray:
    """Weighted squared error of every penalty over ``CV_BLOCKS`` contiguous blocks of the
    training anchors, each predicted by a fit on the others."""
    errors = np.zeros(len(PENALTIES))
    for block in np.array_split(np.arange(len(y)), CV_BLOCKS):
        keep = np.ones(len(y), dtype=bool)
        keep[block] = False
        for i, (coef, intercept) in enumerate(_ridge_path(z[keep], y[keep], weight[keep])):
            residual = y[block] - intercept - z[block] @ coef
            errors[i] += float(np.sum(weight[block] * residual**2))
    return errors


def fit_penalised(
    x: FloatArray, y: FloatArray, weight: FloatArray, scale: FloatArray
) -> PenalisedFit:
    """Per horizon (columns of ``y`` and ``weight``), the ridge penalty with the least
    cross-validated error on the training anchors, then the fit on all of them.

    ``scale`` (per column) sets what one unit of penalty costs: the spline columns of one input
    share their input's scale, so every change of slope is shrunk alike, wherever its knot sits
    (standardising each hinge alone would leave the outermost ones, nonzero on a few rows, almost
    unpenalised, and their slopes are what the forecast extrapolates). The validation anchors are
    not used: they stay out of sample for the conformal calibration that starts there.
    """
    mean = x.mean(axis=0)
    z = (x - mean) / scale
    coefs, intercepts, chosen = [], [], []
    for h in range(y.shape[1]):
        best = int(np.argmin(_cv_errors(z, y[:, h], weight[:, h])))
        coef, intercept = _ridge_path(z, y[:, h], weight[:, h])[best]
        coefs.append(coef)
        intercepts.append(intercept)
        chosen.append(PENALTIES[best])
    return PenalisedFit(
        mean=mean,
        scale=scale,
        coef=np.stack(coefs),
        intercept=np.asarray(intercepts),
        penalty=np.asarray(chosen),
    )
