"""Market context computed from prices: relative strength vs the index, volatility regime,
volume anomalies. Each tool runs on the indicator tables, up to the report's as-of date."""

from __future__ import annotations

import numpy as np
import pandas as pd

from agent_graph.tools.base import ToolResult

RS_WINDOWS = (20, 60)
VOL_HISTORY_SESSIONS = 756  # about three years of sessions for the volatility percentile
VOLUME_LOOKBACK = 20
VOLUME_Z_ANOMALY = 2.0


def _upto(frame: pd.DataFrame, as_of: str) -> pd.DataFrame:
    dated = frame.assign(date=pd.to_datetime(frame["date"]))
    return dated[dated["date"] <= pd.Timestamp(as_of)].sort_values("date")


def relative_strength(
    ticker: str, prices: pd.DataFrame, index: pd.DataFrame | None, index_ticker: str, as_of: str
) -> ToolResult:
    """Ticker return minus index return over the last 20 and 60 common sessions, in percent."""
    name = "relative_strength"
    if index is None:
        return ToolResult(name, "skipped", f"No {index_ticker} indicator table: not computed.")
    joined = pd.merge(
        _upto(prices, as_of)[["date", "close"]],
        _upto(index, as_of)[["date", "close"]],
        on="date",
        suffixes=("", "_index"),
    )
    if len(joined) <= max(RS_WINDOWS):
        return ToolResult(name, "skipped", f"Too few sessions shared with {index_ticker}.")
    data: dict[str, float] = {}
    parts = []
    numbers: list[tuple[str, float]] = []
    for window in RS_WINDOWS:
        now, then = joined.iloc[-1], joined.iloc[-1 - window]
        own = (now["close"] / then["close"] - 1.0) * 100.0
        idx = (now["close_index"] / then["close_index"] - 1.0) * 100.0
        excess = own - idx
        data |= {
            f"return_{window}d_pct": own,
            f"index_return_{window}d_pct": idx,
            f"excess_{window}d_pct": excess,
        }
        numbers += [
            (f"rs_window_{window}", float(window)),
            (f"return_{window}d_pct", own),
            (f"index_return_{window}d_pct", idx),
            (f"excess_{window}d_pct", excess),
        ]
        parts.append(
            f"over {window} sessions {ticker} moved {own:+.2f}% vs {idx:+.2f}% for "
            f"{index_ticker} ({excess:+.2f} points)"
        )
    lead = "outperformed" if data[f"excess_{RS_WINDOWS[0]}d_pct"] > 0 else "underperformed"
    data["leader"] = 1.0 if lead == "outperformed" else 0.0
    summary = f"Relative strength: {ticker} {lead} {index_ticker} recently; " + "; ".join(parts)
    return ToolResult(name, "ok", summary + ".", data, tuple(numbers))


def volatility_regime(ticker: str, prices: pd.DataFrame, as_of: str) -> ToolResult:
    """Where today's 20-day annualised volatility ranks in the last ~3 years (percentile)."""
    name = "volatility_regime"
    vol = _upto(prices, as_of)["volatility_20"].dropna().tail(VOL_HISTORY_SESSIONS)
    if len(vol) < 60:
        return ToolResult(name, "skipped", "Too little volatility history.")
    current = float(vol.iloc[-1])
    percentile = float((vol <= current).mean() * 100.0)
    regime = "low" if percentile < 33.3 else "high" if percentile > 66.7 else "normal"
    summary = (
        f"Volatility regime: {regime}; 20-day annualised volatility {current * 100:.1f}% sits at "
        f"the {percentile:.0f}th percentile of the last {len(vol)} sessions."
    )
    data = {
        "volatility_pct": current * 100,
        "percentile": percentile,
        "regime": regime,
        "sessions": len(vol),
    }
    numbers = (
        ("volatility_pct", current * 100),
        ("volatility", current),
        ("volatility_percentile", percentile),
        ("volatility_sessions", float(len(vol))),
    )
    return ToolResult(name, "ok", summary, data, numbers)


def volume_anomalies(ticker: str, prices: pd.DataFrame, as_of: str) -> ToolResult:
    """Sessions of the last 20 whose volume z-score is beyond +-2, and the latest z-score."""
    name = "volume_anomalies"
    recent = _upto(prices, as_of)[["date", "volume_z_20"]].dropna().tail(VOLUME_LOOKBACK)
    if recent.empty:
        return ToolResult(name, "skipped", "No volume z-scores.")
    z = recent["volume_z_20"].to_numpy(dtype=float)
    flagged = recent[np.abs(z) >= VOLUME_Z_ANOMALY]
    latest = float(z[-1])
    count = len(flagged)
    dates = [str(d.date()) for d in flagged["date"]]
    if count:
        summary = (
            f"Volume: {count} of the last {len(recent)} sessions had unusual volume "
            f"(|z| >= {VOLUME_Z_ANOMALY:.0f}), latest on {dates[-1]}; today's volume z-score is "
            f"{latest:+.2f}."
        )
    else:
        summary = (
            f"Volume: no unusual session in the last {len(recent)} (|z| >= "
            f"{VOLUME_Z_ANOMALY:.0f}); today's volume z-score is {latest:+.2f}."
        )
    data = {"anomalies": count, "sessions": len(recent), "latest_z": latest, "dates": dates}
    numbers = (
        ("volume_anomalies", float(count)),
        ("volume_sessions", float(len(recent))),
        ("volume_z_threshold", VOLUME_Z_ANOMALY),
        ("volume_latest_z", latest),
    )
    return ToolResult(name, "ok", summary, data, numbers, tuple(dates))
