"""A real Feast repo in a temporary folder: apply, point-in-time joins, online reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stock_assets import names
from stock_assets.domain.feature_store.definitions import (
    INDICATOR_VIEW,
    SERVED_COLUMNS,
    build_definitions,
)
from stock_assets.domain.feature_store.retrievals import KeptJoins
from stock_assets.domain.feature_store.store import (
    apply_definitions,
    close_timestamps,
    online_features,
    open_store,
    to_feature_rows,
    training_frame,
    write_latest_online,
)
from stock_assets.domain.indicators import compute_indicators
from stock_assets.domain.market_data import OfflineSampleProvider
from stock_assets.domain.storage import atomic_write_parquet
from stock_assets.domain.symbols import ticker_slug


def _synthetic_rows(ticker: str, days: int = 60, level: float = 100.0) -> pd.DataFrame:
    dates = pd.bdate_range("2024-01-02", periods=days)
    table = pd.DataFrame({"date": dates, "close": level + np.arange(days, dtype=float)})
    for i, col in enumerate(SERVED_COLUMNS[1:]):
        table[col] = np.arange(days, dtype=float) + i / 10
    return to_feature_rows(table, ticker)


@pytest.fixture
def store_with_rows(tmp_path: Path):  # type: ignore[no-untyped-def]
    indicators_dir = tmp_path / "tables" / names.INDICATORS
    rows = {t: _synthetic_rows(t, level=lvl) for t, lvl in (("AAPL", 100.0), ("^GSPC", 2000.0))}
    for ticker, frame in rows.items():
        atomic_write_parquet(frame, indicators_dir / f"{ticker_slug(ticker)}.parquet")
    store = open_store(tmp_path / "feast")
    apply_definitions(store, build_definitions(indicators_dir))
    return store, rows


def test_apply_registers_view_and_service(store_with_rows) -> None:  # type: ignore[no-untyped-def]
    store, _ = store_with_rows
    assert [fv.name for fv in store.list_feature_views()] == [INDICATOR_VIEW]
    assert store.get_feature_service("lstm_inputs").name == "lstm_inputs"


def test_point_in_time_join_never_reads_the_future(store_with_rows) -> None:  # type: ignore[no-untyped-def]
    store, rows = store_with_rows
    stamps = rows["AAPL"]["event_timestamp"]
    # One second before day 10's close, day 10's row is not yet known: day 9's must be served.
    just_before = stamps.iloc[10] - pd.Timedelta(seconds=1)
    frame = training_frame(store, "AAPL", [stamps.iloc[10], just_before])
    by_time = frame.set_index("event_timestamp")["close"]
    assert by_time[stamps.iloc[10]] == 110.0
    assert by_time[just_before] == 109.0
    # Never another ticker's row either.
    assert (frame["close"] < 1000).all()


def test_point_in_time_respects_ttl(store_with_rows) -> None:  # type: ignore[no-untyped-def]
    store, rows = store_with_rows
    far_after = rows["AAPL"]["event_timestamp"].iloc[-1] + pd.Timedelta(days=30)
    frame = training_frame(store, "AAPL", [far_after])
    assert frame["close"].isna().all()  # older than the view's TTL: not joined


def test_online_store_serves_latest_row(store_with_rows) -> None:  # type: ignore[no-untyped-def]
    store, rows = store_with_rows
    written = write_latest_online(store, rows["AAPL"])
    served = online_features(store, ["AAPL", "MSFT"])
    assert served.loc[0, "close"] == written["close"] == 159.0
    assert pd.isna(served.loc[1, "close"])  # never materialized


def test_training_frame_on_real_sample_data(tmp_path: Path) -> None:
    ohlcv = OfflineSampleProvider().fetch("IBM").tail(300)
    rows = to_feature_rows(compute_indicators(ohlcv), "IBM")
    indicators_dir = tmp_path / names.INDICATORS
    atomic_write_parquet(rows, indicators_dir / "IBM.parquet")
    store = open_store(tmp_path / "feast")
    apply_definitions(store, build_definitions(indicators_dir))
    frame = training_frame(store, "IBM", rows["event_timestamp"])
    assert len(frame) == 300
    np.testing.assert_allclose(frame["close"].to_numpy(), rows["close"].to_numpy())


def test_close_timestamps_are_new_york_close_in_utc() -> None:
    stamps = close_timestamps(pd.Series(pd.to_datetime(["2024-01-02", "2024-07-01"])))
    assert [s.hour for s in stamps] == [21, 20]  # EST then EDT
    assert str(stamps.dt.tz) == "UTC"


def test_feast_cli_repo_finds_the_shared_definitions() -> None:
    """`feature_repo/` (what the `feast` CLI reads) exposes exactly our Feast objects."""
    from feast.repo_operations import parse_repo

    repo_path = Path(__file__).resolve().parents[2] / "feature_repo"
    contents = parse_repo(repo_path)
    assert [fv.name for fv in contents.feature_views] == [INDICATOR_VIEW]
    assert "ticker" in [e.name for e in contents.entities]  # Feast adds its own "__dummy"
    assert [s.name for s in contents.feature_services] == ["lstm_inputs"]


def test_chunked_join_equals_one_join(store_with_rows, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from stock_assets.domain.feature_store import store as store_module

    store, rows = store_with_rows
    whole = training_frame(store, "AAPL", rows["AAPL"]["event_timestamp"])
    monkeypatch.setattr(store_module, "HISTORICAL_CHUNK_ROWS", 7)
    chunked = training_frame(store, "AAPL", rows["AAPL"]["event_timestamp"])
    pd.testing.assert_frame_equal(whole, chunked)
    assert len(chunked) == 60


class _CountingJoins:
    """Counts the entity rows Feast is asked to join (the store's own method, wrapped)."""

    def __init__(self, store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
        self.rows: list[int] = []
        original = store.get_historical_features

        def counted(entity_df, **kwargs):  # type: ignore[no-untyped-def]
            self.rows.append(len(entity_df))
            return original(entity_df=entity_df, **kwargs)

        monkeypatch.setattr(store, "get_historical_features", counted)


@pytest.fixture
def kept(tmp_path: Path) -> KeptJoins:
    return KeptJoins(tmp_path / "feast")


def test_kept_joins_equal_feasts_and_join_each_timestamp_once(  # type: ignore[no-untyped-def]
    store_with_rows, kept: KeptJoins, monkeypatch
) -> None:
    store, rows = store_with_rows
    stamps = rows["AAPL"]["event_timestamp"]
    # Entity rows between closes too: the join is as of any time, not only on stored rows.
    asked = pd.concat([stamps.iloc[:40], stamps.iloc[5:8] + pd.Timedelta(hours=3)])
    direct = training_frame(store, "AAPL", asked)
    feast = _CountingJoins(store, monkeypatch)

    first = training_frame(store, "AAPL", asked, kept)
    pd.testing.assert_frame_equal(first, direct)
    assert feast.rows == [43]
    subset = training_frame(store, "AAPL", stamps.iloc[10:30], kept)
    pd.testing.assert_frame_equal(subset, training_frame(store, "AAPL", stamps.iloc[10:30]))
    assert feast.rows == [43, 20]  # the second is the direct join just above
    wider = training_frame(store, "AAPL", stamps, kept)
    assert feast.rows == [43, 20, 20]  # only the 20 timestamps never joined
    pd.testing.assert_frame_equal(wider, training_frame(store, "AAPL", stamps))


def test_a_new_indicator_table_is_joined_afresh(  # type: ignore[no-untyped-def]
    store_with_rows, kept: KeptJoins, tmp_path: Path, monkeypatch
) -> None:
    store, rows = store_with_rows
    before = training_frame(store, "AAPL", rows["AAPL"]["event_timestamp"], kept)
    # A restated close (a split adjustment, a corrected print): the same timestamps, new values.
    restated = rows["AAPL"].assign(close=rows["AAPL"]["close"] * 0.5)
    indicators_dir = tmp_path / "tables" / names.INDICATORS
    atomic_write_parquet(restated, indicators_dir / "AAPL.parquet")
    feast = _CountingJoins(store, monkeypatch)
    after = training_frame(store, "AAPL", rows["AAPL"]["event_timestamp"], kept)
    assert feast.rows == [60]
    np.testing.assert_allclose(after["close"], before["close"] * 0.5)
    assert len(list((tmp_path / "feast" / "kept_joins" / "AAPL").glob("*.parquet"))) == 1
    # Another ticker's table is its own: the index's rows never come from AAPL's join.
    index = training_frame(store, "^GSPC", rows["^GSPC"]["event_timestamp"], kept)
    assert (index["close"] >= 2000).all()


def test_a_table_rewritten_during_the_join_is_not_kept(  # type: ignore[no-untyped-def]
    store_with_rows, kept: KeptJoins, tmp_path: Path
) -> None:
    from stock_assets.domain.feature_store.store import historical_features

    store, rows = store_with_rows
    stamps = rows["AAPL"]["event_timestamp"]
    training_frame(store, "AAPL", stamps.iloc[:30], kept)  # the first half is kept
    table = tmp_path / "tables" / names.INDICATORS / "AAPL.parquet"

    def rewritten_while_joining(entity_df: pd.DataFrame) -> pd.DataFrame:
        restated = rows["AAPL"].assign(close=rows["AAPL"]["close"] * 2)
        atomic_write_parquet(restated, table)
        return historical_features(store, entity_df)

    entity_df = pd.DataFrame({"ticker": "AAPL", "event_timestamp": stamps})
    frame = kept.join(store, entity_df, "lstm_inputs", rewritten_while_joining)
    # One version of the table throughout: the restated one, for old timestamps and new alike.
    np.testing.assert_allclose(frame["close"], rows["AAPL"]["close"].to_numpy() * 2)
    pd.testing.assert_frame_equal(frame, training_frame(store, "AAPL", stamps))
    # Nothing of the racing join was kept: only the first half, under the old table's digest.
    (kept_file,) = (tmp_path / "feast" / "kept_joins" / "AAPL").glob("*.parquet")
    assert len(pd.read_parquet(kept_file)) == 30
