"""Market-data providers: one interface, three implementations (offline sample, Yahoo, files)."""

from stock_assets.domain.market_data.base import (
    OHLCV_COLUMNS,
    CorruptDataError,
    EmptyDataError,
    MarketDataError,
    MarketDataProvider,
    UnknownTickerError,
    normalize_ohlcv,
)
from stock_assets.domain.market_data.files import FileMarketData
from stock_assets.domain.market_data.sample import OfflineSampleProvider
from stock_assets.domain.market_data.yahoo import YahooMarketData

__all__ = [
    "OHLCV_COLUMNS",
    "CorruptDataError",
    "EmptyDataError",
    "FileMarketData",
    "MarketDataError",
    "MarketDataProvider",
    "OfflineSampleProvider",
    "UnknownTickerError",
    "YahooMarketData",
    "normalize_ohlcv",
]
