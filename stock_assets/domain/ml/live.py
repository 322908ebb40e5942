"""Served forecasts, kept and scored against what happened: the forecast archive and live skill.

- **Archive.** Every forecast is appended per ticker with its as-of session and the model that
  made it; nothing is overwritten. The same model forecasting the same session twice is the same
  forecast and is kept once.
- **Matured only.** A forecast of horizon h made at session t is scored once the target session
  is in the price history, never before; the price at t (``last_close``) is the naive forecast.
  When several forecasts were archived for one session (a retrain during the day), the last one
  is the one that was served, and the one scored.
- **Live skill** per horizon over the last N matured forecasts: MAE relative to naive (on errors
  in percent of the last close, so the window's price level does not weigh), direction against
  always-up under the backtest's rule, interval coverage, pinball loss of the three quantiles.
- **Decay** is a test, not a threshold: Diebold-Mariano, as in the promotion policy, of the
  served model's live absolute errors against the backtest's promise (its relative MAE times the
  naive errors of the same sessions), and of its live misses against the promised coverage; a
  horizon decays when the live loss is significantly higher (Bonferroni over the tests made), so
  the margin needed shrinks as matured forecasts accumulate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stock_assets.domain.layout import LIVE_SKILL, read_table
from stock_assets.domain.ml.significance import diebold_mariano

ARCHIVE_COLUMNS: tuple[str, ...] = (
    "ticker",
    "as_of",
    "horizon",
    "date",
    "last_close",
    "median",
    "lower",
    "upper",
    "q_lower",
    "q_upper",
    "model",
    "model_kind",
    "model_version",
    "bundle_version",
    "component_bundle",  # the bundle that made the row's horizon (a mix's component)
    "archived_at",
    "caught_up",  # forecast after the fact for a session that passed without one
)
ARCHIVE_KEY: tuple[str, ...] = ("as_of", "horizon", "bundle_version")
WINDOWS: tuple[int | None, ...] = (20, 60, None)  # None: every matured forecast
DECAY_ALPHA = 0.05
DECAY_MIN_FORECASTS = 20


def load_live_skill(tables_dir: Path, ticker: str) -> pd.DataFrame | None:
    """The ticker's latest live-skill table (``live_skill`` asset), or None before the first."""
    return read_table(tables_dir, LIVE_SKILL, ticker)


def append_forecast(
    archive: pd.DataFrame | None, forecast: pd.DataFrame, archived_at: str
) -> tuple[pd.DataFrame, int]:
    """``archive`` with the rows of ``forecast`` it does not hold yet; and how many were added."""
    new = forecast.copy()
    new["archived_at"] = archived_at
    if "caught_up" not in new.columns:
        new["caught_up"] = False
    missing = [c for c in ARCHIVE_COLUMNS if c not in new.columns]
    if missing:
        raise ValueError(f"the forecast table lacks column(s) {', '.join(missing)}")
    new = new[list(ARCHIVE_COLUMNS)]
    new["as_of"] = pd.to_datetime(new["as_of"])
    new["date"] = pd.to_datetime(new["date"])
    if archive is None or archive.empty:
        return new.reset_index(drop=True), len(new)
    keys = set(map(tuple, archive[list(ARCHIVE_KEY)].astype(str).to_numpy()))
    fresh = ~new[list(ARCHIVE_KEY)].astype(str).apply(tuple, axis=1).isin(keys)
    added = new[fresh]
    if added.empty:
        return archive.reset_index(drop=True), 0
    return pd.concat([archive, added], ignore_index=True), len(added)


def archive_kept(previous: pd.DataFrame | None, archive: pd.DataFrame) -> bool:
    """Whether ``archive`` begins with every row of ``previous``, unchanged. Only the columns
    ``previous`` had are compared: a column added since (an archive older than it) is empty on
    the older rows, which is not a change to them."""
    if previous is None:
        return True
    head = archive.iloc[: len(previous)]
    return set(previous.columns) <= set(head.columns) and head[list(previous.columns)].equals(
        previous
    )


def served_forecasts(archive: pd.DataFrame) -> pd.DataFrame:
    """One forecast per (as-of session, horizon): the last archived, the one that was served."""
    ordered = archive.sort_values(["as_of", "horizon", "archived_at"], kind="stable")
    return ordered.drop_duplicates(["as_of", "horizon"], keep="last").reset_index(drop=True)


def score_matured(archive: pd.DataFrame, closes: pd.DataFrame) -> pd.DataFrame:
    """Served forecasts whose target session is in ``closes`` (date, close), with their scores.

    Forecasts whose target session has not arrived are left out: they are not scored until then.
    """
    served = served_forecasts(archive)
    prices = closes[["date", "close"]].copy()
    prices["date"] = pd.to_datetime(prices["date"])
    last = prices["date"].max()
    matured = served[pd.to_datetime(served["date"]) <= last]
    scored = matured.merge(prices.rename(columns={"close": "actual"}), on="date", how="inner")
    base = scored["last_close"].to_numpy(dtype=float)
    actual = scored["actual"].to_numpy(dtype=float)
    median = scored["median"].to_numpy(dtype=float)
    scored["abs_error_pct"] = 100.0 * np.abs(median - actual) / base
    scored["naive_abs_error_pct"] = 100.0 * np.abs(base - actual) / base
    scored["direction_hit"] = np.sign(median - base) == np.sign(actual - base)
    scored["up"] = actual > base
    scored["inside"] = (actual >= scored["lower"]) & (actual <= scored["upper"])
    scored["pinball_pct"] = _pinball_pct(scored, actual, base)
    return scored.sort_values(["as_of", "horizon"]).reset_index(drop=True)


def _pinball_pct(scored: pd.DataFrame, actual: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Mean pinball loss of the lower, median and upper quantiles, on log returns, in percent."""
    y = np.log(actual / base)
    total = np.zeros(len(scored))
    levels = (("lower", scored["q_lower"]), ("median", 0.5), ("upper", scored["q_upper"]))
    for column, level in levels:
        q = np.asarray(level, dtype=float)
        err = y - np.log(scored[column].to_numpy(dtype=float) / base)
        total += np.maximum(q * err, (q - 1.0) * err)
    return 100.0 * total / 3.0


LIVE_SKILL_COLUMNS: tuple[str, ...] = (
    "horizon",
    "window",
    "n",
    "relative_mae",
    "directional_accuracy",
    "up_rate",
    "direction_edge",
    "coverage",
    "nominal_coverage",
    "pinball_pct",
    "first_as_of",
    "last_as_of",
)


def live_skill(scored: pd.DataFrame, windows: tuple[int | None, ...] = WINDOWS) -> pd.DataFrame:
    """Per horizon and window (the last N matured forecasts; ``window`` 0 means all of them)."""
    rows: list[dict[str, Any]] = []
    for h, unsorted in scored.groupby("horizon"):
        group = unsorted.sort_values("as_of")
        for window in windows:
            part = group if window is None else group.tail(window)
            if part.empty:
                continue
            naive = float(part["naive_abs_error_pct"].mean())
            hit = float(part["direction_hit"].mean())
            up = float(part["up"].mean())
            rows.append(
                {
                    "horizon": int(h),  # type: ignore[call-overload]
                    "window": int(window or 0),
                    "n": len(part),
                    "relative_mae": float(part["abs_error_pct"].mean()) / naive
                    if naive > 0
                    else float("nan"),
                    "directional_accuracy": hit,
                    "up_rate": up,
                    "direction_edge": hit - up,
                    "coverage": float(part["inside"].mean()),
                    "nominal_coverage": float((part["q_upper"] - part["q_lower"]).mean()),
                    "pinball_pct": float(part["pinball_pct"].mean()),
                    "first_as_of": pd.Timestamp(part["as_of"].min()).strftime("%Y-%m-%d"),
                    "last_as_of": pd.Timestamp(part["as_of"].max()).strftime("%Y-%m-%d"),
                }
            )
    return pd.DataFrame(rows, columns=list(LIVE_SKILL_COLUMNS))


@dataclass(frozen=True)
class Promise:
    """What the backtest measured for the served model at one horizon."""

    horizon: int
    relative_mae: float | None
    coverage: float | None


@dataclass(frozen=True)
class DecayFinding:
    horizon: int
    kind: str  # accuracy or coverage
    n: int
    live: float
    promised: float
    p_value: float

    def describe(self) -> str:
        if self.kind == "accuracy":
            return (
                f"h={self.horizon}: live MAE {self.live:.3f}x naive over {self.n} matured "
                f"forecasts, promised {self.promised:.3f}x (p={self.p_value:.3g})"
            )
        return (
            f"h={self.horizon}: live coverage {self.live:.0%} over {self.n} matured forecasts, "
            f"promised {self.promised:.0%} (p={self.p_value:.3g})"
        )


@dataclass(frozen=True)
class DecayVerdict:
    decayed: bool
    reason: str
    bundle_version: str | None
    matured: int  # matured forecasts of the served model, all horizons
    tests: int
    threshold: float  # per-test p-value threshold (Bonferroni)
    findings: tuple[DecayFinding, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decayed": self.decayed,
            "reason": self.reason,
            "bundle_version": self.bundle_version,
            "matured": self.matured,
            "tests": self.tests,
            "threshold": self.threshold,
            "findings": [f.__dict__ for f in self.findings],
        }


def decay_test(
    scored: pd.DataFrame,
    promises: list[Promise],
    bundle_version: str | None,
    *,
    alpha: float = DECAY_ALPHA,
    min_forecasts: int = DECAY_MIN_FORECASTS,
) -> DecayVerdict:
    """Has the model serving now (``bundle_version``) fallen short of its backtest, live?"""
    if bundle_version is None:
        return DecayVerdict(False, "No served model to test.", None, 0, 0, alpha)
    own = scored[scored["bundle_version"].astype(str) == str(bundle_version)]
    findings: list[DecayFinding] = []
    for promise in promises:
        part = own[own["horizon"] == promise.horizon].sort_values("as_of")
        if len(part) < min_forecasts:
            continue
        if promise.relative_mae is not None and np.isfinite(promise.relative_mae):
            loss = part["abs_error_pct"].to_numpy(dtype=float)
            promised = promise.relative_mae * part["naive_abs_error_pct"].to_numpy(dtype=float)
            dm = diebold_mariano(loss, promised, promise.horizon)
            naive = float(part["naive_abs_error_pct"].mean())
            live = float(loss.mean()) / naive if naive > 0 else float("nan")
            findings.append(
                DecayFinding(
                    promise.horizon, "accuracy", len(part), live, promise.relative_mae, dm.p_worse
                )
            )
        if promise.coverage is not None and np.isfinite(promise.coverage):
            misses = 1.0 - part["inside"].to_numpy(dtype=float)
            allowed = np.full(len(misses), 1.0 - promise.coverage)
            dm = diebold_mariano(misses, allowed, promise.horizon)
            findings.append(
                DecayFinding(
                    promise.horizon,
                    "coverage",
                    len(part),
                    float(part["inside"].mean()),
                    promise.coverage,
                    dm.p_worse,
                )
            )
    matured = len(own)
    if not findings:
        return DecayVerdict(
            False,
            f"Too few matured forecasts of the served model to test ({matured} in all; "
            f"{min_forecasts} per horizon needed).",
            bundle_version,
            matured,
            0,
            alpha,
        )
    threshold = alpha / len(findings)
    failed = [f for f in findings if f.p_value < threshold]
    if failed:
        reason = "Live skill fell below the backtest's promise: " + "; ".join(
            f.describe() for f in failed
        )
    else:
        worst = min(findings, key=lambda f: f.p_value)
        reason = (
            f"Live skill holds its promise ({len(findings)} tests, none with p < "
            f"{threshold:.3g}; closest {worst.describe()})."
        )
    return DecayVerdict(
        bool(failed), reason, bundle_version, matured, len(findings), threshold, tuple(findings)
    )
