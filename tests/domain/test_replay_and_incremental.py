"""The replay clock and provider, and indicator tables extended session by session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stock_assets.domain.feature_store.definitions import SERVED_COLUMNS
from stock_assets.domain.feature_store.incremental import (
    MEMORY_ROWS,
    feature_table,
    update_indicator_table,
)
from stock_assets.domain.market_data import EmptyDataError, OfflineSampleProvider
from stock_assets.domain.market_data.replay import (
    ReplayClock,
    ReplayClockError,
    ReplayProvider,
    read_clock,
    start_clock,
    write_clock,
)


def test_clock_advances_over_weekends_and_holidays(tmp_path: Path) -> None:
    path = tmp_path / "clock.json"
    # 2008-11-26 is a Wednesday; Thanksgiving (27th) is closed; Friday the 28th trades.
    clock = start_clock(path, "2008-11-26")
    assert clock.as_of == "2008-11-26"
    assert clock.advanced(1).as_of == "2008-11-28"
    assert clock.advanced(2).as_of == "2008-12-01"  # over the weekend
    # A start on a Saturday rolls forward to Monday.
    assert start_clock(tmp_path / "other.json", "2008-01-05").as_of == "2008-01-07"
    # An existing clock is resumed, not reset.
    write_clock(path, clock.advanced(3))
    assert start_clock(path, "2001-01-02").as_of == "2008-12-02"
    assert read_clock(path).ticks == 1
    with pytest.raises(ValueError, match="at least one"):
        clock.advanced(0)


def test_missing_or_broken_clock_says_how_to_start(tmp_path: Path) -> None:
    with pytest.raises(ReplayClockError, match="STOCKOPS_REPLAY_START"):
        read_clock(tmp_path / "none.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ReplayClockError, match="unreadable"):
        read_clock(broken)


def test_replay_provider_serves_nothing_after_the_as_of_session(tmp_path: Path) -> None:
    path = tmp_path / "clock.json"
    write_clock(path, ReplayClock(as_of="2008-09-15", start="2008-09-15"))
    provider = ReplayProvider(OfflineSampleProvider(), path)
    frame = provider.fetch("AAPL")
    assert frame["date"].max() == pd.Timestamp("2008-09-15")
    full = OfflineSampleProvider().fetch("AAPL")
    pd.testing.assert_frame_equal(frame, full[full["date"] <= "2008-09-15"].reset_index(drop=True))
    assert provider.last_date("AAPL") == full["date"].max()
    write_clock(path, ReplayClock(as_of="1990-01-02", start="1990-01-02"))
    with pytest.raises(EmptyDataError, match="1990-01-02"):
        provider.fetch("AAPL")


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return OfflineSampleProvider().fetch("MSFT")


def test_extending_session_by_session_equals_recomputing_everything(history: pd.DataFrame) -> None:
    start = 1500
    stored = feature_table(history.iloc[:start], "MSFT")
    for end in range(start + 1, start + 31):
        update = update_indicator_table(stored, history.iloc[:end], "MSFT")
        assert update.mode == "incremental" and update.appended == 1
        stored = update.rows
    full = feature_table(history.iloc[: start + 30], "MSFT")
    assert list(stored.columns) == list(full.columns)
    assert stored["date"].equals(full["date"])
    np.testing.assert_allclose(
        stored[list(SERVED_COLUMNS)].to_numpy(),
        full[list(SERVED_COLUMNS)].to_numpy(),
        rtol=1e-9,
        atol=1e-12,
    )
    # Several sessions at once (a replay advancing a week per tick) too.
    week = update_indicator_table(stored, history.iloc[: start + 35], "MSFT")
    assert week.mode == "incremental" and week.appended == 5


def test_unchanged_short_or_rewritten_history_is_handled(history: pd.DataFrame) -> None:
    stored = feature_table(history.iloc[:1500], "MSFT")
    same = update_indicator_table(stored, history.iloc[:1500], "MSFT")
    assert same.mode == "unchanged" and same.appended == 0
    assert update_indicator_table(None, history.iloc[:1500], "MSFT").mode == "full"
    short = feature_table(history.iloc[: MEMORY_ROWS // 2], "MSFT")
    assert update_indicator_table(short, history.iloc[:MEMORY_ROWS], "MSFT").mode == "full"
    # A 2:1 split adjustment applied to the whole history: the stored tail no longer matches.
    adjusted = history.iloc[:1501].copy()
    for column in ("open", "high", "low", "close"):
        adjusted[column] = adjusted[column] / 2
    adjusted.loc[adjusted.index[-3], "close"] *= 1.01
    update = update_indicator_table(stored, adjusted, "MSFT")
    assert update.mode == "full" and "changed" in update.reason
    # A history that went back in time (a replay restarted earlier) is recomputed too.
    assert update_indicator_table(stored, history.iloc[:1400], "MSFT").mode == "full"
