"""Synthetic data for the forecasting-core tests: small, seeded, on NYSE sessions."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from devkit.series import random_walk_ohlcv
from stock_assets.domain.indicators import compute_indicators

FrameFactory = Callable[..., pd.DataFrame]


@pytest.fixture
def indicator_frame() -> FrameFactory:
    """Factory: indicator table (with NaN warm-up rows) of a random walk."""

    def make(n: int = 600, seed: int = 0, **kwargs: object) -> pd.DataFrame:
        return compute_indicators(random_walk_ohlcv(n, seed=seed, **kwargs))  # type: ignore[arg-type]

    return make
