"""Data-quality rules for daily OHLCV and indicator tables, as plain functions.

Each returns a ``QualityResult`` (passed, a reason a human can act on, and details), so the same
rules back the Dagster asset checks, the API and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from stock_assets.domain.calendar import missing_sessions, trading_days
from stock_assets.domain.indicators import WARMUP_ROWS, rows_with_nan_after_warmup

# Prices adjusted by a float factor can break OHLC ordering by rounding noise only.
_REL_TOL = 1e-9
_MAX_EXAMPLES = 5


@dataclass(frozen=True)
class QualityResult:
    passed: bool
    description: str
    details: dict[str, Any] = field(default_factory=dict)


def _dates(frame: pd.DataFrame) -> list[str]:
    return [d.strftime("%Y-%m-%d") for d in pd.to_datetime(frame["date"]).head(_MAX_EXAMPLES)]


def check_unique_increasing_dates(ohlcv: pd.DataFrame) -> QualityResult:
    dates = pd.to_datetime(ohlcv["date"])
    dupes = ohlcv[dates.duplicated(keep=False)]
    not_increasing = int((dates.diff().dt.total_seconds() <= 0).sum())
    if dupes.empty and not_increasing == 0:
        return QualityResult(True, f"{len(ohlcv)} dates, unique and strictly increasing.")
    return QualityResult(
        False,
        f"{len(dupes)} rows share a date and {not_increasing} dates do not increase.",
        {"duplicate_dates": _dates(dupes.drop_duplicates("date"))},
    )


def check_trading_day_gaps(ohlcv: pd.DataFrame) -> QualityResult:
    """Every NYSE session between the first and last date has a row; no row is on a non-session."""
    dates = pd.DatetimeIndex(pd.to_datetime(ohlcv["date"])).normalize()
    missing = missing_sessions(dates)
    sessions = trading_days(dates.min(), dates.max()) if len(dates) else pd.DatetimeIndex([])
    off_calendar = dates.difference(sessions)
    details = {
        "missing_sessions": len(missing),
        "missing_examples": [d.strftime("%Y-%m-%d") for d in missing[:_MAX_EXAMPLES]],
        "rows_on_non_sessions": len(off_calendar),
        "non_session_examples": [d.strftime("%Y-%m-%d") for d in off_calendar[:_MAX_EXAMPLES]],
    }
    if missing.empty and off_calendar.empty:
        return QualityResult(True, "No gaps beyond NYSE holidays and closures.", details)
    return QualityResult(
        False,
        f"{len(missing)} NYSE session(s) have no row and {len(off_calendar)} row(s) fall on "
        "days the exchange was closed.",
        details,
    )


def check_positive_prices(ohlcv: pd.DataFrame) -> QualityResult:
    prices = ohlcv[["open", "high", "low", "close"]]
    bad = ohlcv[(prices <= 0).any(axis=1) | prices.isna().any(axis=1)]
    negative_volume = int((ohlcv["volume"] < 0).sum())
    if bad.empty and negative_volume == 0:
        return QualityResult(True, "All prices positive, volumes non-negative.")
    return QualityResult(
        False,
        f"{len(bad)} row(s) have a missing or non-positive price; "
        f"{negative_volume} have negative volume.",
        {"examples": _dates(bad)},
    )


def check_ohlc_consistency(ohlcv: pd.DataFrame) -> QualityResult:
    o, h, lo, c = (ohlcv[k] for k in ("open", "high", "low", "close"))
    tol = _REL_TOL * h.abs()
    bad_mask = (h + tol < pd.concat([o, c], axis=1).max(axis=1)) | (
        lo - tol > pd.concat([o, c], axis=1).min(axis=1)
    )
    bad = ohlcv[bad_mask | (h + tol < lo)]
    if bad.empty:
        return QualityResult(
            True, "High >= max(Open, Close) and Low <= min(Open, Close) everywhere."
        )
    return QualityResult(
        False,
        f"{len(bad)} row(s) break OHLC ordering (High below Open/Close or Low above them).",
        {"examples": _dates(bad)},
    )


def check_no_nan_after_warmup(indicators: pd.DataFrame) -> QualityResult:
    bad = rows_with_nan_after_warmup(indicators)
    if bad.empty:
        return QualityResult(
            True,
            f"No missing indicator after the {WARMUP_ROWS}-row warm-up.",
            {"rows": len(indicators)},
        )
    return QualityResult(
        False,
        f"{len(bad)} row(s) after the {WARMUP_ROWS}-row warm-up have a missing indicator.",
        {"examples": _dates(bad)},
    )


OHLCV_RULES = {
    "unique_increasing_dates": check_unique_increasing_dates,
    "trading_day_gaps": check_trading_day_gaps,
    "positive_prices": check_positive_prices,
    "ohlc_consistency": check_ohlc_consistency,
}
