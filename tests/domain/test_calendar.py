from __future__ import annotations

import pandas as pd

from stock_assets.domain.calendar import missing_sessions, next_trading_days, trading_days


def test_next_trading_days_skip_thanksgiving_and_weekend() -> None:
    # Wed 2026-11-25 -> Thanksgiving (Thu 26) closed, Fri 27 open, then Mon 30.
    days = next_trading_days("2026-11-25", 3)
    assert [d.strftime("%Y-%m-%d") for d in days] == ["2026-11-27", "2026-11-30", "2026-12-01"]


def test_trading_days_know_ad_hoc_closures() -> None:
    # NYSE was closed 2001-09-11..14 and for Hurricane Sandy on 2012-10-29/30.
    sept = trading_days("2001-09-10", "2001-09-18")
    assert [d.strftime("%m-%d") for d in sept] == ["09-10", "09-17", "09-18"]
    assert pd.Timestamp("2012-10-29") not in trading_days("2012-10-26", "2012-11-01")


def test_missing_sessions_ignores_holidays_but_finds_real_gaps() -> None:
    dates = pd.Series(pd.to_datetime(["2013-12-23", "2013-12-24", "2013-12-26", "2013-12-30"]))
    # Christmas is a holiday; the 27th is a session that has no row.
    assert list(missing_sessions(dates).strftime("%Y-%m-%d")) == ["2013-12-27"]
