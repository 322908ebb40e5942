"""Synthetic daily series whose optimal forecast is known: the yardstick for "does it learn?".

Real daily prices are close to a random walk, so "relative MAE near 1.0" on real stocks cannot
tell a model that learns from one that learns nothing. These processes can:

- ``ar_returns``: log returns follow an AR(1) with coefficient ``phi``. The optimal median of the
  h-day log return is ``mu_h + phi (1 - phi^h) / (1 - phi) (r_t - mu)`` and its distribution is
  Gaussian with a known variance: there is signal, and how much is known exactly.
- Nonlinear signal (``NONLINEAR``), which no linear function of past returns captures:
  ``threshold_ar`` (small moves continue, large ones reverse: a jump in the mean),
  ``sign_asymmetric_ar`` (falls continue, rises fade: a kink at zero), ``volatility_in_mean``
  (the mean follows the GARCH volatility, not any return's sign) and ``regime_switching_ar``
  (momentum in calm spells, reversal in turbulent ones: an interaction of two variables). Their
  h-day oracles are simulated from every session's true state.
- ``garch_returns``: zero-mean returns with GARCH(1,1) volatility. The optimal median is 0 (no
  signal in the level), but the spread is predictable: calibrated, adaptive intervals are learnable.
- ``random_walk``: i.i.d. Gaussian returns. Nothing is learnable; the naive last close is optimal.

Every series comes as daily OHLCV on NYSE sessions (so it runs through the same indicators, Feast
and model code as market data) together with its ``OracleForecaster``: the true conditional
quantiles of every horizon's log return, as a forecaster with the same interface as the models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import norm

from stock_assets.domain.calendar import trading_days
from stock_assets.domain.ml.forecasters import Forecaster, QuantileForecast

PROCESSES: tuple[str, ...] = (
    "ar_returns",
    "threshold_ar",
    "sign_asymmetric_ar",
    "volatility_in_mean",
    "regime_switching_ar",
    "garch_returns",
    "random_walk",
)
NONLINEAR: tuple[str, ...] = (
    "threshold_ar",
    "sign_asymmetric_ar",
    "volatility_in_mean",
    "regime_switching_ar",
)
# Beyond this many innovation standard deviations the threshold AR reverses: the point where the
# continued and reversed parts cancel in a linear fit of a Gaussian return on its lag.
THRESHOLD_SIGMAS = 1.53
ORACLE_SIMULATIONS = 2000
FArray = NDArray[np.float64]


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


# One step of a Markov process on (last return, variance of the next return): given the last
# return, the variance of the step's shock and standard normal draws, the new return and the
# variance of the following shock.
Step = Callable[
    [NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]],
    tuple[NDArray[np.float64], NDArray[np.float64]],
]


def _garch_variance(
    omega: float, alpha: float, beta: float
) -> Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]]:
    """``var_next = omega + alpha shock^2 + beta var``, on the step's shock (not its mean)."""

    def update(shock: NDArray[np.float64], var: NDArray[np.float64]) -> NDArray[np.float64]:
        return omega + alpha * shock**2 + beta * var

    return update


def _simulate(
    step: Step, n: int, start_var: float, seed: int, max_horizon: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """The series (returns and each session's next-shock variance) and its oracle.

    The h-day conditional distribution of a nonlinear process has no closed form, so the oracle
    simulates it (``ORACLE_SIMULATIONS`` seeded paths from every session's state): the median (the
    optimal point forecast under absolute loss; the h-day sum can be skewed) and the spread are
    exact up to Monte Carlo error. At h=1 the median is the step's own mean, exact, because every
    shock here is Gaussian.
    """
    rng = np.random.default_rng(seed)
    draws = rng.standard_normal(n)
    r = np.empty(n)
    var_next = np.empty(n)
    last, var = np.zeros(1), np.full(1, start_var)
    for t in range(n):
        out, var = step(last, var, draws[t : t + 1])
        r[t], var_next[t] = out[0], var[0]
        last = out
    sim_rng = np.random.default_rng(seed + 20_000)
    paths = np.repeat(r[:, None], ORACLE_SIMULATIONS, axis=1)
    path_var = np.repeat(var_next[:, None], ORACLE_SIMULATIONS, axis=1)
    total = np.zeros_like(paths)
    median = np.empty((n, max_horizon))
    std = np.empty((n, max_horizon))
    # The step's own mean and spread are known exactly: h=1 needs no sample.
    median[:, 0], std[:, 0] = step(r, var_next, np.zeros(n))[0], np.sqrt(var_next)
    for h in range(max_horizon):
        paths, path_var = step(paths, path_var, sim_rng.standard_normal(paths.shape))
        total += paths
        if h > 0:
            median[:, h] = np.median(total, axis=1)
            std[:, h] = total.std(axis=1)
    return r, var_next, median, std


def _nonlinear_series(
    name: str,
    step: Step,
    start_var: float,
    params: dict[str, float],
    *,
    n: int,
    seed: int,
    start: str,
    max_horizon: int,
) -> SyntheticSeries:
    r, _, median, std = _simulate(step, n, start_var, seed, max_horizon)
    return SyntheticSeries(
        name=name,
        ohlcv=_ohlcv(_sessions(n, start), r, seed),
        params=params,
        oracle_mean=median,
        oracle_std=std,
    )


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
    ``-phi r``: small moves continue, large ones reverse (a jump in the mean at the threshold).
    """
    # The threshold is in units of the return's own spread, which the flip keeps at
    # sigma / sqrt(1 - phi^2).
    threshold = THRESHOLD_SIGMAS * sigma / np.sqrt(1 - phi**2)
    var = sigma**2

    def step(last: FArray, v: FArray, e: FArray) -> tuple[FArray, FArray]:
        return _threshold_mean(last, phi, threshold) + sigma * e, v

    params = {"phi": phi, "sigma": sigma, "threshold": float(threshold)}
    return _nonlinear_series(
        "threshold_ar", step, var, params, n=n, seed=seed, start=start, max_horizon=max_horizon
    )


def sign_asymmetric_ar(
    n: int = 3000,
    *,
    after_fall: float = 0.7,
    after_rise: float = -0.3,
    omega: float = 2e-6,
    alpha: float = 0.08,
    beta: float = 0.9,
    seed: int = 0,
    start: str = "2000-01-03",
    max_horizon: int = 7,
) -> SyntheticSeries:
    """``r_t = a r_{t-1} - c_t + sigma_t e_t`` with ``a = after_fall`` after a fall and
    ``after_rise`` after a rise (falls continue, rises fade), and GARCH(1,1) shocks: a kink at
    zero that a linear fit averages away.

    ``a r`` is ``(after_fall + after_rise) / 2 r + (after_rise - after_fall) / 2 |r|``, and the
    ``|r|`` part alone would be a steady fall (about 0.4 sigma a day with the defaults, which the
    drift baseline would claim). ``c_t`` removes its expectation given the volatility, so the
    signal is the kink, not a trend.
    """
    update = _garch_variance(omega, alpha, beta)
    kink = (after_rise - after_fall) / 2.0

    def step(last: FArray, v: FArray, e: FArray) -> tuple[FArray, FArray]:
        shock = np.sqrt(v) * e
        level = kink * np.sqrt(2.0 * v / np.pi)  # E[kink |r|] for a Gaussian r of variance v
        mean = np.where(last < 0, after_fall, after_rise) * last - level
        return mean + shock, update(shock, v)

    params = {"after_fall": after_fall, "after_rise": after_rise, "alpha": alpha, "beta": beta}
    start_var = omega / (1 - alpha - beta)
    return _nonlinear_series(
        "sign_asymmetric_ar",
        step,
        start_var,
        params,
        n=n,
        seed=seed,
        start=start,
        max_horizon=max_horizon,
    )


def volatility_in_mean(
    n: int = 3000,
    *,
    loading: float = 1.0,
    omega: float = 4e-6,
    alpha: float = 0.12,
    beta: float = 0.84,
    seed: int = 0,
    start: str = "2000-01-03",
    max_horizon: int = 7,
) -> SyntheticSeries:
    """``r_t = loading (sigma_t - sigma_bar) + sigma_t e_t`` with GARCH(1,1) ``sigma_t``:
    turbulent spells are followed by rebounds, calm ones by slight declines. The signal lies in
    the size of past moves, not their sign: no linear function of past returns sees it."""
    update = _garch_variance(omega, alpha, beta)
    long_run = omega / (1 - alpha - beta)
    sigma_bar = float(np.sqrt(long_run))

    def step(last: FArray, v: FArray, e: FArray) -> tuple[FArray, FArray]:
        sigma = np.sqrt(v)
        shock = sigma * e
        return loading * (sigma - sigma_bar) + shock, update(shock, v)

    params = {"loading": loading, "alpha": alpha, "beta": beta, "sigma_bar": sigma_bar}
    return _nonlinear_series(
        "volatility_in_mean",
        step,
        long_run,
        params,
        n=n,
        seed=seed,
        start=start,
        max_horizon=max_horizon,
    )


def regime_switching_ar(
    n: int = 3000,
    *,
    phi: float = 0.3,
    omega: float = 4e-6,
    alpha: float = 0.12,
    beta: float = 0.84,
    seed: int = 0,
    start: str = "2000-01-03",
    max_horizon: int = 7,
) -> SyntheticSeries:
    """Momentum in calm markets, reversal in turbulent ones: ``r_t = phi r_{t-1}`` while the
    GARCH(1,1) volatility is below its long-run level, ``-phi r_{t-1}`` above it. The sign of the
    dynamics depends on another variable: an interaction, which no additive model of the lags
    (nor a linear one) can express."""
    update = _garch_variance(omega, alpha, beta)
    long_run = omega / (1 - alpha - beta)

    def step(last: FArray, v: FArray, e: FArray) -> tuple[FArray, FArray]:
        shock = np.sqrt(v) * e
        return np.where(v < long_run, phi, -phi) * last + shock, update(shock, v)

    params = {"phi": phi, "alpha": alpha, "beta": beta}
    return _nonlinear_series(
        "regime_switching_ar",
        step,
        long_run,
        params,
        n=n,
        seed=seed,
        start=start,
        max_horizon=max_horizon,
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
        "sign_asymmetric_ar": sign_asymmetric_ar,
        "volatility_in_mean": volatility_in_mean,
        "regime_switching_ar": regime_switching_ar,
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
