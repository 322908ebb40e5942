"""The next ``horizon`` NYSE sessions' prices: median and calibrated interval, from the latest data.

Any bundle serves (an LSTM, a baseline, or a mix that serves each horizon from its own model); the
interval is calibrated exactly as in the backtest (``conformal``): from the model's out-of-sample
forecasts whose outcomes have matured by the last data row, per horizon, so a mix's intervals are
each calibrated by the model that made them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from stock_assets.domain.calendar import next_trading_days
from stock_assets.domain.ml.artifacts import ModelBundle
from stock_assets.domain.ml.conformal import CALIBRATION_WINDOW, calibrated_forecast
from stock_assets.domain.ml.dataset import clean_frame


@dataclass(frozen=True)
class ForecastPoint:
    """One forecast day. Prices are ``last_close * exp(quantile log return)``."""

    horizon: int
    date: str  # ISO date of the NYSE session
    median: float
    lower: float
    upper: float
    median_log_return: float
    quantile_prices: tuple[float, ...]  # one per config quantile, ascending
    model: str | None = None  # the model that made this horizon: lstm or a baseline


@dataclass(frozen=True)
class ForecastResult:
    """A serialisable forecast; ``as_of`` is the date of the last data row used."""

    as_of: str
    last_close: float
    quantiles: tuple[float, ...]
    nominal_coverage: float
    points: tuple[ForecastPoint, ...]
    ticker: str | None = None
    model_version: str | None = None
    model: str | None = None  # lstm, a baseline (naive, drift, linear, additive, boosted) or mix

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticker": self.ticker,
            "model_version": self.model_version,
            "model": self.model,
            "as_of": self.as_of,
            "last_close": self.last_close,
            "quantiles": list(self.quantiles),
            "nominal_coverage": self.nominal_coverage,
            "points": [
                {
                    "horizon": p.horizon,
                    "date": p.date,
                    "median": p.median,
                    "lower": p.lower,
                    "upper": p.upper,
                    "median_log_return": p.median_log_return,
                    "quantile_prices": list(p.quantile_prices),
                    "model": p.model,
                }
                for p in self.points
            ],
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ForecastResult:
        points = tuple(
            ForecastPoint(**{**p, "quantile_prices": tuple(p["quantile_prices"])})
            for p in data["points"]
        )
        return cls(
            as_of=data["as_of"],
            last_close=float(data["last_close"]),
            quantiles=tuple(data["quantiles"]),
            nominal_coverage=float(data["nominal_coverage"]),
            points=points,
            ticker=data.get("ticker"),
            model_version=data.get("model_version"),
            model=data.get("model"),
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per forecast day (date, horizon, median, lower, upper)."""
        return pd.DataFrame(
            [
                {
                    "date": pd.Timestamp(p.date),
                    "horizon": p.horizon,
                    "median": p.median,
                    "lower": p.lower,
                    "upper": p.upper,
                }
                for p in self.points
            ]
        )


def forecast_next(
    bundle: ModelBundle,
    frame: pd.DataFrame,
    *,
    as_of: pd.Timestamp | str | None = None,
    ticker: str | None = None,
    model_version: str | None = None,
    timestamp_column: str | None = None,
) -> ForecastResult:
    """Forecast the ``horizon`` NYSE sessions after the last data date with ``bundle``.

    ``as_of`` restricts the data to rows dated on or before it (a forecast "as it would have been
    made then"); the result's ``as_of`` is the last data date actually used.
    """
    if bundle.components:
        return _forecast_mix(
            bundle,
            frame,
            as_of=as_of,
            ticker=ticker,
            model_version=model_version,
            timestamp_column=timestamp_column,
        )
    config = bundle.config
    cleaned = clean_frame(frame, config.feature_columns, timestamp_column)
    if as_of is not None:
        cutoff = pd.Timestamp(as_of)
        if cutoff.tzinfo is not None:
            cutoff = cutoff.tz_convert("UTC").tz_localize(None)
        cleaned = cleaned[cleaned["date"] <= cutoff.normalize()].reset_index(drop=True)
    if len(cleaned) < config.lookback:
        raise ValueError(
            f"need at least lookback={config.lookback} complete rows, got {len(cleaned)}"
        )
    last = len(cleaned) - 1
    calibration_start = _calibration_row(cleaned, bundle, config.horizon)
    calibrated = calibrated_forecast(
        bundle.forecaster,
        cleaned,
        np.array([last]),
        calibration_start=calibration_start,
        coverage=config.nominal_coverage,
        horizon=config.horizon,
    )
    q_lr = calibrated.forecast.values[0]  # (horizon, Q), sorted
    last_close = float(cleaned["close"].iloc[-1])
    as_of_date = pd.Timestamp(cleaned["date"].iloc[-1])
    q_prices = last_close * np.exp(q_lr)
    sessions = next_trading_days(as_of_date, config.horizon)
    med = config.median_index
    points = tuple(
        ForecastPoint(
            horizon=h + 1,
            date=str(sessions[h].date()),
            median=float(q_prices[h, med]),
            lower=float(q_prices[h, 0]),
            upper=float(q_prices[h, -1]),
            median_log_return=float(q_lr[h, med]),
            quantile_prices=tuple(float(v) for v in q_prices[h]),
            model=bundle.candidate,
        )
        for h in range(config.horizon)
    )
    return ForecastResult(
        as_of=str(as_of_date.date()),
        last_close=last_close,
        quantiles=config.quantiles,
        nominal_coverage=config.nominal_coverage,
        points=points,
        ticker=ticker,
        model_version=model_version,
        model=bundle.candidate,
    )


def _forecast_mix(
    bundle: ModelBundle,
    frame: pd.DataFrame,
    *,
    as_of: pd.Timestamp | str | None,
    ticker: str | None,
    model_version: str | None,
    timestamp_column: str | None,
) -> ForecastResult:
    """Each horizon from its own component, each component calibrated on its own record."""
    made: dict[str, ForecastResult] = {}
    for component in bundle.components:
        if component.version not in made:
            made[component.version] = forecast_next(
                component, frame, as_of=as_of, timestamp_column=timestamp_column
            )
    points = tuple(
        made[component.version].points[h] for h, component in enumerate(bundle.components)
    )
    # Every component read the same rows: the first one's as-of date and last close are all's.
    first = made[bundle.components[0].version]
    return replace(
        first, points=points, ticker=ticker, model_version=model_version, model=bundle.candidate
    )


def _calibration_row(cleaned: pd.DataFrame, bundle: ModelBundle, horizon: int) -> int:
    """Row of the bundle's first out-of-sample anchor; without one, the last year of rows."""
    lookback = bundle.config.lookback
    start = bundle.calibration_start
    fallback = max(lookback - 1, len(cleaned) - 1 - CALIBRATION_WINDOW - horizon)
    if start is None:
        return fallback
    row = int(np.searchsorted(cleaned["date"].to_numpy(), np.datetime64(pd.Timestamp(start))))
    return max(lookback - 1, min(row, len(cleaned) - 1))
