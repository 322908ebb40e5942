"""Synthetic market series for tests and benchmarks: OHLCV on NYSE sessions (a random walk, a
straight line), and a volatility regime change planted in real data. The random walk comes from
the domain's own synthetic processes and calendar, so it passes the same validation as market
data."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from stock_assets.domain.calendar import trading_days
from stock_assets.domain.ml.synthetic import random_walk
from stock_assets.domain.symbols import ticker_slug

# A fixture that makes frames: ``make(n, seed=..., ...)``.
FrameFactory = Callable[..., pd.DataFrame]


def random_walk_ohlcv(
    n: int, seed: int = 0, start: str = "2010-01-04", end: str | None = None, vol: float = 0.01
) -> pd.DataFrame:
    """Geometric random walk OHLCV on the first ``n`` NYSE sessions from ``start``, or on the
    ``n`` sessions ending on ``end`` when it is given."""
    if end is not None:
        sessions = trading_days(pd.Timestamp(end) - pd.Timedelta(days=2 * n + 30), end)[-n:]
        if len(sessions) != n:
            raise ValueError(f"fewer than {n} NYSE sessions end on {end}")
        start = str(sessions[0].date())
    return random_walk(n, sigma=vol, seed=seed, start=start).ohlcv


def linear_ohlcv(
    start: str, days: int, first: float, last: float, *, spread: float, volume: float
) -> pd.DataFrame:
    """``days`` business days from ``start`` (ISO dates as strings, as a file holds them), the
    close rising linearly from ``first`` to ``last``, high and low ``spread`` around it: a frame
    every OHLCV rule accepts, where no NYSE holiday falls in the window."""
    close = np.linspace(first, last, days)
    return pd.DataFrame(
        {
            "date": pd.bdate_range(start, periods=days).strftime("%Y-%m-%d"),
            "open": close,
            "high": close + spread,
            "low": close - spread,
            "close": close,
            "volume": volume,
        }
    )


def write_market_folder(folder: Path, histories: Mapping[str, pd.DataFrame]) -> Path:
    """A folder the ``files`` market-data provider reads: one ``<SLUG>.parquet`` per ticker."""
    folder.mkdir(parents=True, exist_ok=True)
    for ticker, frame in histories.items():
        frame.to_parquet(folder / f"{ticker_slug(ticker)}.parquet", index=False)
    return folder


def amplify_recent_moves(frame: pd.DataFrame, days: int, factor: float) -> pd.DataFrame:
    """The last ``days`` daily moves ``factor`` times larger (a volatility regime change).

    Open/high/low move with the close (same ratio), so the OHLC rules still hold.
    """
    out = frame.copy()
    close = out["close"].to_numpy(dtype=float)
    moves = np.diff(np.log(close))
    new = close.copy()
    for i in range(len(close) - days, len(close)):
        new[i] = new[i - 1] * np.exp(factor * moves[i - 1])
    ratio = new / close
    for column in ("open", "high", "low", "close"):
        out[column] = out[column] * ratio
    return out
