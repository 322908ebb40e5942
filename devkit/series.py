"""Synthetic market series for tests and benchmarks: OHLCV on NYSE sessions, and a volatility
regime change planted in real data. Both built from the domain's own synthetic processes and
calendar, so they pass the same validation as market data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stock_assets.domain.calendar import trading_days
from stock_assets.domain.ml.synthetic import random_walk


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
