"""Technical indicators computed from daily OHLCV.

Every indicator here is causal: the value on day ``t`` uses rows up to and including ``t`` only, so
a feature row never leaks the future into a training window.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RSI_PERIOD = 14
MACD_FAST, MACD_SLOW, MACD_SIGNAL = 12, 26, 9
VOLATILITY_WINDOW = 20
VOLUME_Z_WINDOW = 20
TRADING_DAYS_PER_YEAR = 252
# Rows whose indicators are still warming up: the MACD line needs `slow` closes and its signal
# line `signal` MACD values, so row slow + signal - 2 (0-based) is the first complete one.
WARMUP_ROWS = MACD_SLOW + MACD_SIGNAL - 2

INDICATOR_COLUMNS: tuple[str, ...] = (
    "log_return",
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "macd_norm",
    "macd_signal_norm",
    "macd_hist_norm",
    "volatility_20",
    "volume_z_20",
)
# Price-scale-free inputs: what a model shared between ^GSPC (~2,000) and a $20 stock can use.
MODEL_FEATURE_COLUMNS: tuple[str, ...] = (
    "log_return",
    "rsi_14",
    "macd_norm",
    "macd_signal_norm",
    "macd_hist_norm",
    "volatility_20",
    "volume_z_20",
)


def log_returns(close: pd.Series) -> pd.Series:
    return np.log(close / close.shift(1))


def rsi_wilder(close: pd.Series, period: int = RSI_PERIOD) -> pd.Series:
    """RSI with Wilder's smoothing: seeded with the simple mean of the first ``period`` moves."""
    delta = close.diff().to_numpy()
    gains = np.clip(np.nan_to_num(delta), 0, None)
    losses = np.clip(-np.nan_to_num(delta), 0, None)
    out = np.full(len(close), np.nan)
    if len(close) <= period:
        return pd.Series(out, index=close.index, name="rsi_14")
    avg_gain = gains[1 : period + 1].mean()
    avg_loss = losses[1 : period + 1].mean()
    for i in range(period, len(close)):
        if i > period:
            avg_gain = (avg_gain * (period - 1) + gains[i]) / period
            avg_loss = (avg_loss * (period - 1) + losses[i]) / period
        if avg_loss == 0:
            out[i] = 100.0 if avg_gain > 0 else 50.0
        else:
            out[i] = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    return pd.Series(out, index=close.index, name="rsi_14")


def macd(
    close: pd.Series, fast: int = MACD_FAST, slow: int = MACD_SLOW, signal: int = MACD_SIGNAL
) -> pd.DataFrame:
    """MACD line (EMA fast - EMA slow), its signal line (EMA of the line) and the histogram.

    Values before the EMAs have seen enough data are masked to NaN rather than reported half-baked.
    """
    ema_fast = close.ewm(span=fast, adjust=False).mean()
    ema_slow = close.ewm(span=slow, adjust=False).mean()
    line = ema_fast - ema_slow
    line[: slow - 1] = np.nan
    sig = line.ewm(span=signal, adjust=False).mean()
    sig[: slow + signal - 2] = np.nan
    return pd.DataFrame({"macd": line, "macd_signal": sig, "macd_hist": line - sig})


def rolling_volatility(returns: pd.Series, window: int = VOLATILITY_WINDOW) -> pd.Series:
    """Annualised standard deviation of daily log returns over ``window`` days."""
    return returns.rolling(window).std(ddof=1) * np.sqrt(TRADING_DAYS_PER_YEAR)


def volume_zscore(volume: pd.Series, window: int = VOLUME_Z_WINDOW) -> pd.Series:
    roll = volume.astype(float).rolling(window)
    std = roll.std(ddof=1).replace(0.0, np.nan)
    return ((volume - roll.mean()) / std).fillna(0.0).where(roll.count() >= window)


def compute_indicators(ohlcv: pd.DataFrame) -> pd.DataFrame:
    """Indicator table for one ticker: ``date``, ``close`` and every column of INDICATOR_COLUMNS.

    ``ohlcv`` must be sorted by ``date`` with columns date, open, high, low, close, volume.
    """
    close = ohlcv["close"].astype(float).reset_index(drop=True)
    volume = ohlcv["volume"].astype(float).reset_index(drop=True)
    out = pd.DataFrame({"date": ohlcv["date"].reset_index(drop=True), "close": close})
    out["log_return"] = log_returns(close)
    out["rsi_14"] = rsi_wilder(close)
    m = macd(close)
    out[["macd", "macd_signal", "macd_hist"]] = m
    for col in ("macd", "macd_signal", "macd_hist"):
        out[f"{col}_norm"] = m[col] / close
    out["volatility_20"] = rolling_volatility(out["log_return"])
    out["volume_z_20"] = volume_zscore(volume)
    return out


def rows_with_nan_after_warmup(indicators: pd.DataFrame) -> pd.DataFrame:
    """Rows past the warm-up period that still have a missing indicator (should be none)."""
    tail = indicators.iloc[WARMUP_ROWS:]
    return tail[tail[list(INDICATOR_COLUMNS)].isna().any(axis=1)]
