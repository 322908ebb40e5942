"""A folder of ``<TICKER>.csv`` / ``<TICKER>.parquet`` files: a user's own daily data.

Column names are matched case-insensitively (``Date``, ``Open``, ..., optional ``Adj Close``).
The file for ``^GSPC`` may be named ``^GSPC.csv`` or by its slug, ``%5EGSPC.csv``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from stock_assets.domain.market_data.base import (
    CorruptDataError,
    MarketDataProvider,
    UnknownTickerError,
    normalize_ohlcv,
)
from stock_assets.domain.symbols import normalize_ticker, ticker_from_slug, ticker_slug

_SUFFIXES = (".parquet", ".csv")


class FileMarketData(MarketDataProvider):
    name = "files"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _path_for(self, ticker: str) -> Path | None:
        symbol = normalize_ticker(ticker)
        for stem in dict.fromkeys((symbol, ticker_slug(symbol))):
            for suffix in _SUFFIXES:
                candidate = self.folder / f"{stem}{suffix}"
                if candidate.is_file():
                    return candidate
        return None

    def fetch(self, ticker: str) -> pd.DataFrame:
        symbol = normalize_ticker(ticker)
        path = self._path_for(symbol)
        if path is None:
            raise UnknownTickerError(
                f"No file for {symbol} in {self.folder} (expected {symbol}.csv or "
                f"{symbol}.parquet)."
            )
        source = f"file {path.name}"
        try:
            raw = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise CorruptDataError(f"Cannot read {path}: {exc}") from exc
        return normalize_ohlcv(raw, symbol, source)

    def knows(self, ticker: str) -> bool:
        return self._path_for(ticker) is not None

    def available_tickers(self) -> list[str]:
        found: set[str] = set()
        if self.folder.is_dir():
            for path in self.folder.iterdir():
                if path.suffix in _SUFFIXES:
                    try:
                        found.add(ticker_from_slug(path.stem))
                    except ValueError:
                        continue
        return sorted(found)
