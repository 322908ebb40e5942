"""Fixtures for the agent tests: facts as the facts node makes them, and real price tables."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from agent_graph.facts import Facts
from devkit.reports import synthetic_facts
from stock_assets.domain.indicators import compute_indicators
from stock_assets.domain.market_data import OfflineSampleProvider


@pytest.fixture(scope="session")
def sample_tables() -> Callable[[str], pd.DataFrame | None]:
    """Indicator tables computed from the real offline sample (AAPL and ^GSPC)."""
    provider = OfflineSampleProvider()
    tables = {t: compute_indicators(provider.fetch(t)) for t in ("AAPL", "^GSPC")}
    return tables.get


@pytest.fixture
def facts() -> Facts:
    """A bearish LSTM champion with no significant edge over naive."""
    return synthetic_facts()
