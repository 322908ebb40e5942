"""The next ``horizon`` NYSE sessions' prices: median and interval, from the latest window."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from stock_assets.domain.calendar import next_trading_days
from stock_assets.domain.ml.config import ModelConfig
from stock_assets.domain.ml.dataset import FeatureScaler, clean_frame, latest_window
from stock_assets.domain.ml.model import LSTMForecaster, predict_log_returns


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticker": self.ticker,
            "model_version": self.model_version,
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
    model: LSTMForecaster,
    scaler: FeatureScaler,
    frame: pd.DataFrame,
    config: ModelConfig,
    *,
    as_of: pd.Timestamp | str | None = None,
    ticker: str | None = None,
    model_version: str | None = None,
    timestamp_column: str | None = None,
) -> ForecastResult:
    """Forecast the ``config.horizon`` NYSE sessions after the last data date.

    ``as_of`` restricts the data to rows dated on or before it (a forecast "as it would have been
    made then"); the result's ``as_of`` is the last data date actually used.
    """
    cleaned = clean_frame(frame, config.feature_columns, timestamp_column)
    if as_of is not None:
        cutoff = pd.Timestamp(as_of)
        if cutoff.tzinfo is not None:
            cutoff = cutoff.tz_convert("UTC").tz_localize(None)
        cleaned = cleaned[cleaned["date"] <= cutoff.normalize()]
    window = latest_window(cleaned, scaler, config, timestamp_column="date")
    q_lr = predict_log_returns(model, scaler, window.x)[0]  # (horizon, Q), sorted
    q_prices = window.last_close * np.exp(q_lr)
    sessions = next_trading_days(window.as_of, config.horizon)
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
        )
        for h in range(config.horizon)
    )
    return ForecastResult(
        as_of=str(window.as_of.date()),
        last_close=window.last_close,
        quantiles=config.quantiles,
        nominal_coverage=config.nominal_coverage,
        points=points,
        ticker=ticker,
        model_version=model_version,
    )
