"""Candidate forecasters behind one interface: the baselines every learned model must beat.

A forecaster turns a cleaned frame (``dataset.clean_frame``: ``date``, ``close``, features; rows
``0..n-1``) into quantiles of the h-day log return ``log(close[t+h] / close[t])`` at any anchor row
``t``, for ``h = 1..horizon``. ``fit`` sees the training anchors (and validation anchors, which a
model may use for early stopping); nothing else. ``predict`` at anchor ``t`` reads rows ``<= t``.

Baselines (all cheap, all servable, all backtested on the very folds the LSTM is):

- ``naive``: the last close (median log return 0), the random-walk forecast;
- ``drift``: the mean training h-day log return (a constant trend);
- ``linear``: ridge regression (scikit-learn) of each horizon's log return on the last
  ``LINEAR_LAGS`` daily log returns and the model's indicator features at the anchor, without an
  intercept: like the LSTM (``dataset.FeatureScaler``) it forecasts deviations from a zero drift,
  and the trend is the ``drift`` baseline's to claim;
- ``additive``: penalised regression splines (``additive``) in the last return and the volatility
  forecast, and their product, beside the linear inputs, with an intercept: smooth nonlinear
  shapes (kinks, volatility in the mean, regimes) with straight tails;
- ``boosted``: gradient-boosted trees on the linear inputs plus the volatility forecast, with an
  intercept: the nonlinear candidate for shapes splines in two inputs cannot hold.

Their intervals share one scale model: a GARCH(1,1) (``arch``) fitted on the training returns,
filtered forward causally, gives each anchor's h-day standard deviation; the empirical quantiles
of the standardised training residuals turn it into quantiles. Conformal calibration
(``conformal``) then sets the interval level for every candidate alike.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from stock_assets.domain.ml.additive import PenalisedFit, SplineBasis, fit_penalised
from stock_assets.domain.ml.dataset import log_return_targets
from stock_assets.domain.ml.trees import TreeEnsemble, fit_trees

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

LINEAR_LAGS = 5
RIDGE_ALPHA = 1.0
BASELINES: tuple[str, ...] = ("naive", "drift", "linear", "additive", "boosted")


@dataclass(frozen=True)
class QuantileForecast:
    """Quantiles of the h-day log return: ``values`` is ``(N, horizon, Q)``, sorted along Q."""

    values: FloatArray
    quantiles: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.values.ndim != 3 or self.values.shape[2] != len(self.quantiles):
            raise ValueError("values must be (N, horizon, len(quantiles))")

    @property
    def median(self) -> FloatArray:
        return self.values[:, :, self.quantiles.index(0.5)]

    @property
    def lower(self) -> FloatArray:
        return self.values[:, :, 0]

    @property
    def upper(self) -> FloatArray:
        return self.values[:, :, -1]

    def __len__(self) -> int:
        return int(self.values.shape[0])


class Forecaster(ABC):
    """What the backtest, the promotion policy and serving need from any candidate."""

    name: ClassVar[str]
    family: ClassVar[str]  # "learned", "baseline" or "oracle"

    @abstractmethod
    def fit(self, frame: pd.DataFrame, train: IntArray, val: IntArray) -> None:
        """Learn from the training anchors of a cleaned frame (``val`` for early stopping)."""

    @abstractmethod
    def predict(self, frame: pd.DataFrame, anchors: IntArray) -> QuantileForecast:
        """Uncalibrated quantiles at ``anchors``; reads rows ``<= anchor`` only."""


# --------------------------------------------------------------------------------------------
# The shared interval scale: GARCH(1,1) filtered forward
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GarchScale:
    """GARCH(1,1) parameters on daily log returns; ``h_day_std`` is causal at every row."""

    omega: float
    alpha: float
    beta: float
    start_var: float

    @classmethod
    def fit(cls, returns: FloatArray) -> GarchScale:
        """Maximum likelihood with ``arch`` (returns in percent, as it expects).

        A fit that fails or is not stationary falls back to a constant variance (alpha = beta =
        0): the intervals are then plain empirical quantiles, still calibrated by conformal.
        """
        r = np.asarray(returns, dtype=float)
        r = r[np.isfinite(r)]
        var = float(np.var(r)) if len(r) > 1 else 1e-4
        try:
            from arch import arch_model

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = arch_model(r * 100.0, mean="Zero", vol="GARCH", p=1, q=1).fit(
                    disp="off", show_warning=False
                )
            omega = float(res.params["omega"]) / 1e4
            alpha = float(res.params["alpha[1]"])
            beta = float(res.params["beta[1]"])
            if not (omega > 0 and alpha >= 0 and beta >= 0 and alpha + beta < 0.999):
                raise ValueError("non-stationary GARCH fit")
        except Exception:
            return cls(omega=var, alpha=0.0, beta=0.0, start_var=var)
        return cls(omega=omega, alpha=alpha, beta=beta, start_var=var)

    @property
    def long_run_var(self) -> float:
        return self.omega / (1.0 - self.alpha - self.beta)

    def h_day_std(self, returns: FloatArray, horizon: int) -> FloatArray:
        """``(n, horizon)``: the std of the h-day log return from the close of each row.

        ``sigma^2_{t+1} = omega + alpha r_t^2 + beta sigma^2_t`` uses returns up to row t only.
        """
        r = np.nan_to_num(np.asarray(returns, dtype=float))
        n = len(r)
        var_next = np.empty(n)
        v = self.start_var
        for t in range(n):
            v = self.omega + self.alpha * r[t] ** 2 + self.beta * v
            var_next[t] = v
        lr = self.long_run_var
        p = self.alpha + self.beta
        h = np.arange(1, horizon + 1)
        decay = (1 - p**h) / (1 - p) if p > 0 else np.ones(horizon)
        h_var = h[None, :] * lr + (var_next - lr)[:, None] * decay[None, :]
        return np.sqrt(np.maximum(h_var, 1e-12))

    def to_dict(self) -> dict[str, float]:
        return {
            "omega": self.omega,
            "alpha": self.alpha,
            "beta": self.beta,
            "start_var": self.start_var,
        }


class BaselineForecaster(Forecaster):
    """A point forecast plus GARCH-scaled empirical residual quantiles.

    The median is the point forecast itself (so ``naive`` is exactly the last close); the other
    quantiles are ``point + std_h * z_q`` with ``z_q`` the q-quantile of the standardised training
    residuals of horizon h.
    """

    family = "baseline"

    def __init__(self, horizon: int, quantiles: tuple[float, ...]) -> None:
        self.horizon = horizon
        self.quantiles = tuple(quantiles)
        self.scale: GarchScale | None = None
        self.residual_quantiles: FloatArray | None = None  # (horizon, Q)

    @abstractmethod
    def _fit_point(
        self, frame: pd.DataFrame, train: IntArray, y: FloatArray, val: IntArray, y_val: FloatArray
    ) -> None:
        """Fit the point forecast on the training anchors' targets ``y`` (``val`` and ``y_val``:
        the validation anchors, for a model that stops early on them)."""

    @abstractmethod
    def _point(self, frame: pd.DataFrame, anchors: IntArray) -> FloatArray: ...

    @abstractmethod
    def _point_state(self) -> dict[str, Any]: ...

    @abstractmethod
    def _load_point_state(self, state: dict[str, Any]) -> None: ...

    def fit(self, frame: pd.DataFrame, train: IntArray, val: IntArray) -> None:
        y = log_return_targets(frame["close"].to_numpy(dtype=float), self.horizon)
        returns = frame["log_return"].to_numpy(dtype=float)
        # The scale model sees the returns of the training windows only (rows <= last anchor).
        self.scale = GarchScale.fit(returns[: int(train[-1]) + 1])
        self._fit_point(frame, train, y[train], val, y[val])
        std = self.scale.h_day_std(returns, self.horizon)[train]
        z = (y[train] - self._point(frame, train)) / std
        self.residual_quantiles = np.quantile(z, self.quantiles, axis=0).T

    def predict(self, frame: pd.DataFrame, anchors: IntArray) -> QuantileForecast:
        if self.scale is None or self.residual_quantiles is None:
            raise RuntimeError(f"{self.name} forecaster is not fitted")
        point = self._point(frame, anchors)
        returns = frame["log_return"].to_numpy(dtype=float)
        # The filter only needs rows up to the last anchor asked for.
        last = int(np.max(anchors)) + 1 if len(anchors) else 0
        std = self.scale.h_day_std(returns[:last], self.horizon)[anchors]
        values = point[:, :, None] + std[:, :, None] * self.residual_quantiles[None, :, :]
        values[:, :, self.quantiles.index(0.5)] = point
        return QuantileForecast(np.sort(values, axis=-1), self.quantiles)

    def to_state(self) -> dict[str, Any]:
        if self.scale is None or self.residual_quantiles is None:
            raise RuntimeError(f"{self.name} forecaster is not fitted")
        return {
            "name": self.name,
            "horizon": self.horizon,
            "quantiles": list(self.quantiles),
            "scale": self.scale.to_dict(),
            "residual_quantiles": self.residual_quantiles.tolist(),
            "point": self._point_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> BaselineForecaster:
        forecaster = make_baseline(
            str(state["name"]), int(state["horizon"]), tuple(state["quantiles"])
        )
        forecaster.scale = GarchScale(**state["scale"])
        forecaster.residual_quantiles = np.asarray(state["residual_quantiles"], dtype=float)
        forecaster._load_point_state(state["point"])
        return forecaster


class NaiveForecaster(BaselineForecaster):
    """The random walk: tomorrow's (and next week's) median is today's close."""

    name = "naive"

    def _fit_point(
        self, frame: pd.DataFrame, train: IntArray, y: FloatArray, val: IntArray, y_val: FloatArray
    ) -> None:
        return None

    def _point(self, frame: pd.DataFrame, anchors: IntArray) -> FloatArray:
        return np.zeros((len(anchors), self.horizon))

    def _point_state(self) -> dict[str, Any]:
        return {}

    def _load_point_state(self, state: dict[str, Any]) -> None:
        return None


class DriftForecaster(BaselineForecaster):
    """A constant trend: the mean h-day log return of the training anchors."""

    name = "drift"

    def __init__(self, horizon: int, quantiles: tuple[float, ...]) -> None:
        super().__init__(horizon, quantiles)
        self.mean: FloatArray | None = None

    def _fit_point(
        self, frame: pd.DataFrame, train: IntArray, y: FloatArray, val: IntArray, y_val: FloatArray
    ) -> None:
        self.mean = y.mean(axis=0)

    def _point(self, frame: pd.DataFrame, anchors: IntArray) -> FloatArray:
        assert self.mean is not None
        return np.broadcast_to(self.mean, (len(anchors), self.horizon)).copy()

    def _point_state(self) -> dict[str, Any]:
        assert self.mean is not None
        return {"mean": self.mean.tolist()}

    def _load_point_state(self, state: dict[str, Any]) -> None:
        self.mean = np.asarray(state["mean"], dtype=float)


def linear_design(frame: pd.DataFrame, anchors: IntArray, lags: int = LINEAR_LAGS) -> FloatArray:
    """Inputs of the linear baseline at each anchor: the last ``lags`` daily log returns and the
    other numeric features of the anchor row (rows ``<= anchor`` only)."""
    returns = frame["log_return"].to_numpy(dtype=float)
    lagged = np.stack(
        [returns[np.maximum(anchors - k, 0)] for k in range(lags)], axis=1
    )  # anchors >= lookback - 1 >= lags in practice; the clamp only guards tiny configs
    others = [c for c in frame.columns if c not in ("date", "close", "log_return")]
    rest = frame[others].to_numpy(dtype=float)[anchors] if others else np.zeros((len(anchors), 0))
    return np.concatenate([lagged, rest], axis=1)


class LinearForecaster(BaselineForecaster):
    """Ridge regression of every horizon's log return on lagged returns and indicators."""

    name = "linear"

    def __init__(self, horizon: int, quantiles: tuple[float, ...]) -> None:
        super().__init__(horizon, quantiles)
        self.x_mean: FloatArray | None = None
        self.x_scale: FloatArray | None = None
        self.coef: FloatArray | None = None  # (horizon, n_inputs)
        self.columns: list[str] = []

    def _fit_point(
        self, frame: pd.DataFrame, train: IntArray, y: FloatArray, val: IntArray, y_val: FloatArray
    ) -> None:
        from sklearn.linear_model import Ridge

        self.columns = list(frame.columns)
        x = linear_design(frame, train)
        self.x_mean = x.mean(axis=0)
        std = x.std(axis=0)
        self.x_scale = np.where(std > 0, std, 1.0)
        # Centred inputs and no intercept: the fit is the with-intercept slope, minus the trend.
        model = Ridge(alpha=RIDGE_ALPHA, fit_intercept=False).fit(
            (x - self.x_mean) / self.x_scale, y
        )
        self.coef = np.atleast_2d(model.coef_)

    def _point(self, frame: pd.DataFrame, anchors: IntArray) -> FloatArray:
        assert self.x_mean is not None and self.x_scale is not None
        assert self.coef is not None
        if list(frame.columns) != self.columns:
            raise ValueError(f"linear baseline was fit on columns {self.columns}")
        x = (linear_design(frame, anchors) - self.x_mean) / self.x_scale
        return x @ self.coef.T

    def _point_state(self) -> dict[str, Any]:
        assert self.x_mean is not None and self.x_scale is not None
        assert self.coef is not None
        return {
            "columns": self.columns,
            "x_mean": self.x_mean.tolist(),
            "x_scale": self.x_scale.tolist(),
            "coef": self.coef.tolist(),
        }

    def _load_point_state(self, state: dict[str, Any]) -> None:
        self.columns = list(state["columns"])
        self.x_mean = np.asarray(state["x_mean"], dtype=float)
        self.x_scale = np.asarray(state["x_scale"], dtype=float)
        self.coef = np.asarray(state["coef"], dtype=float)


def relative_volatility(scale: GarchScale, frame: pd.DataFrame, anchors: IntArray) -> FloatArray:
    """The next day's GARCH volatility over its long-run level at each anchor: scale-free, known
    at the anchor's close."""
    returns = frame["log_return"].to_numpy(dtype=float)
    last = int(np.max(anchors)) + 1 if len(anchors) else 0
    return scale.h_day_std(returns[:last], 1)[anchors, 0] / np.sqrt(scale.long_run_var)


class AdditiveForecaster(BaselineForecaster):
    """Penalised regression splines in the last return and the relative volatility, their
    product, and the linear inputs (``additive``), one ridge penalty per horizon chosen by
    cross-validation on the training anchors; least squares weighted by the inverse h-day
    forecast variance."""

    name = "additive"

    def __init__(self, horizon: int, quantiles: tuple[float, ...]) -> None:
        super().__init__(horizon, quantiles)
        self.basis: SplineBasis | None = None
        self.fitted: PenalisedFit | None = None
        self.columns: list[str] = []

    def _inputs(self, frame: pd.DataFrame, anchors: IntArray) -> tuple[FloatArray, FloatArray]:
        assert self.scale is not None
        last_return = np.nan_to_num(frame["log_return"].to_numpy(dtype=float)[anchors])
        return last_return, relative_volatility(self.scale, frame, anchors)

    def _design(self, frame: pd.DataFrame, anchors: IntArray) -> FloatArray:
        assert self.basis is not None
        return self.basis.expand(linear_design(frame, anchors), *self._inputs(frame, anchors))

    def _weights(self, frame: pd.DataFrame, anchors: IntArray) -> FloatArray:
        assert self.scale is not None
        returns = frame["log_return"].to_numpy(dtype=float)
        return (
            1.0
            / self.scale.h_day_std(returns[: int(np.max(anchors)) + 1], self.horizon)[anchors] ** 2
        )

    def _fit_point(
        self, frame: pd.DataFrame, train: IntArray, y: FloatArray, val: IntArray, y_val: FloatArray
    ) -> None:
        self.columns = list(frame.columns)
        self.basis = SplineBasis.fit(*self._inputs(frame, train))
        design = self._design(frame, train)
        self.fitted = fit_penalised(
            design, y, self._weights(frame, train), self.basis.column_scales(design)
        )

    def _point(self, frame: pd.DataFrame, anchors: IntArray) -> FloatArray:
        assert self.fitted is not None
        if list(frame.columns) != self.columns:
            raise ValueError(f"additive baseline was fit on columns {self.columns}")
        if len(anchors) == 0:
            return np.zeros((0, self.horizon))
        return self.fitted.predict(self._design(frame, anchors))

    def _point_state(self) -> dict[str, Any]:
        assert self.basis is not None and self.fitted is not None
        return {
            "columns": self.columns,
            "basis": self.basis.to_dict(),
            "fit": self.fitted.to_dict(),
        }

    def _load_point_state(self, state: dict[str, Any]) -> None:
        self.columns = list(state["columns"])
        self.basis = SplineBasis.from_dict(state["basis"])
        self.fitted = PenalisedFit.from_dict(state["fit"])


class BoostedForecaster(BaselineForecaster):
    """Gradient-boosted trees (one ensemble per horizon) on the linear baseline's inputs plus the
    GARCH forecast of the next day's volatility, with an intercept.

    What a linear model cannot express: a kink or a jump in how returns follow returns, a mean
    that moves with volatility, dynamics that change sign with the regime. Each horizon's trees
    stop early on the validation anchors. They are stored as arrays (``trees``), so the served
    state is JSON like every baseline's.
    """

    name = "boosted"

    def __init__(self, horizon: int, quantiles: tuple[float, ...]) -> None:
        super().__init__(horizon, quantiles)
        self.ensembles: list[TreeEnsemble] = []
        self.columns: list[str] = []

    def _design(self, frame: pd.DataFrame, anchors: IntArray) -> FloatArray:
        assert self.scale is not None
        relative_vol = relative_volatility(self.scale, frame, anchors)
        return np.concatenate([linear_design(frame, anchors), relative_vol[:, None]], axis=1)

    def _fit_point(
        self, frame: pd.DataFrame, train: IntArray, y: FloatArray, val: IntArray, y_val: FloatArray
    ) -> None:
        self.columns = list(frame.columns)
        x, x_val = self._design(frame, train), self._design(frame, val)
        self.ensembles = [fit_trees(x, y[:, h], x_val, y_val[:, h]) for h in range(self.horizon)]

    def _point(self, frame: pd.DataFrame, anchors: IntArray) -> FloatArray:
        if list(frame.columns) != self.columns:
            raise ValueError(f"boosted baseline was fit on columns {self.columns}")
        if len(anchors) == 0:
            return np.zeros((0, self.horizon))
        x = self._design(frame, anchors)
        return np.stack([trees.predict(x) for trees in self.ensembles], axis=1)

    def _point_state(self) -> dict[str, Any]:
        return {"columns": self.columns, "ensembles": [t.to_dict() for t in self.ensembles]}

    def _load_point_state(self, state: dict[str, Any]) -> None:
        self.columns = list(state["columns"])
        self.ensembles = [TreeEnsemble.from_dict(t) for t in state["ensembles"]]


_BASELINE_CLASSES: dict[str, type[BaselineForecaster]] = {
    "naive": NaiveForecaster,
    "drift": DriftForecaster,
    "linear": LinearForecaster,
    "additive": AdditiveForecaster,
    "boosted": BoostedForecaster,
}


def make_baseline(name: str, horizon: int, quantiles: tuple[float, ...]) -> BaselineForecaster:
    """A fresh (unfitted) baseline by name: one of ``BASELINES``."""
    if name not in _BASELINE_CLASSES:
        raise ValueError(f"unknown baseline {name!r}; choose from {BASELINES}")
    return _BASELINE_CLASSES[name](horizon, quantiles)
