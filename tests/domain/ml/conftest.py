"""Synthetic data for the forecasting-core tests: small, seeded, on NYSE sessions."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from stock_assets.domain.calendar import trading_days
from stock_assets.domain.indicators import compute_indicators

FrameFactory = Callable[..., pd.DataFrame]


def random_walk_ohlcv(
    n: int, seed: int = 0, start: str = "2010-01-04", end: str | None = None, vol: float = 0.01
) -> pd.DataFrame:
    """Geometric random walk OHLCV on the first ``n`` NYSE sessions from ``start``.

    With ``end`` given, the ``n`` sessions ending on ``end`` are used instead.
    """
    rng = np.random.default_rng(seed)
    if end is not None:
        dates = trading_days(pd.Timestamp(end) - pd.Timedelta(days=2 * n + 30), end)[-n:]
    else:
        dates = trading_days(start, pd.Timestamp(start) + pd.Timedelta(days=2 * n + 30))[:n]
    assert len(dates) == n
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    spread = np.abs(rng.normal(0.0, vol / 2, n)) * close
    open_ = close * np.exp(rng.normal(0.0, vol / 4, n))
    return pd.DataFrame(
        {
            "date": dates,
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": rng.integers(1_000_000, 5_000_000, n).astype(float),
        }
    )


@pytest.fixture
def indicator_frame() -> FrameFactory:
    """Factory: indicator table (with NaN warm-up rows) of a random walk."""

    def make(n: int = 600, seed: int = 0, **kwargs: object) -> pd.DataFrame:
        return compute_indicators(random_walk_ohlcv(n, seed=seed, **kwargs))  # type: ignore[arg-type]

    return make
