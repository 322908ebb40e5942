"""Synthetic data for the forecasting-core tests: small, seeded, on NYSE sessions."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from devkit.series import FrameFactory, random_walk_ohlcv
from stock_assets.domain.indicators import compute_indicators
from stock_assets.domain.ml.config import TINY
from stock_assets.domain.ml.dataset import PreparedData, prepare_data


@pytest.fixture
def indicator_frame() -> FrameFactory:
    """Factory: indicator table (with NaN warm-up rows) of a random walk."""

    def make(n: int = 600, seed: int = 0, **kwargs: object) -> pd.DataFrame:
        return compute_indicators(random_walk_ohlcv(n, seed=seed, **kwargs))  # type: ignore[arg-type]

    return make


@pytest.fixture
def prepared_data(indicator_frame: FrameFactory) -> Callable[..., PreparedData]:
    """Factory: a random walk's indicators prepared for the tiny model configuration."""

    def make(n: int, seed: int) -> PreparedData:
        return prepare_data(indicator_frame(n, seed=seed), TINY)

    return make
