"""The market-data interface and the one normalisation every provider's answer goes through."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import pandas as pd

from stock_assets.domain.symbols import normalize_ticker

OHLCV_COLUMNS: tuple[str, ...] = ("date", "open", "high", "low", "close", "volume")
_PRICE_COLUMNS = ("open", "high", "low", "close")


class MarketDataError(RuntimeError):
    """A provider could not give usable data; the message says why, for a human."""


class UnknownTickerError(MarketDataError):
    """The provider does not know this ticker."""


class EmptyDataError(MarketDataError):
    """The provider answered, but with no rows."""


class CorruptDataError(MarketDataError):
    """The provider's answer cannot be parsed into daily OHLCV."""


class MarketDataProvider(ABC):
    """Daily OHLCV for one ticker, split-adjusted, as a frame with columns ``OHLCV_COLUMNS``."""

    name: str = "abstract"

    @abstractmethod
    def fetch(self, ticker: str) -> pd.DataFrame:
        """The ticker's whole daily history (normalised), or a MarketDataError subclass."""

    @abstractmethod
    def knows(self, ticker: str) -> bool:
        """Whether ``fetch`` can be expected to succeed for ``ticker`` (cheap where possible)."""

    def available_tickers(self) -> list[str] | None:
        """Every ticker this provider can serve, where that list is finite and known."""
        return None


def normalize_ohlcv(raw: pd.DataFrame, ticker: str, source: str) -> pd.DataFrame:
    """Columns lower-cased and renamed, dates parsed and sorted, prices adjusted; or a clear error.

    When an adjusted close is present (``adj_close``/``adj close``) open, high, low and close are
    scaled by ``adj_close / close`` so splits do not show up as 50% crashes; volume is scaled the
    other way so that traded value is preserved.
    """
    ticker = normalize_ticker(ticker)
    if raw is None or len(raw) == 0:
        raise EmptyDataError(f"{source} returned no rows for {ticker}.")
    frame = raw.copy()
    if "date" not in {str(c).strip().lower() for c in frame.columns}:
        frame = frame.reset_index()
    frame.columns = [str(c).strip().lower().replace(" ", "_") for c in frame.columns]
    if "datetime" in frame.columns and "date" not in frame.columns:
        frame = frame.rename(columns={"datetime": "date"})
    missing = [c for c in OHLCV_COLUMNS if c not in frame.columns]
    if missing:
        raise CorruptDataError(
            f"{source} data for {ticker} lacks column(s) {', '.join(missing)}; "
            f"found {', '.join(map(str, frame.columns))}."
        )
    try:
        dates = pd.to_datetime(frame["date"], errors="raise", utc=False)
    except (ValueError, TypeError) as exc:
        raise CorruptDataError(f"{source} data for {ticker} has unparseable dates: {exc}") from exc
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert("America/New_York").dt.tz_localize(None)
    out = pd.DataFrame({"date": dates.dt.normalize()})
    for col in (*_PRICE_COLUMNS, "volume", "adj_close"):
        if col not in frame.columns:
            continue
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() & frame[col].notna()
        if bad.any():
            example = frame.loc[bad, col].iloc[0]
            raise CorruptDataError(
                f"{source} data for {ticker} has a non-numeric {col!r} value ({example!r})."
            )
        out[col] = values.astype(float)
    out = out.dropna(subset=list(_PRICE_COLUMNS))
    if out.empty:
        raise EmptyDataError(f"{source} returned no complete OHLC rows for {ticker}.")
    if "adj_close" in out.columns:
        factor = (out["adj_close"] / out["close"]).replace([np.inf, -np.inf], np.nan)
        factor = factor.fillna(1.0)
        for col in _PRICE_COLUMNS:
            out[col] = out[col] * factor
        out["volume"] = out["volume"] / factor
        out = out.drop(columns="adj_close")
    out["volume"] = out["volume"].fillna(0.0)
    out = out.sort_values("date", kind="stable").reset_index(drop=True)
    return out[list(OHLCV_COLUMNS)]
