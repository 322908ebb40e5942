"""The facts a report is built on, computed by code from domain objects only.

The forecast comes from the serving model (the champion the promotion policy chose: an LSTM or
the best baseline), its track record and skill from the ticker's latest evaluation (the backtest
table: per horizon, with Diebold-Mariano significance against naive), indicators from its
indicator table, drift from ``outputs/drift/<slug>/latest.json`` when the drift report exists.
Nothing here needs the API or Dagster: both call :func:`gather_facts` (through the graph).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from stock_assets.domain.layout import INDICATORS, read_table
from stock_assets.domain.ml.evaluation import Evaluation, load_evaluation
from stock_assets.domain.ml.forecast import ForecastResult, forecast_next
from stock_assets.domain.monitoring import read_drift_summary
from stock_assets.domain.serving import ServingModel, model_id
from stock_assets.domain.symbols import normalize_ticker
from stock_assets.settings import Settings

if TYPE_CHECKING:  # Feast takes seconds to import; the API loads it in the background
    from stock_assets.domain.feature_store.store import OnlineRow

# Thresholds of the fact-derived stance: a 7-session median move within +-0.5% is "neutral".
STANCE_THRESHOLD_PCT = 0.5
INDICATOR_FIELDS = ("close", "rsi_14", "macd_hist", "volatility_20", "volume_z_20", "log_return")


class FactsError(LookupError):
    """The ticker lacks what a report needs (no model, no indicator table)."""


@dataclass(frozen=True)
class ForecastRow:
    horizon: int
    date: str
    median: float
    lower: float
    upper: float
    change_pct: float  # median vs last close, in percent


@dataclass(frozen=True)
class QualityRow:
    horizon: int
    relative_mae: float | None
    directional_accuracy: float | None
    up_rate: float | None
    coverage: float | None
    p_vs_naive: float | None = None  # one-sided Diebold-Mariano p of "better than naive"
    significant: bool = False
    model: str = ""  # the model serving this horizon (a mix serves each from its own)


@dataclass(frozen=True)
class DriftStatus:
    status: str  # "not computed" | "no drift" | "drift"
    as_of: str | None = None
    drift_share: float | None = None
    drifted_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeatureSource:
    """Where the report's latest indicators come from, and whether they are current."""

    source: str  # "online store" (what serving reads) or "indicator table"
    session: str | None  # the NYSE session of the features used
    fresh: bool  # they are of the forecast's as-of session
    note: str | None = None  # why the table was read instead of the online store


@dataclass(frozen=True)
class Facts:
    """Every number a report may state, and what is derived from them (stance, confidence)."""

    ticker: str
    as_of: str
    last_close: float
    model_version: str | None
    bundle_version: str
    model: str  # what serves: lstm, a baseline (naive, drift, linear, additive, boosted) or mix
    model_kind: str  # learned, baseline or mixed
    skill: str | None  # the evaluation's one-sentence skill statement
    nominal_coverage: float
    quantiles: tuple[float, ...]
    forecast: tuple[ForecastRow, ...]
    quality: tuple[QualityRow, ...]  # the served model, per horizon
    promoted: bool | None  # whether the latest challenger was promoted
    indicators: dict[str, float]
    drift: DriftStatus
    features: FeatureSource | None = None
    stance: str = "neutral"
    confidence: float = 0.0
    parameters: tuple[float, ...] = field(default=(14, 20, 60, 252, 0.05))

    @property
    def model_id(self) -> str:
        return model_id(self.model_version, self.bundle_version)

    @property
    def expected_change_pct(self) -> float:
        return self.forecast[-1].change_pct

    @property
    def interval_width_pct(self) -> float:
        last = self.forecast[-1]
        return (last.upper - last.lower) / self.last_close * 100.0

    @property
    def relative_mae_h1(self) -> float | None:
        return self.quality[0].relative_mae if self.quality else None

    @property
    def beats_naive(self) -> bool | None:
        """Significantly better than naive at h=1 in the backtest (None: no backtest yet).

        From the promotion policy's evidence, never from a raw ratio: 0.999 beats nothing.
        """
        if not self.quality:
            return None
        return any(q.horizon == 1 and q.significant for q in self.quality)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["model_id"] = self.model_id
        data["expected_change_pct"] = self.expected_change_pct
        data["interval_width_pct"] = self.interval_width_pct
        return data

    def numbers(self) -> list[tuple[str, float]]:
        """(label, value) of every number a report may state; the critic checks against these."""
        out: list[tuple[str, float]] = [
            ("last_close", self.last_close),
            ("nominal_coverage", self.nominal_coverage),
            *((f"quantile_{q}", q) for q in self.quantiles),
            ("expected_change_pct", self.expected_change_pct),
            ("interval_width_pct", self.interval_width_pct),
            ("confidence", self.confidence),
        ]
        if self.model_version and self.model_version.isdigit():
            out.append(("model_version", float(self.model_version)))
        for row in self.forecast:
            out += [
                (f"horizon_{row.horizon}", float(row.horizon)),
                (f"median_h{row.horizon}", row.median),
                (f"lower_h{row.horizon}", row.lower),
                (f"upper_h{row.horizon}", row.upper),
                (f"change_pct_h{row.horizon}", row.change_pct),
            ]
        for q in self.quality:
            for name in (
                "relative_mae",
                "directional_accuracy",
                "up_rate",
                "coverage",
                "p_vs_naive",
            ):
                value = getattr(q, name)
                if value is not None:
                    out.append((f"{name}_h{q.horizon}", value))
        out += [(f"indicator_{k}", v) for k, v in self.indicators.items()]
        if self.drift.drift_share is not None:
            out.append(("drift_share", self.drift.drift_share))
            out.append(("drifted_columns", float(len(self.drift.drifted_columns))))
        out += [(f"parameter_{p:g}", float(p)) for p in self.parameters]
        return out

    def dates(self) -> set[str]:
        found = {self.as_of, *(r.date for r in self.forecast)}
        if self.drift.as_of:
            found.add(self.drift.as_of)
        return found


def _num(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def load_indicators(settings: Settings, ticker: str) -> pd.DataFrame:
    frame = read_table(settings.tables_dir, INDICATORS, ticker)
    if frame is None:
        raise FactsError(f"No indicator table for {ticker}: materialize its data first.")
    return frame


def quality_rows(
    evaluation: Evaluation | None, serving: ServingModel
) -> tuple[tuple[QualityRow, ...], bool | None]:
    """Per-horizon backtest evidence of the served model, and whether the challenger was
    promoted; none while the latest decision is not what serves (it is being carried out)."""
    if evaluation is None or not evaluation.describes(serving.plan):
        return (), None
    rows = tuple(
        QualityRow(
            horizon=h.horizon,
            relative_mae=h.relative_mae,
            directional_accuracy=h.directional_accuracy,
            up_rate=h.up_rate,
            coverage=h.coverage,
            p_vs_naive=h.p_vs_naive,
            significant=h.significant,
            model=h.model,
        )
        for h in evaluation.horizons
    )
    return rows, evaluation.promoted


def load_drift(settings: Settings, ticker: str) -> DriftStatus:
    data = read_drift_summary(settings.resolved_outputs_dir, ticker)
    if data is None:
        return DriftStatus("not computed")
    share = _num(data.get("drift_share"))
    return DriftStatus(
        "drift" if data.get("dataset_drift") else "no drift",
        as_of=data.get("as_of"),
        drift_share=share,
        drifted_columns=tuple(str(c) for c in data.get("drifted_columns", [])),
    )


def latest_indicators(frame: pd.DataFrame, as_of: str) -> dict[str, float]:
    rows = frame[pd.to_datetime(frame["date"]) <= pd.Timestamp(as_of)]
    if rows.empty:
        return {}
    last = rows.iloc[-1]
    return {k: v for k in INDICATOR_FIELDS if k in last and (v := _num(last[k])) is not None}


def current_indicators(
    frame: pd.DataFrame, as_of: str, online: OnlineRow | None, unavailable: str | None = None
) -> tuple[dict[str, float], FeatureSource]:
    """The latest indicators from the online store, the features serving reads, when its row is
    of the ``as_of`` session; otherwise from the indicator table, saying why."""
    if online is not None and online.session == as_of:
        values = {k: v for k in INDICATOR_FIELDS if (v := _num(online.values.get(k))) is not None}
        if set(values) == set(INDICATOR_FIELDS):
            return values, FeatureSource("online store", online.session, True)
    if online is not None:
        note = f"the online store's row is of {online.session}, the data of {as_of}"
    else:
        note = unavailable or "the online store holds no row for the ticker"
    values = latest_indicators(frame, as_of)
    return values, FeatureSource("indicator table", as_of if values else None, bool(values), note)


def derive_stance(
    change_pct: float,
    width_pct: float,
    beats_naive: bool | None,
    drift: DriftStatus,
) -> tuple[str, float]:
    """Stance from the sign of the 7-session median move; confidence from how far that move
    stands out of its own interval, discounted when the model has no significant edge over the
    naive forecast, or its data drifted. Words in the text never enter here."""
    if change_pct > STANCE_THRESHOLD_PCT:
        stance = "bullish"
    elif change_pct < -STANCE_THRESHOLD_PCT:
        stance = "bearish"
    else:
        stance = "neutral"
    signal = min(1.0, abs(change_pct) / max(width_pct / 2.0, 1e-9))
    confidence = 0.25 + 0.75 * signal if stance != "neutral" else 0.5 * (1.0 - signal)
    if beats_naive is not True:
        confidence *= 0.6  # no honest edge over "tomorrow = today"
    if drift.status == "drift":
        confidence *= 0.7
    return stance, round(max(0.0, min(1.0, confidence)), 2)


def forecast_rows(result: ForecastResult) -> tuple[ForecastRow, ...]:
    return tuple(
        ForecastRow(
            horizon=p.horizon,
            date=p.date,
            median=p.median,
            lower=p.lower,
            upper=p.upper,
            change_pct=(p.median / result.last_close - 1.0) * 100.0,
        )
        for p in result.points
    )


def gather_facts(
    settings: Settings,
    ticker: str,
    serving: ServingModel,
    indicators: pd.DataFrame | None = None,
    forecast: ForecastResult | None = None,
    *,
    online: OnlineRow | None = None,
    online_unavailable: str | None = None,
) -> Facts:
    """Facts for ``ticker`` from its serving model. ``indicators``/``forecast`` may be passed
    in by a caller that already has them (the API), else they are loaded/computed here;
    ``online`` is the ticker's row in the Feast online store (``online_unavailable`` says why
    there is none)."""
    symbol = normalize_ticker(ticker)
    frame = indicators if indicators is not None else load_indicators(settings, symbol)
    bundle = serving.bundle
    if forecast is None:
        forecast = forecast_next(
            bundle,
            frame,
            ticker=symbol,
            model_version=serving.model_version,
            timestamp_column="date",
        )
    evaluation = load_evaluation(settings.tables_dir, symbol)
    quality, promoted = quality_rows(evaluation, serving)
    drift = load_drift(settings, symbol)
    rows = forecast_rows(forecast)
    indicators_now, source = current_indicators(frame, forecast.as_of, online, online_unavailable)
    base = Facts(
        ticker=symbol,
        as_of=forecast.as_of,
        last_close=forecast.last_close,
        model_version=serving.model_version,
        bundle_version=bundle.version,
        model=serving.model,
        model_kind=serving.kind,
        skill=evaluation.statement_for(serving.plan) if evaluation else None,
        nominal_coverage=forecast.nominal_coverage,
        quantiles=tuple(forecast.quantiles),
        forecast=rows,
        quality=quality,
        promoted=promoted,
        indicators=indicators_now,
        drift=drift,
        features=source,
    )
    stance, confidence = derive_stance(
        base.expected_change_pct,
        base.interval_width_pct,
        base.beats_naive,
        drift,
    )
    return replace(base, stance=stance, confidence=confidence)
