"""Offline sample: real public-domain daily OHLCV shipped inside PyPI packages.

- ``^GSPC``: the S&P 500 index, 1999-01-04 .. 2018-12-31, from ``arch.data.sp500``.
- ``AAPL``, ``MSFT``, ``IBM`` (2000-03 .. 2013-03) and ``GOOG`` (2004-08 .. 2013-03) from
  ``bokeh_sampledata.stocks``; their ``adj_close`` is used to remove splits (and dividends).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import pandas as pd

from stock_assets.domain.market_data.base import (
    MarketDataProvider,
    UnknownTickerError,
    normalize_ohlcv,
)
from stock_assets.domain.symbols import normalize_ticker

SOURCE = "offline sample"


def _load_sp500() -> pd.DataFrame:
    from arch.data import sp500

    frame = sp500.load()
    frame.index.name = "date"
    return frame.reset_index()


def _load_bokeh(symbol: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from bokeh_sampledata import stocks

        return pd.DataFrame(getattr(stocks, symbol))

    return load


_LOADERS: dict[str, Callable[[], pd.DataFrame]] = {
    "^GSPC": _load_sp500,
    "AAPL": _load_bokeh("AAPL"),
    "MSFT": _load_bokeh("MSFT"),
    "IBM": _load_bokeh("IBM"),
    "GOOG": _load_bokeh("GOOG"),
}


@lru_cache(maxsize=len(_LOADERS))
def _cached(ticker: str) -> pd.DataFrame:
    return normalize_ohlcv(_LOADERS[ticker](), ticker, SOURCE)


class OfflineSampleProvider(MarketDataProvider):
    """The default provider: works on a fresh machine with no network."""

    name = "sample"

    def fetch(self, ticker: str) -> pd.DataFrame:
        symbol = normalize_ticker(ticker)
        if symbol not in _LOADERS:
            raise UnknownTickerError(
                f"The offline sample has no data for {symbol}; it has "
                f"{', '.join(sorted(_LOADERS))}. Set STOCKOPS_MARKET_DATA_PROVIDER=yahoo or "
                "=files for other tickers."
            )
        return _cached(symbol).copy()

    def knows(self, ticker: str) -> bool:
        return normalize_ticker(ticker) in _LOADERS

    def available_tickers(self) -> list[str]:
        return sorted(_LOADERS)
