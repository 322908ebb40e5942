"""Data drift of the model's inputs: the serving model's training window against recent rows.

Reference: the rows the serving model was trained on (up to its bundle's ``data_as_of``), at
most the last ``reference_rows`` of them and never overlapping the current window (comparing a
sample with a set that contains it understates drift). Current: the most recent
``current_rows`` rows.

The scores are Evidently's ``DataDriftPreset`` scores on the columns below. For the default
method, the normed Wasserstein distance, they are computed here with numpy, exactly as Evidently
computes them (a test holds the two together): importing Evidently and running its report costs a
daily refresh run seconds for a few milliseconds of arithmetic. Any other method runs through
Evidently. The Evidently HTML report is rendered when it is wanted (``render_drift_html``): when
drift is found, or when someone asks for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

# Stationary, price-scale-free inputs of the model. Price-level-like series (the close, the raw
# MACD line and signal, even MACD over price, which trends with momentum for months) move away
# from any training window by construction and would "drift" every day; returns, RSI, the
# normalised MACD histogram, volatility and the volume z-score have stable distributions unless
# the market's behaviour really changes, which is what should trigger a retrain.
DRIFT_FEATURE_COLUMNS: tuple[str, ...] = (
    "log_return",
    "rsi_14",
    "macd_hist_norm",
    "volatility_20",
    "volume_z_20",
)


class InsufficientDataError(ValueError):
    """Too few rows for a meaningful comparison; the message says which window is short."""


@dataclass(frozen=True)
class DriftSettings:
    """How drift is measured. ``method``/``column_threshold`` apply to every column.

    The default method is the Wasserstein distance in units of the reference standard
    deviation: an effect size. Rolling indicators are strongly autocorrelated (60 rows of a
    20-day volatility are ~3 independent values), so significance tests such as K-S flag "drift"
    on almost any window; a distance threshold flags only shifts that are large.
    """

    current_rows: int = 60
    reference_rows: int = 504
    method: str = "wasserstein"
    column_threshold: float = 0.75
    share_threshold: float = 0.5
    columns: tuple[str, ...] = DRIFT_FEATURE_COLUMNS

    @property
    def min_reference_rows(self) -> int:
        return max(self.current_rows, 30)


@dataclass(frozen=True)
class DriftWindows:
    reference: pd.DataFrame
    current: pd.DataFrame

    @staticmethod
    def _span(frame: pd.DataFrame) -> list[str]:
        return [str(frame["date"].iloc[0].date()), str(frame["date"].iloc[-1].date())]

    @property
    def reference_window(self) -> list[str]:
        return self._span(self.reference)

    @property
    def current_window(self) -> list[str]:
        return self._span(self.current)


@dataclass
class ColumnDrift:
    column: str
    stattest: str
    drift_score: float
    drifted: bool


@dataclass
class DriftSummary:
    """What ``drift/<slug>/latest.json`` holds (``html_path`` is added when it is written)."""

    ticker: str
    as_of: str
    drift_share: float
    dataset_drift: bool
    threshold: float
    drifted_columns: list[str]
    columns: list[ColumnDrift]
    reference_window: list[str]
    current_window: list[str]
    method: str
    column_threshold: float
    reference_rows: int
    current_rows: int
    model_version: str | None = None
    bundle_version: str | None = None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def training_end(bundle_metadata: Mapping[str, Any]) -> pd.Timestamp | None:
    """The last data date the model was fitted on (``data_as_of`` of child bundles,
    ``data_end`` of every bundle written since baselines could serve)."""
    value = bundle_metadata.get("data_as_of") or bundle_metadata.get("data_end")
    if not value:
        return None
    return pd.Timestamp(str(value)).normalize()


def _clean(indicators: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    missing = [c for c in ("date", *columns) if c not in indicators.columns]
    if missing:
        raise InsufficientDataError(f"The indicator table lacks column(s) {', '.join(missing)}.")
    frame = indicators[["date", *columns]].dropna().copy()
    dates = pd.to_datetime(frame["date"])
    if dates.dt.tz is not None:
        dates = dates.dt.tz_localize(None)
    frame["date"] = dates.dt.normalize()
    return frame.sort_values("date").reset_index(drop=True)


def drift_windows(
    indicators: pd.DataFrame,
    train_end: pd.Timestamp | None,
    settings: DriftSettings,
    adopted_end: pd.Timestamp | None = None,
) -> DriftWindows:
    """Reference and current (latest rows) windows.

    The reference is the serving model's training rows before the current window. After a
    champion decision made on a drift or decay retrain (``adopted_end``: the data end that
    decision validated, whether it promoted the challenger or kept the champion), it is the
    regime that decision accepted: the ``min_reference_rows`` rows up to that date, which the
    current window then equals, so the drift episode closes; later sessions are measured
    against that new normal.
    """
    frame = _clean(indicators, settings.columns)
    if len(frame) < settings.current_rows:
        raise InsufficientDataError(
            f"Only {len(frame)} complete indicator rows; the current window needs "
            f"{settings.current_rows}."
        )
    current = frame.tail(settings.current_rows).reset_index(drop=True)
    if adopted_end is not None and (train_end is None or adopted_end >= train_end):
        adopted = frame[frame["date"] <= adopted_end]
        reference = adopted.tail(settings.min_reference_rows)
    else:
        reference = frame[frame["date"] < current["date"].iloc[0]]
        if train_end is not None:
            reference = reference[reference["date"] <= train_end]
    reference = reference.tail(settings.reference_rows).reset_index(drop=True)
    if len(reference) < settings.min_reference_rows:
        raise InsufficientDataError(
            f"Only {len(reference)} training rows precede the current window "
            f"(from {current['date'].iloc[0].date()}); at least "
            f"{settings.min_reference_rows} are needed."
        )
    return DriftWindows(reference=reference, current=current)


def _column_results(snapshot: Any, columns: Sequence[str]) -> dict[str, tuple[float, float, str]]:
    """Per column: (drift score, threshold, method) from the snapshot's ValueDrift metrics."""
    found: dict[str, tuple[float, float, str]] = {}
    for metric in snapshot.dict().get("metrics", []):
        config = metric.get("config") or {}
        column = config.get("column")
        if (
            column in columns
            and "method" in config
            and isinstance(metric.get("value"), float | int)
        ):
            found[column] = (
                float(metric["value"]),
                float(config.get("threshold") or 0.0),
                str(config.get("method")),
            )
    missing = [c for c in columns if c not in found]
    if missing:
        raise RuntimeError(f"The Evidently report has no drift result for {', '.join(missing)}.")
    return found


# Evidently's convention: p-value methods drift below the threshold, distances at or above it.
_P_VALUE_METHODS = frozenset(
    {
        "ks",
        "chisquare",
        "z",
        "t_test",
        "mannw",
        "fisher_exact",
        "cramer_von_mises",
        "anderson",
        "g_test",
        "epps_singleton",
        "empirical_mmd",
    }
)


def _is_drifted(score: float, threshold: float, method: str) -> bool:
    return score < threshold if method in _P_VALUE_METHODS else score >= threshold


def wasserstein_normed(reference: Sequence[float], current: Sequence[float]) -> float:
    """Evidently's ``wasserstein`` drift score: the first Wasserstein distance between the two
    samples, over the reference's standard deviation (at least 0.001)."""
    ref = np.sort(np.asarray(reference, dtype=float))
    cur = np.sort(np.asarray(current, dtype=float))
    values = np.sort(np.concatenate([ref, cur]))
    # W1 is the area between the two empirical distribution functions.
    ref_cdf = np.searchsorted(ref, values[:-1], side="right") / len(ref)
    cur_cdf = np.searchsorted(cur, values[:-1], side="right") / len(cur)
    distance = float(np.sum(np.abs(ref_cdf - cur_cdf) * np.diff(values)))
    return distance / max(float(np.std(ref)), 0.001)


def _evidently_snapshot(windows: DriftWindows, settings: DriftSettings) -> Any:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    columns = list(settings.columns)
    report = Report(
        [
            DataDriftPreset(
                columns=columns,
                method=settings.method,
                threshold=settings.column_threshold,
                drift_share=settings.share_threshold,
            )
        ]
    )
    # Keywords: Evidently's positional order is (current, reference).
    return report.run(
        reference_data=windows.reference[columns], current_data=windows.current[columns]
    )


def _column_scores(
    windows: DriftWindows, settings: DriftSettings
) -> dict[str, tuple[float, float, str]]:
    """Per column: (drift score, threshold, method)."""
    columns = list(settings.columns)
    if settings.method == "wasserstein":
        return {
            c: (
                wasserstein_normed(windows.reference[c], windows.current[c]),
                settings.column_threshold,
                settings.method,
            )
            for c in columns
        }
    return _column_results(_evidently_snapshot(windows, settings), columns)


def render_drift_html(windows: DriftWindows, settings: DriftSettings, path: str) -> None:
    """Evidently's HTML report of the same comparison, written to ``path``."""
    _evidently_snapshot(windows, settings).save_html(path)


def compute_drift(
    windows: DriftWindows,
    settings: DriftSettings,
    *,
    ticker: str,
    model_version: str | None = None,
    bundle_version: str | None = None,
) -> DriftSummary:
    """The drift scores of every column and the summary the check and the API read."""
    columns = list(settings.columns)
    results = _column_scores(windows, settings)
    per_column = [
        ColumnDrift(
            column=c,
            stattest=results[c][2],
            drift_score=round(results[c][0], 6),
            drifted=_is_drifted(*results[c]),
        )
        for c in columns
    ]
    drifted = [c.column for c in per_column if c.drifted]
    share = len(drifted) / len(columns)
    return DriftSummary(
        ticker=ticker,
        as_of=windows.current_window[1],
        drift_share=round(share, 6),
        dataset_drift=share > settings.share_threshold,
        threshold=settings.share_threshold,
        drifted_columns=drifted,
        columns=per_column,
        reference_window=windows.reference_window,
        current_window=windows.current_window,
        method=settings.method,
        column_threshold=settings.column_threshold,
        reference_rows=len(windows.reference),
        current_rows=len(windows.current),
        model_version=model_version,
        bundle_version=bundle_version,
    )
