"""Ticker symbols: validation and filesystem-safe names.

A ticker becomes a Dagster partition key, a file name and a cache key, so it is validated once,
here, before it reaches any of them.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

MAX_TICKER_LENGTH = 15
# Yahoo-style symbols: an optional index caret, then letters, digits and the separators that real
# symbols use (BRK-B, RELIANCE.NS, EURUSD=X). No slashes, spaces or leading dots.
_TICKER_RE = re.compile(r"^\^?[A-Z0-9][A-Z0-9.\-=]*$")
# What API schemas publish: a strict subset of what normalize_ticker accepts (any case, single
# separators between alphanumerics), so every schema-valid symbol is a valid one.
TICKER_PATTERN = r"^\^?[A-Za-z0-9]+([.=-][A-Za-z0-9]+)*$"


class InvalidTickerError(ValueError):
    """The text is not a plausible ticker symbol."""


def normalize_ticker(raw: str) -> str:
    """Validate and canonicalise a ticker (upper case, trimmed) or raise InvalidTickerError."""
    if not isinstance(raw, str):
        raise InvalidTickerError("Ticker must be a string.")
    ticker = raw.strip().upper()
    if not ticker:
        raise InvalidTickerError("Ticker is empty.")
    if len(ticker) > MAX_TICKER_LENGTH:
        raise InvalidTickerError(
            f"Ticker {ticker[:20]!r}... is {len(ticker)} characters; at most "
            f"{MAX_TICKER_LENGTH} are allowed."
        )
    if ".." in ticker or not _TICKER_RE.fullmatch(ticker):
        raise InvalidTickerError(
            f"Ticker {ticker!r} is not a valid symbol: use letters, digits and '.', '-', '=' "
            "(an index may start with '^'), e.g. AAPL, BRK-B, RELIANCE.NS, ^GSPC."
        )
    return ticker


def ticker_slug(ticker: str) -> str:
    """A filesystem- and URL-safe name for a (valid) ticker: '^GSPC' -> '%5EGSPC'. Reversible."""
    return quote(normalize_ticker(ticker), safe="")


def ticker_from_slug(slug: str) -> str:
    return normalize_ticker(unquote(slug))
