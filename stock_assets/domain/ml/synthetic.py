"""Synthetic daily series whose optimal forecast is known: the yardstick for "does it learn?".

Real daily prices are close to a random walk, so "relative MAE near 1.0" on real stocks cannot
tell a model that learns from one that learns nothing. These processes can:

- ``ar_returns``: log returns follow an AR(1) with coefficient ``phi``. The optimal median of the
  h-day log return is ``mu_h + phi (1 - phi^h) / (1 - phi) (r_t - mu)`` and its distribution is
  Gaussian with a known variance: there is signal, and how much is known exactly.
- ``threshold_ar``: returns continue small moves and reverse large ones (an AR(1) whose sign flips
  beyond a threshold). The signal is as strong as the AR's, but no linear function of past returns
  captures it: only a nonlinear model (the LSTM) can.
- ``garch_returns``: zero-mean returns with GARCH(1,1) volatility. The optimal median is 0 (no
  signal in the level), but the spread is predictable: calibrated, adaptive intervals are learnable.
- ``random_walk``: i.i.d. Gaussian returns. Nothing is learnable; the naive last close is optimal.

Every series comes as daily OHLCV on NYSE sessions (so it runs through the same indicators, Feast
and model code as market data) together with its ``OracleForecaster``: the true conditional
quantiles of every horizon's log return, as a forecaster with the same interface as the models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import norm

from stock_assets.domain.calendar import trading_days
from stock_assets.domain.ml.forecasters import Forecaster, QuantileForecast

PROCESSES: tuple[str, ...] = ("ar_returns", "threshold_ar", "garch_returns", "random_walk")
# Beyond this many innovation standard deviations the threshold AR reverses: the point where the
# continued and reversed parts cancel in a linear fit of a Gaussian return on its lag.
THRESHOLD_SIGMAS = 1.53
ORACLE_SIMULATIONS = 2000


@dataclass(frozen=True)
class SyntheticSeries:
    """OHLCV of a synthetic process, and what is needed to forecast it optimally."""

    name: str
    ohlcv: pd.DataFrame  # date, open, high, low, close, volume
    params: dict[str, float]
    # Per session: the conditional mean of the h-day log return from that session's close
    # (n, horizon_max) and its standard deviation (n, horizon_max).
    oracle_mean: NDArray[np.float64] = field(repr=False)
    oracle_std: NDArray[np.float64] = field(repr=False)

    def oracle(self, horizon: int, quantiles: tuple[float, ...]) -> OracleForecaster:
        return OracleForecaster(self, horizon, quantiles)


def _sessions(n: int, start: str) -> pd.DatetimeIndex:
    dates = trading_days(start, pd.Timestamp(start) + pd.Timedelta(days=2 * n + 60))[:n]
    if len(dates) != n:
        raise ValueError(f"the NYSE calendar has fewer than {n} sessions from {start}")
    return dates


def _ohlcv(dates: pd.DatetimeIndex, log_returns: NDArray[np.float64], seed: int) -> pd.DataFrame:
    """Prices from returns; open/high/low/volume are noise around them (never used as signal)."""
    rng = np.random.default_rng(seed + 10_000)
    close = 100.0 * np.exp(np.cumsum(log_returns))
    scale = float(np.std(log_returns)) or 0.01
    open_ = close * np.exp(rng.normal(0.0, scale / 4, len(close)))
    spread = np.abs(rng.normal(0.0, scale / 2, len(close))) * close
    return pd.DataFrame(
        {
            "date": dates,
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": rng.lognormal(15.0, 0.3, len(close)).round(),
        }
    )


def ar_returns(
    n: int = 3000,
    *,
    phi: float = 0.3,
    sigma: float = 0.01,
    mu: float = 0.0,
    seed: int = 0,
    start: str = "2000-01-03",
    max_horizon: int = 7,
) -> SyntheticSeries:
    """``r_t = mu + phi (r_{t-1} - mu) + sigma e_t`` with standard normal ``e_t``."""
    if not -1 < phi < 1:
        raise ValueError("phi must be in (-1, 1) for a stationary AR(1)")
    rng = np.random.default_rng(seed)
    r = np.empty(n)
    r[0] = mu + sigma / np.sqrt(1 - phi**2) * rng.standard_normal()
    shocks = sigma * rng.standard_normal(n)
    for t in range(1, n):
        r[t] = mu + phi * (r[t - 1] - mu) + shocks[t]
    horizons = np.arange(1, max_horizon + 1)
    # E[sum_{k=1..h} r_{t+k} | r_t] = h mu + sum_k phi^k (r_t - mu)
    loading = np.array([sum(phi**k for k in range(1, h + 1)) for h in horizons])
    mean = horizons[None, :] * mu + (r - mu)[:, None] * loading[None, :]
    # Shock e_{t+j} enters the h-day sum with weight sum_{k=j..h} phi^(k-j).
    var = np.array(
        [sum(sum(phi**i for i in range(h - j + 1)) ** 2 for j in range(1, h + 1)) for h in horizons]
    )
    std = np.broadcast_to(sigma * np.sqrt(var), mean.shape).copy()
    return SyntheticSeries(
        name="ar_returns",
        ohlcv=_ohlcv(_sessions(n, start), r, seed),
        params={"phi": phi, "sigma": sigma, "mu": mu},
        oracle_mean=mean,
        oracle_std=std,
    )


def _threshold_mean(r: NDArray[np.float64], phi: float, threshold: float) -> NDArray[np.float64]:
    return np.where(np.abs(r) <= threshold, phi * r, -phi * r)


def threshold_ar(
    n: int = 3000,
    *,
    phi: float = 0.35,
    sigma: float = 0.01,
    seed: int = 0,
    start: str = "2000-01-03",
    max_horizon: int = 7,
) -> SyntheticSeries:
    """``r_t = m(r_{t-1}) + sigma e_t`` with ``m(r) = phi r`` for ``|r| <= k sigma_r``, else
    ``-phi r``: small moves continue, large ones reverse.

    The h-day conditional distribution has no closed form beyond h=1, so the oracle simulates it
    (``ORACLE_SIMULATIONS`` paths per session, seeded): its quantiles are exact up to Monte Carlo
    error, and its h=1 mean is exact.
    """
    rng = np.random.default_rng(seed)
    # The threshold is in units of the return's own spread, which the flip keeps at
    # sigma / sqrt(1 - phi^2).
    threshold = THRESHOLD_SIGMAS * sigma / np.sqrt(1 - phi**2)
    shocks = sigma * rng.standard_normal(n)
    r = np.empty(n)
    r[0] = shocks[0]
    for t in range(1, n):
        r[t] = _threshold_mean(np.asarray(r[t - 1]), phi, threshold) + shocks[t]
    sim_rng = np.random.default_rng(seed + 20_000)
    paths = np.repeat(r[:, None], ORACLE_SIMULATIONS, axis=1)
    total = np.zeros_like(paths)
    # The median is the optimal point forecast under absolute loss (the h-day sum is skewed
    # given a large last move, so its mean would not do).
    median = np.empty((n, max_horizon))
    std = np.empty((n, max_horizon))
    for h in range(max_horizon):
        paths = _threshold_mean(paths, phi, threshold) + sigma * sim_rng.standard_normal(
            paths.shape
        )
        total += paths
        median[:, h] = np.median(total, axis=1)
        std[:, h] = total.std(axis=1)
    median[:, 0] = _threshold_mean(r, phi, threshold)  # exact at h=1
    std[:, 0] = sigma
    return SyntheticSeries(
        name="threshold_ar",
        ohlcv=_ohlcv(_sessions(n, start), r, seed),
        params={"phi": phi, "sigma": sigma, "threshold": float(threshold)},
        oracle_mean=median,
        oracle_std=std,
    )


def garch_returns(
    n: int = 3000,
    *,
    omega: float = 2e-6,
    alpha: float = 0.08,
    beta: float = 0.9,
    seed: int = 0,
    start: str = "2000-01-03",
    max_horizon: int = 7,
) -> SyntheticSeries:
    """``r_t = sigma_t e_t``, ``sigma_t^2 = omega + alpha r_{t-1}^2 + beta sigma_{t-1}^2``.

    The oracle's h-day spread uses the exact expected h-day variance; its quantiles treat the
    h-day sum as Gaussian, which is exact at h=1 and a close approximation beyond (the median,
    0, is exact at every horizon).
    """
    if alpha + beta >= 1:
        raise ValueError("alpha + beta must be < 1 for a stationary GARCH(1,1)")
    rng = np.random.default_rng(seed)
    long_run = omega / (1 - alpha - beta)
    var_next = np.empty(n)  # sigma^2_{t+1}, known at the close of t
    r = np.empty(n)
    var_t = long_run
    for t in range(n):
        r[t] = np.sqrt(var_t) * rng.standard_normal()
        var_t = omega + alpha * r[t] ** 2 + beta * var_t
        var_next[t] = var_t
    persistence = alpha + beta
    horizons = np.arange(1, max_horizon + 1)
    # E[sigma^2_{t+k}] = long_run + persistence^(k-1) (sigma^2_{t+1} - long_run)
    decay = np.array([sum(persistence ** (k - 1) for k in range(1, h + 1)) for h in horizons])
    h_var = horizons[None, :] * long_run + (var_next - long_run)[:, None] * decay[None, :]
    return SyntheticSeries(
        name="garch_returns",
        ohlcv=_ohlcv(_sessions(n, start), r, seed),
        params={"omega": omega, "alpha": alpha, "beta": beta},
        oracle_mean=np.zeros((n, max_horizon)),
        oracle_std=np.sqrt(h_var),
    )


def random_walk(
    n: int = 3000,
    *,
    sigma: float = 0.01,
    seed: int = 0,
    start: str = "2000-01-03",
    max_horizon: int = 7,
) -> SyntheticSeries:
    """I.i.d. Gaussian log returns: the last close is the optimal median forecast."""
    rng = np.random.default_rng(seed)
    r = sigma * rng.standard_normal(n)
    horizons = np.arange(1, max_horizon + 1)
    return SyntheticSeries(
        name="random_walk",
        ohlcv=_ohlcv(_sessions(n, start), r, seed),
        params={"sigma": sigma},
        oracle_mean=np.zeros((n, max_horizon)),
        oracle_std=np.broadcast_to(sigma * np.sqrt(horizons), (n, max_horizon)).copy(),
    )


def make_series(name: str, **kwargs: Any) -> SyntheticSeries:
    """One of ``PROCESSES`` by name."""
    makers = {
        "ar_returns": ar_returns,
        "threshold_ar": threshold_ar,
        "garch_returns": garch_returns,
        "random_walk": random_walk,
    }
    if name not in makers:
        raise ValueError(f"unknown synthetic process {name!r}; choose from {PROCESSES}")
    return makers[name](**kwargs)


class OracleForecaster(Forecaster):
    """The true conditional quantiles of the process: the best any forecaster can do.

    Not trainable and not servable: it reads the generator's hidden state by date.
    """

    name = "oracle"
    family = "oracle"

    def __init__(self, series: SyntheticSeries, horizon: int, quantiles: tuple[float, ...]) -> None:
        self.series = series
        self.horizon = horizon
        self.quantiles = tuple(quantiles)
        self._row = pd.Series(
            np.arange(len(series.ohlcv)), index=pd.DatetimeIndex(series.ohlcv["date"])
        )

    def fit(self, frame: pd.DataFrame, train: NDArray[np.int64], val: NDArray[np.int64]) -> None:
        return None

    def predict(self, frame: pd.DataFrame, anchors: NDArray[np.int64]) -> QuantileForecast:
        rows = self._row.loc[pd.DatetimeIndex(frame["date"].to_numpy()[anchors])].to_numpy()
        mean = self.series.oracle_mean[rows, : self.horizon]
        std = self.series.oracle_std[rows, : self.horizon]
        z = norm.ppf(np.asarray(self.quantiles))
        values = mean[:, :, None] + std[:, :, None] * z[None, None, :]
        return QuantileForecast(values, self.quantiles)
