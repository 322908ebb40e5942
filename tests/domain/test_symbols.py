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


def test_redact_url_hides_only_the_password() -> None:
    from stock_assets.domain.redact import redact_url

    assert redact_url("redis://:pw@10.0.0.1:6379/0") == "redis://:***@10.0.0.1:6379/0"
    assert (
        redact_url("postgresql://mlflow:s3cret@db.internal/mlflow")
        == "postgresql://mlflow:***@db.internal/mlflow"
    )
    assert redact_url("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
