"""Yahoo Finance through yfinance: timeouts, retries with back-off, and clear errors.

yfinance does not raise when Yahoo is unreachable or the symbol is unknown: ``download`` logs and
returns an empty frame. Both are turned into an ``EmptyDataError`` that says which.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from stock_assets.domain.market_data.base import (
    EmptyDataError,
    MarketDataError,
    MarketDataProvider,
    normalize_ohlcv,
)
from stock_assets.domain.symbols import normalize_ticker

log = logging.getLogger(__name__)
SOURCE = "Yahoo Finance"
Downloader = Callable[..., pd.DataFrame]


def _yf_download(**kwargs: Any) -> pd.DataFrame:
    import yfinance as yf

    return yf.download(**kwargs)


def _yf_last_error(ticker: str) -> str | None:
    try:
        from yfinance import shared
    except ImportError:  # pragma: no cover - yfinance is a hard dependency
        return None
    errors = getattr(shared, "_ERRORS", {}) or {}
    return errors.get(ticker)


class YahooMarketData(MarketDataProvider):
    name = "yahoo"

    def __init__(
        self,
        start: str = "2000-01-01",
        timeout_s: float = 20.0,
        retries: int = 3,
        backoff_s: float = 1.0,
        downloader: Downloader | None = None,
    ) -> None:
        self.start = start
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        # The one seam tests replace: everything above yfinance's network call is real.
        self._download = downloader or _yf_download

    def _download_once(self, symbol: str, start: str) -> pd.DataFrame:
        frame = self._download(
            tickers=symbol,
            start=start,
            interval="1d",
            auto_adjust=True,
            actions=False,
            progress=False,
            threads=False,
            timeout=self.timeout_s,
            multi_level_index=False,
        )
        if isinstance(frame.columns, pd.MultiIndex):  # older yfinance ignores multi_level_index
            frame.columns = frame.columns.get_level_values(0)
        return frame

    def _fetch_from(self, symbol: str, start: str) -> pd.DataFrame:
        last_problem = "no rows"
        for attempt in range(1, self.retries + 1):
            try:
                frame = self._download_once(symbol, start)
            except Exception as exc:  # yfinance raises many types on network trouble
                last_problem = f"{type(exc).__name__}: {exc}"
                frame = pd.DataFrame()
            else:
                if len(frame) > 0:
                    return normalize_ohlcv(frame, symbol, SOURCE)
                last_problem = _yf_last_error(symbol) or "no rows"
            log.warning(
                "Yahoo attempt %d/%d for %s failed: %s", attempt, self.retries, symbol, last_problem
            )
            if attempt < self.retries:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
        raise EmptyDataError(
            f"{SOURCE} returned no data for {symbol} after {self.retries} attempt(s) "
            f"({last_problem}). The symbol may be unknown or delisted, or Yahoo is unreachable."
        )

    def fetch(self, ticker: str) -> pd.DataFrame:
        return self._fetch_from(normalize_ticker(ticker), self.start)

    def knows(self, ticker: str) -> bool:
        symbol = normalize_ticker(ticker)
        recent = (pd.Timestamp.today() - pd.Timedelta(days=14)).strftime("%Y-%m-%d")
        try:
            self._fetch_from(symbol, recent)
        except MarketDataError:
            return False
        return True
