"""Registering tickers: validate the symbol, ask the provider, add the dynamic partition.

Shared by the CLI, the ``register_ticker`` job in the Dagster UI and (later) the API, so a ticker
reaches the partition set only through one gate.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from stock_assets.domain.market_data import MarketDataProvider, UnknownTickerError
from stock_assets.domain.symbols import normalize_ticker
from stock_assets.names import TICKERS_PARTITION


def registered_tickers(instance: dg.DagsterInstance) -> list[str]:
    return list(instance.get_dynamic_partitions(TICKERS_PARTITION))


def register_tickers(
    instance: dg.DagsterInstance, provider: MarketDataProvider, tickers: Iterable[str]
) -> list[str]:
    """Add every ticker not yet registered; returns the newly added ones.

    All symbols are validated and checked against the provider before any is added, so a bad
    ticker in a list leaves the partition set untouched.
    """
    symbols = list(dict.fromkeys(normalize_ticker(t) for t in tickers))
    unknown = [s for s in symbols if not provider.knows(s)]
    if unknown:
        raise UnknownTickerError(
            f"The {provider.name} market-data provider does not know {', '.join(unknown)}."
            + _known_hint(provider)
        )
    existing = set(registered_tickers(instance))
    new = [s for s in symbols if s not in existing]
    if new:
        instance.add_dynamic_partitions(TICKERS_PARTITION, new)
    return new


def unregister_ticker(instance: dg.DagsterInstance, ticker: str) -> bool:
    symbol = normalize_ticker(ticker)
    if symbol not in registered_tickers(instance):
        return False
    instance.delete_dynamic_partition(TICKERS_PARTITION, symbol)
    return True


def _known_hint(provider: MarketDataProvider) -> str:
    known = provider.available_tickers()
    return f" Available: {', '.join(known)}." if known else ""
