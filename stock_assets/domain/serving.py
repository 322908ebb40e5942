"""Which model serves a ticker: the MLflow ``champion``, whatever it is (an LSTM, a baseline, or a
mix serving each horizon from the model the policy chose for it).

The promotion policy decides what the champion is (``stock_assets.domain.ml.policy``); nothing
that has not been through it is served. Shared by the ``forecast`` asset, the API and the agents,
so all answer with the same model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from stock_assets.domain.ml.artifacts import ModelBundle, latest_version, load_bundle
from stock_assets.domain.ml.forecast import ForecastPoint, ForecastResult
from stock_assets.domain.ml.policy import MIX
from stock_assets.domain.symbols import normalize_ticker
from stock_assets.domain.tracking import ModelTracker, registered_model_name

# The registry version shown for a model that has none (a bundle never registered in MLflow).
UNREGISTERED = "unregistered"


def model_id(model_version: str | None, bundle_version: str) -> str:
    """The identity of a served model, as cache keys, semantic-cache filters and reports carry
    it: its MLflow registry version and its bundle folder."""
    return f"{model_version or UNREGISTERED}-{bundle_version}"


class NoModelError(LookupError):
    """The ticker has no champion yet (never trained, or its evaluation has not finished)."""


@dataclass(frozen=True)
class ServingModel:
    bundle: ModelBundle
    model_version: str | None  # MLflow registered version of the champion

    @property
    def model(self) -> str:
        """``lstm``, the baseline's name (``naive``, ``drift``, ``linear``, ``additive``,
        ``boosted``) or ``mix``."""
        return self.bundle.candidate

    @property
    def model_id(self) -> str:
        return model_id(self.model_version, self.bundle.version)

    @property
    def kind(self) -> str:
        """``learned``, ``baseline``, or ``mixed`` (a mix of both)."""
        kinds = {"baseline" if b.kind == "baseline" else "learned" for b in self.bundle.plan}
        return kinds.pop() if len(kinds) == 1 else "mixed"

    @property
    def plan(self) -> tuple[tuple[str, str], ...]:
        """Per horizon: the model serving it and its bundle version (a mix's component)."""
        return tuple((b.candidate, b.version) for b in self.bundle.plan)


def resolve_serving_model(
    tracker: ModelTracker,
    children_root: Path,
    ticker: str,
    current: ServingModel | None = None,
) -> ServingModel:
    """The ticker's champion; ``current`` is returned as it is (no bundle read) when the alias
    still points at it."""
    symbol = normalize_ticker(ticker)
    champion = tracker.champion(registered_model_name(symbol))
    if champion is not None and champion.bundle_version:
        same = current is not None and (current.model_version, current.bundle.version) == (
            champion.model_version,
            champion.bundle_version,
        )
        if same:
            return current  # type: ignore[return-value]
        bundle = load_bundle(children_root, symbol, champion.bundle_version)
        return ServingModel(bundle, champion.model_version)
    if latest_version(children_root, symbol) is None:
        raise NoModelError(f"No model has been trained for {symbol} yet.")
    raise NoModelError(
        f"{symbol} has a trained model but no champion yet: its backtest and promotion decision "
        "have not completed (or the leakage check blocked them)."
    )


# The columns of the ``forecast`` table beyond the result's own (date, horizon, median, lower,
# upper): what the archive keeps and what rebuilds the result exactly (``stored_forecast``).
STORED_COLUMNS = (
    "ticker",
    "as_of",
    "last_close",
    "q_lower",
    "q_upper",
    "model_version",
    "bundle_version",
    "model",
    "model_kind",
    "component_bundle",
    "nominal_coverage",
    "median_log_return",
    "quantile_prices",
    "quantiles",
)


def result_table(serving: ServingModel, result: ForecastResult, ticker: str) -> pd.DataFrame:
    """A forecast as the ``forecast`` asset stores (and the archive appends) it: one row per
    horizon, with the model that made it."""
    table = result.to_frame()
    table.insert(0, "ticker", ticker)
    table["as_of"] = result.as_of
    table["last_close"] = result.last_close
    # The outer quantile levels of the interval: what live scoring's pinball loss needs.
    table["q_lower"] = result.quantiles[0]
    table["q_upper"] = result.quantiles[-1]
    table["model_version"] = serving.model_version
    table["bundle_version"] = serving.bundle.version
    # Per row: the model that made that horizon (a mix serves horizons from different models).
    table["model"] = [p.model or serving.model for p in result.points]
    table["model_kind"] = serving.kind
    table["component_bundle"] = [version for _, version in serving.plan][: len(table)]
    table["nominal_coverage"] = result.nominal_coverage
    table["median_log_return"] = [p.median_log_return for p in result.points]
    table["quantile_prices"] = [list(p.quantile_prices) for p in result.points]
    table["quantiles"] = [list(result.quantiles)] * len(table)
    return table


@dataclass(frozen=True)
class StoredForecast:
    """The materialized forecast of a ticker and the model that made it."""

    result: ForecastResult
    bundle_version: str
    model_version: str | None

    def made_by(self, serving: ServingModel, as_of: str) -> bool:
        """Whether this is what ``serving`` would forecast now from data ending at ``as_of``."""
        return (
            self.bundle_version == serving.bundle.version
            and self.model_version == serving.model_version
            and self.result.as_of == as_of
        )


def stored_forecast(table: pd.DataFrame | None) -> StoredForecast | None:
    """The forecast held by a ``forecast`` table, or None (none stored, or one written before
    the table held everything a result needs)."""
    if table is None or table.empty or not set(STORED_COLUMNS) <= set(table.columns):
        return None
    rows = table.sort_values("horizon").to_dict("records")
    first = rows[0]
    points = tuple(
        ForecastPoint(
            horizon=int(r["horizon"]),
            date=str(pd.Timestamp(r["date"]).date()),
            median=float(r["median"]),
            lower=float(r["lower"]),
            upper=float(r["upper"]),
            median_log_return=float(r["median_log_return"]),
            quantile_prices=tuple(float(v) for v in r["quantile_prices"]),
            model=str(r["model"]),
        )
        for r in rows
    )
    version = first["model_version"]
    result = ForecastResult(
        as_of=str(first["as_of"]),
        last_close=float(first["last_close"]),
        quantiles=tuple(float(q) for q in first["quantiles"]),
        nominal_coverage=float(first["nominal_coverage"]),
        points=points,
        ticker=str(first["ticker"]),
        model_version=None if pd.isna(version) else str(version),
        model=MIX if len({p.model for p in points}) > 1 else str(first["model"]),
    )
    return StoredForecast(result, str(first["bundle_version"]), result.model_version)
