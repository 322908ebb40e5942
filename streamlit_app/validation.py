"""Ticker validation before a request is sent: the API's own rule, for instant feedback.

The API validates again (it is the authority); this copy only spares a round trip and gives the
message beside the input.
"""

from __future__ import annotations

import re

MAX_TICKER_LENGTH = 15
_TICKER_RE = re.compile(r"^\^?[A-Z0-9][A-Z0-9.\-=]*$")


def check_ticker(raw: str) -> tuple[str | None, str | None]:
    """``(ticker, None)`` canonicalised (trimmed, upper case), or ``(None, message)``."""
    ticker = (raw or "").strip().upper()
    if not ticker:
        return None, "Enter a ticker symbol, e.g. AAPL, BRK-B, RELIANCE.NS or ^GSPC."
    if len(ticker) > MAX_TICKER_LENGTH:
        return None, (
            f"{ticker[:20]!r} is {len(ticker)} characters long; a ticker has at most "
            f"{MAX_TICKER_LENGTH}."
        )
    if ".." in ticker or not _TICKER_RE.fullmatch(ticker):
        return None, (
            f"{ticker!r} is not a valid ticker symbol: use letters, digits and '.', '-', '=' "
            "(an index may start with '^'), e.g. AAPL, BRK-B, RELIANCE.NS, ^GSPC."
        )
    return ticker, None
