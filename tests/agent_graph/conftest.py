"""Fixtures for the agent tests: facts as the facts node makes them, and real price tables."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from agent_graph.facts import DriftStatus, Facts, ForecastRow, QualityRow, derive_stance
from stock_assets.domain.calendar import next_trading_days
from stock_assets.domain.indicators import compute_indicators
from stock_assets.domain.market_data import OfflineSampleProvider

AS_OF = "2013-03-01"


def make_facts(ticker: str = "AAPL", change: float = -1.5, rel_mae: float = 1.02) -> Facts:
    """Facts with a 7-session forecast drifting by ``change`` percent and a backtest table of an
    LSTM champion with no significant edge over naive (p-values far from 0.05)."""
    last = 430.47
    sessions = next_trading_days(pd.Timestamp(AS_OF), 7)
    rows = tuple(
        ForecastRow(
            horizon=h,
            date=str(sessions[h - 1].date()),
            median=last * (1 + change / 100 * h / 7),
            lower=last * (1 + change / 100 * h / 7 - 0.012 * h**0.5),
            upper=last * (1 + change / 100 * h / 7 + 0.012 * h**0.5),
            change_pct=change * h / 7,
        )
        for h in range(1, 8)
    )
    quality = tuple(
        QualityRow(h, rel_mae + 0.01 * h, 0.51, 0.53, 0.78 + 0.001 * h, 0.6 + 0.01 * h, False)
        for h in range(1, 8)
    )
    drift = DriftStatus("not computed")
    base = Facts(
        ticker=ticker, as_of=AS_OF, last_close=last, model_version="3",
        bundle_version="20250101T000000-abcdef", model="lstm", model_kind="learned",
        skill="The LSTM serves, but its edge over the naive forecast is not statistically "
        "significant at any horizon: no skill over naive is claimed.",
        nominal_coverage=0.8, quantiles=(0.1, 0.5, 0.9), forecast=rows, quality=quality,
        promoted=True, drift=drift,
        indicators={"close": last, "rsi_14": 41.23, "macd_hist": -1.234, "volatility_20": 0.3123,
                    "volume_z_20": 0.42, "log_return": -0.0031},
    )  # fmt: skip
    stance, confidence = derive_stance(
        base.expected_change_pct, base.interval_width_pct, base.beats_naive, drift
    )
    return Facts(**{**base.__dict__, "stance": stance, "confidence": confidence})


@pytest.fixture(scope="session")
def sample_tables() -> Callable[[str], pd.DataFrame | None]:
    """Indicator tables computed from the real offline sample (AAPL and ^GSPC)."""
    provider = OfflineSampleProvider()
    tables = {t: compute_indicators(provider.fetch(t)) for t in ("AAPL", "^GSPC")}
    return tables.get


@pytest.fixture
def facts() -> Facts:
    return make_facts()
