"""NYSE trading days, from an exchange calendar (holidays and ad-hoc closures included).

``pd.bdate_range`` would count Thanksgiving or 2001-09-11 as trading days; forecasts and the gap
check use the real exchange calendar instead.
"""

from __future__ import annotations

from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd

EXCHANGE = "XNYS"
# exchange_calendars defaults to the last 20 years; our sample data starts in 1999.
_CALENDAR_START = "1990-01-02"


@lru_cache(maxsize=1)
def nyse_calendar() -> xcals.ExchangeCalendar:
    end = (pd.Timestamp.today().normalize() + pd.DateOffset(years=2)).strftime("%Y-%m-%d")
    return xcals.get_calendar(EXCHANGE, start=_CALENDAR_START, end=end)


def _naive_day(ts: pd.Timestamp | str) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.normalize()


def trading_days(start: pd.Timestamp | str, end: pd.Timestamp | str) -> pd.DatetimeIndex:
    """NYSE sessions between ``start`` and ``end`` inclusive, as tz-naive midnight timestamps."""
    cal = nyse_calendar()
    lo = max(_naive_day(start), cal.first_session)
    hi = min(_naive_day(end), cal.last_session)
    if lo > hi:
        return pd.DatetimeIndex([])
    return pd.DatetimeIndex(cal.sessions_in_range(lo, hi)).tz_localize(None)


def next_trading_days(after: pd.Timestamp | str, n: int) -> list[pd.Timestamp]:
    """The ``n`` NYSE sessions strictly after ``after`` (the forecast horizon's calendar dates)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    day = _naive_day(after)
    # Two weeks of calendar per five sessions is ample, even around year-end holidays.
    candidates = trading_days(day + pd.Timedelta(days=1), day + pd.Timedelta(days=3 * n + 14))
    return list(candidates[:n])


def missing_sessions(dates: pd.Series | pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Sessions between the first and last date that have no row: gaps that no holiday explains."""
    index = pd.DatetimeIndex(pd.to_datetime(dates))
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    index = index.normalize()
    if index.empty:
        return pd.DatetimeIndex([])
    expected = trading_days(index.min(), index.max())
    return expected.difference(index)


def session_number(day: pd.Timestamp | str) -> int:
    """How many NYSE sessions lie on or before ``day`` since the calendar's start: market time,
    so that "20 sessions later" means the same in a replay as in a live deployment."""
    cal = nyse_calendar()
    sessions = cal.sessions.tz_localize(None) if cal.sessions.tz is not None else cal.sessions
    return int(sessions.searchsorted(_naive_day(day), side="right"))
