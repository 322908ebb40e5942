"""Providers: the offline sample, a folder of files, and Yahoo.

Yahoo Finance cannot be reached from CI, so its tests replace only what crosses the network: the
HTTP request inside yfinance (real yfinance parsing on canned chart answers), or the provider's
download call for retry behaviour. One test runs the real yfinance with no network at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from devkit.series import linear_ohlcv
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
    """A file as Yahoo's CSV export writes it: capitalised columns and an adjusted close."""
    frame = linear_ohlcv("2024-01-02", rows, 10, 11, spread=0.5, volume=1000)
    frame = frame.rename(columns=str.title)
    return frame.assign(**{"Adj Close": frame["Close"] / 2})


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


class _FakeYahooResponse:
    """What curl_cffi would hand yfinance for a chart request."""

    def __init__(self, url: str, payload: dict[str, Any]) -> None:
        self.url = url
        self.status_code = 200
        self._payload = payload
        self.text = json.dumps(payload)

    def json(self) -> dict[str, Any]:
        return self._payload


def _chart_payload(symbol: str, days: int) -> dict[str, Any]:
    dates = pd.bdate_range("2024-03-04", periods=days, tz="America/New_York") + pd.Timedelta(
        hours=9, minutes=30
    )
    close = [100.0 + i for i in range(days)]
    return {
        "chart": {
            "result": [
                {
                    "meta": {
                        "symbol": symbol,
                        "currency": "USD",
                        "exchangeTimezoneName": "America/New_York",
                        "timezone": "EST",
                        "gmtoffset": -18000,
                        "instrumentType": "EQUITY",
                        "dataGranularity": "1d",
                        "priceHint": 2,
                        "regularMarketPrice": close[-1],
                    },
                    "timestamp": [int(d.timestamp()) for d in dates],
                    "indicators": {
                        "quote": [
                            {
                                "open": close,
                                "high": [c + 1 for c in close],
                                "low": [c - 1 for c in close],
                                "close": close,
                                "volume": [1000] * days,
                            }
                        ],
                        "adjclose": [{"adjclose": [c / 2 for c in close]}],
                    },
                }
            ],
            "error": None,
        }
    }


def test_real_yfinance_parses_a_stubbed_http_answer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Only the HTTP request is replaced: yfinance's own parsing and adjustment run for real."""
    import yfinance as yf
    from yfinance.data import YfData

    yf.set_tz_cache_location(str(tmp_path / "yf-cache"))
    requested: list[str] = []

    def fake_request(self: YfData, url: str, *args: Any, **kwargs: Any) -> _FakeYahooResponse:
        requested.append(url)
        if "/v8/finance/chart/" not in url:
            raise ConnectionError(f"unexpected request to {url}")
        return _FakeYahooResponse(url, _chart_payload(url.rsplit("/", 1)[-1], 30))

    monkeypatch.setattr(YfData, "_make_request", fake_request)
    frame = YahooMarketData(start="2024-03-01", retries=1).fetch("MSFT")
    assert len(frame) == 30 and list(frame.columns) == list(OHLCV_COLUMNS)
    assert frame["close"].iloc[0] == pytest.approx(50.0)  # auto-adjusted by yfinance
    assert frame["date"].iloc[0] == pd.Timestamp("2024-03-04")
    assert any(url.endswith("/v8/finance/chart/MSFT") for url in requested)


def test_real_yfinance_unknown_symbol_answer_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import yfinance as yf
    from yfinance.data import YfData

    yf.set_tz_cache_location(str(tmp_path / "yf-cache"))
    not_found = {
        "chart": {
            "result": None,
            "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
        }
    }
    monkeypatch.setattr(
        YfData, "_make_request", lambda self, url, *a, **k: _FakeYahooResponse(url, not_found)
    )
    with pytest.raises(EmptyDataError, match="no data for NOSUCH after 1 attempt"):
        YahooMarketData(retries=1).fetch("NOSUCH")
