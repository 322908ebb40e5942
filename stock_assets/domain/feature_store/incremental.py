"""New sessions extend a ticker's indicator table instead of recomputing its twenty years.

Every indicator is causal and has a finite effective memory: the 20-day windows exactly, and the
exponential averages (RSI's Wilder smoothing, alpha 1/14; MACD's spans 12/26/9) geometrically: a
seed error is multiplied by at most (13/14)^n after n rows, below 1e-19 after ``MEMORY_ROWS``. So
recomputing only a tail of ``MEMORY_ROWS`` rows before the new sessions gives the full
computation's values to float precision, and a test holds that. The last ``VERIFY_ROWS`` stored
rows are recomputed too and must match: when the provider's history changed underneath (a new
split adjustment, a data fix), they do not, and the whole table is recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from stock_assets.domain.feature_store.definitions import SERVED_COLUMNS
from stock_assets.domain.feature_store.store import to_feature_rows
from stock_assets.domain.indicators import compute_indicators

MEMORY_ROWS = 600
VERIFY_ROWS = 5

UpdateMode = Literal["full", "incremental", "unchanged"]


@dataclass(frozen=True)
class IndicatorUpdate:
    rows: pd.DataFrame  # the whole feature table: ticker, event_timestamp, date, columns
    mode: UpdateMode
    appended: int  # rows new since the stored table
    reason: str


def feature_table(ohlcv: pd.DataFrame, ticker: str) -> pd.DataFrame:
    """The indicator table as stored: the Feast source's rows with the session ``date`` beside."""
    table = compute_indicators(ohlcv)
    rows = to_feature_rows(table, ticker)
    rows.insert(2, "date", pd.to_datetime(table["date"]).to_numpy())
    return rows


def _same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    left = a[list(SERVED_COLUMNS)].to_numpy(dtype=float)
    right = b[list(SERVED_COLUMNS)].to_numpy(dtype=float)
    return left.shape == right.shape and bool(
        np.allclose(left, right, rtol=1e-9, atol=1e-12, equal_nan=True)
    )


def update_indicator_table(
    stored: pd.DataFrame | None, ohlcv: pd.DataFrame, ticker: str
) -> IndicatorUpdate:
    """``stored`` extended with the sessions of ``ohlcv`` it lacks (or recomputed, with why)."""

    def full(reason: str) -> IndicatorUpdate:
        rows = feature_table(ohlcv, ticker)
        return IndicatorUpdate(rows, "full", len(rows), reason)

    if stored is None or stored.empty or "date" not in stored.columns:
        return full("no stored table")
    dates = pd.to_datetime(ohlcv["date"]).reset_index(drop=True)
    known = pd.to_datetime(stored["date"]).reset_index(drop=True)
    if len(known) > len(dates) or not dates.iloc[: len(known)].equals(known):
        return full("the stored sessions are not a prefix of the provider's history")
    first_new = len(known)
    if first_new < MEMORY_ROWS + VERIFY_ROWS:
        return full(f"history shorter than {MEMORY_ROWS + VERIFY_ROWS} rows")
    start = first_new - VERIFY_ROWS - MEMORY_ROWS
    tail = feature_table(ohlcv.iloc[start:].reset_index(drop=True), ticker)
    recomputed = tail.iloc[MEMORY_ROWS:].reset_index(drop=True)
    overlap = recomputed.iloc[:VERIFY_ROWS]
    if not _same(overlap, stored.iloc[-VERIFY_ROWS:].reset_index(drop=True)):
        return full("the provider's recent history changed (a new adjustment or correction)")
    new = recomputed.iloc[VERIFY_ROWS:]
    if new.empty:
        return IndicatorUpdate(stored.reset_index(drop=True), "unchanged", 0, "no new session")
    rows = pd.concat([stored, new], ignore_index=True)
    return IndicatorUpdate(rows, "incremental", len(new), f"{len(new)} new session(s)")
