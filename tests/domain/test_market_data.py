"""Providers: the offline sample, a folder of files, and Yahoo with yfinance stubbed at its
network call (no network exists here; one test uses the real yfinance to show the offline error)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from stock_assets.domain.market_data import (
    OHLCV_COLUMNS,
    CorruptDataError,
    EmptyDataError,
    FileMarketData,
    OfflineSampleProvider,
    UnknownTickerError,
    YahooMarketData,
)


@pytest.mark.parametrize(
    ("ticker", "first", "min_rows"),
    [("^GSPC", "1999-01-04", 5000), ("AAPL", "2000-03-01", 3200), ("GOOG", "2004-08-19", 2000)],
)
def test_sample_provider_serves_real_history(ticker: str, first: str, min_rows: int) -> None:
    frame = OfflineSampleProvider().fetch(ticker)
    assert list(frame.columns) == list(OHLCV_COLUMNS)
    assert frame["date"].iloc[0] == pd.Timestamp(first)
    assert len(frame) >= min_rows
    assert frame["date"].is_monotonic_increasing


@pytest.mark.parametrize("split_day", ["2000-06-21", "2005-02-28"])
def test_sample_prices_are_split_adjusted(split_day: str) -> None:
    """AAPL split 2:1 on these days: raw closes halve overnight, adjusted ones must not.

    (AAPL's real -52% day, 2000-09-29, was a profit warning, not a split, and stays.)
    """
    frame = OfflineSampleProvider().fetch("AAPL").set_index("date")
    returns = np.log(frame["close"] / frame["close"].shift(1))
    assert abs(returns[pd.Timestamp(split_day)]) < 0.15


def test_sample_provider_rejects_unknown_ticker_clearly() -> None:
    provider = OfflineSampleProvider()
    assert not provider.knows("TSLA")
    with pytest.raises(UnknownTickerError, match="offline sample has no data for TSLA"):
        provider.fetch("TSLA")


def _frame(rows: int = 5) -> pd.DataFrame:
    dates = pd.bdate_range("2024-01-02", periods=rows)
    close = np.linspace(10, 11, rows)
    return pd.DataFrame(
        {"Date": dates.strftime("%Y-%m-%d"), "Open": close, "High": close + 0.5,
         "Low": close - 0.5, "Close": close, "Adj Close": close / 2, "Volume": 1000}
    )  # fmt: skip


def test_file_provider_reads_csv_and_parquet_and_adjusts(tmp_path: Path) -> None:
    _frame().to_csv(tmp_path / "BRK-B.csv", index=False)
    _frame().to_parquet(tmp_path / "%5EGSPC.parquet")
    provider = FileMarketData(tmp_path)
    assert provider.available_tickers() == ["BRK-B", "^GSPC"]
    frame = provider.fetch("brk-b")
    assert frame["close"].iloc[0] == pytest.approx(5.0)  # scaled by Adj Close / Close
    assert frame["volume"].iloc[0] == pytest.approx(2000.0)
    assert len(provider.fetch("^GSPC")) == 5


def test_file_provider_errors_are_clear(tmp_path: Path) -> None:
    provider = FileMarketData(tmp_path)
    with pytest.raises(UnknownTickerError, match=r"No file for MSFT"):
        provider.fetch("MSFT")
    (tmp_path / "BAD.csv").write_bytes(b'Date,Open,High\n2024-01-02,1,\x00\xff\xfe\n"unterminated')
    with pytest.raises(CorruptDataError):
        provider.fetch("BAD")
    _frame().drop(columns=["Volume"]).to_csv(tmp_path / "NOVOL.csv", index=False)
    with pytest.raises(CorruptDataError, match="lacks column"):
        provider.fetch("NOVOL")
    broken = _frame()
    broken["Close"] = broken["Close"].astype(object)
    broken.loc[2, "Close"] = "abc"
    broken.to_csv(tmp_path / "TEXT.csv", index=False)
    with pytest.raises(CorruptDataError, match="non-numeric 'close'"):
        provider.fetch("TEXT")
    (tmp_path / "EMPTY.csv").write_text("Date,Open,High,Low,Close,Volume\n")
    with pytest.raises(EmptyDataError):
        provider.fetch("EMPTY")


class _StubDownload:
    """Stands in for yfinance's network call; records what it was asked."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> pd.DataFrame:
        self.calls.append(kwargs)
        answer = self.answers[min(len(self.calls) - 1, len(self.answers) - 1)]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _yahoo_frame() -> pd.DataFrame:
    frame = _frame().drop(columns=["Adj Close"])
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("Date")), name="Date")
    return frame


def test_yahoo_retries_then_succeeds_with_timeout_passed() -> None:
    stub = _StubDownload([TimeoutError("read timed out"), _yahoo_frame()])
    provider = YahooMarketData(timeout_s=7, retries=3, backoff_s=0, downloader=stub)
    frame = provider.fetch("AAPL")
    assert len(frame) == 5 and len(stub.calls) == 2
    assert stub.calls[0]["timeout"] == 7 and stub.calls[0]["tickers"] == "AAPL"


def test_yahoo_empty_answer_is_a_clear_error() -> None:
    stub = _StubDownload([pd.DataFrame()])
    provider = YahooMarketData(retries=2, backoff_s=0, downloader=stub)
    with pytest.raises(EmptyDataError, match="no data for ZZZZ after 2 attempt"):
        provider.fetch("ZZZZ")
    assert not provider.knows("ZZZZ")


def test_real_yfinance_offline_gives_a_clear_error() -> None:
    """The real library, no stub: with no route to Yahoo it answers empty, and we say so."""
    provider = YahooMarketData(timeout_s=3, retries=1, backoff_s=0)
    with pytest.raises(EmptyDataError, match="Yahoo Finance returned no data for AAPL"):
        provider.fetch("AAPL")
