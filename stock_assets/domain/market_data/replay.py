"""Market replay: history served one NYSE session at a time, as if it were happening now.

The clock is one small JSON file (``<data_dir>/replay/clock.json``) holding the as-of session.
``ReplayProvider`` wraps any provider and cuts every answer at that session, so every asset
downstream of ``ohlcv`` (indicators, features, models, forecasts, scores, drift) sees exactly the
rows a live platform would have seen on that evening, and nothing later. The replay sensor is the
clock's only writer: it advances it one session (or ``sessions_per_tick``) per tick once the
previous session's runs are done.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from stock_assets.domain.calendar import next_trading_days, trading_days
from stock_assets.domain.market_data.base import EmptyDataError, MarketDataProvider
from stock_assets.domain.storage import atomic_write_text


class ReplayClockError(RuntimeError):
    """The clock file is missing or unreadable; the message says how to start one."""


@dataclass(frozen=True)
class ReplayClock:
    """The as-of session of a replay, and how many sessions it has advanced since ``start``."""

    as_of: str  # ISO date of the last session whose rows are visible
    start: str
    ticks: int = 0

    def advanced(self, sessions: int) -> ReplayClock:
        """The clock ``sessions`` NYSE sessions later."""
        if sessions < 1:
            raise ValueError("a replay advances at least one session")
        day = next_trading_days(self.as_of, sessions)[-1]
        return ReplayClock(as_of=day.strftime("%Y-%m-%d"), start=self.start, ticks=self.ticks + 1)


def first_session(start: str) -> str:
    """The first NYSE session on or after ``start`` (a weekend or holiday rolls forward)."""
    day = pd.Timestamp(start).normalize()
    sessions = trading_days(day, day + pd.Timedelta(days=10))
    if sessions.empty:
        raise ValueError(f"No NYSE session within ten days of {start}.")
    return sessions[0].strftime("%Y-%m-%d")


def read_clock(path: Path) -> ReplayClock:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return ReplayClock(
            as_of=str(data["as_of"]), start=str(data["start"]), ticks=int(data["ticks"])
        )
    except FileNotFoundError as exc:
        raise ReplayClockError(
            f"No replay clock at {path}: run `stockops init` with STOCKOPS_REPLAY_START set."
        ) from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReplayClockError(f"The replay clock at {path} is unreadable: {exc}") from exc


def write_clock(path: Path, clock: ReplayClock) -> ReplayClock:
    atomic_write_text(json.dumps(asdict(clock), sort_keys=True) + "\n", Path(path))
    return clock


def start_clock(path: Path, start: str) -> ReplayClock:
    """A clock at the first session on or after ``start``; an existing clock is kept as it is
    (``make up`` again resumes the replay where it stopped)."""
    try:
        return read_clock(path)
    except ReplayClockError:
        session = first_session(start)
        return write_clock(path, ReplayClock(as_of=session, start=session))


def visible_rows(frame: pd.DataFrame, as_of: pd.Timestamp | str) -> pd.DataFrame:
    """The rows dated on or before ``as_of``: what was known at that session's close."""
    dates = pd.to_datetime(frame["date"])
    return frame.loc[dates <= pd.Timestamp(as_of)].reset_index(drop=True)


class ReplayProvider(MarketDataProvider):
    """Another provider's history, cut at the replay clock's as-of session on every fetch."""

    def __init__(self, inner: MarketDataProvider, clock_path: Path) -> None:
        self.inner = inner
        self.clock_path = Path(clock_path)
        self.name = f"{inner.name} (replay)"

    def fetch(self, ticker: str) -> pd.DataFrame:
        clock = read_clock(self.clock_path)
        frame = visible_rows(self.inner.fetch(ticker), clock.as_of)
        if frame.empty:
            raise EmptyDataError(
                f"{ticker} has no rows on or before the replay's as-of session {clock.as_of}."
            )
        return frame

    def last_date(self, ticker: str) -> pd.Timestamp:
        """The last date of the full history (where a replay of this ticker ends)."""
        return pd.Timestamp(self.inner.fetch(ticker)["date"].max())

    def knows(self, ticker: str) -> bool:
        return self.inner.knows(ticker)

    def available_tickers(self) -> list[str] | None:
        return self.inner.available_tickers()
