from __future__ import annotations

import pytest

from stock_assets.domain.symbols import (
    InvalidTickerError,
    normalize_ticker,
    ticker_from_slug,
    ticker_slug,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("^GSPC", "^GSPC"),
        ("BRK-B", "BRK-B"),
        ("RELIANCE.NS", "RELIANCE.NS"),
        (" aapl ", "AAPL"),
        ("EURUSD=X", "EURUSD=X"),
    ],
)
def test_valid_symbols_are_normalised(raw: str, expected: str) -> None:
    assert normalize_ticker(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("../etc", "not a valid symbol"),
        ("", "empty"),
        ("   ", "empty"),
        ("A" * 40, "40 characters"),
        ("AAPL;DROP", "not a valid symbol"),
        ("A/B", "not a valid symbol"),
        ("A..B", "not a valid symbol"),
        (".AAPL", "not a valid symbol"),
    ],
)
def test_invalid_symbols_are_rejected_with_a_reason(raw: str, message: str) -> None:
    with pytest.raises(InvalidTickerError, match=message):
        normalize_ticker(raw)


def test_slug_is_filesystem_safe_and_reversible() -> None:
    slug = ticker_slug("^GSPC")
    assert "/" not in slug and "^" not in slug
    assert ticker_from_slug(slug) == "^GSPC"
    assert ticker_slug("BRK-B") == "BRK-B"
