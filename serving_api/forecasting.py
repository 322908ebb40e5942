"""Serving forecasts: which model serves a ticker, its data, and a forecast on a cache miss.

Resolving the serving model asks MLflow (a registry query) and loading a bundle reads torch files,
so both are memoised per process for ``serving_refresh_s``; the indicator table is re-read only
when its file changes. That keeps a cache hit to a file stat, memo lookups and one Redis GET.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from serving_api import metrics
from stock_assets.domain.ml.evaluation import Evaluation, backtest_table_path, load_evaluation
from stock_assets.domain.ml.forecast import ForecastResult, forecast_next
from stock_assets.domain.serving import ServingModel, resolve_serving_model
from stock_assets.domain.symbols import ticker_slug
from stock_assets.domain.tracking import ModelTracker
from stock_assets.settings import Settings


class NoDataError(LookupError):
    """The ticker has a model but no stored indicator table."""


@dataclass(frozen=True)
class Frame:
    data: pd.DataFrame
    as_of: str
    mtime_ns: int


def model_id(serving: ServingModel) -> str:
    """Identity of the serving model in cache keys: registry version and bundle folder."""
    return f"{serving.model_version or 'unregistered'}-{serving.bundle.version}"


class ForecastService:
    def __init__(
        self, settings: Settings, on_model_change: Callable[[str], None] | None = None
    ) -> None:
        self.settings = settings
        self._tracker: ModelTracker | None = None
        self._serving: dict[str, tuple[float, ServingModel]] = {}
        self._frames: dict[str, Frame] = {}
        self._evaluations: dict[str, tuple[int, Evaluation | None]] = {}
        self._lock = threading.Lock()
        self._on_model_change = on_model_change

    @property
    def tracker(self) -> ModelTracker:
        if self._tracker is None:
            self._tracker = ModelTracker(self.settings.resolved_mlflow_tracking_uri)
        return self._tracker

    def serving(self, ticker: str) -> ServingModel:
        """The serving model (memoised); raises NoModelError when none was trained."""
        now = time.monotonic()
        cached = self._serving.get(ticker)
        if cached is not None and cached[0] > now:
            return cached[1]
        with self._lock:
            again = self._serving.get(ticker)
            if again is not None and again is not cached and again[0] > time.monotonic():
                return again[1]  # another thread refreshed it while this one waited
            fresh = resolve_serving_model(self.tracker, self.settings.resolved_outputs_dir, ticker)
            self._serving[ticker] = (now + self.settings.serving_refresh_s, fresh)
        if cached is not None and model_id(cached[1]) != model_id(fresh) and self._on_model_change:
            self._on_model_change(ticker)  # a new champion: old cache entries are now stale
        return fresh

    def forget(self, ticker: str | None = None) -> None:
        if ticker is None:
            self._serving.clear()
            self._frames.clear()
            self._evaluations.clear()
        else:
            self._serving.pop(ticker, None)
            self._frames.pop(ticker, None)
            self._evaluations.pop(ticker, None)

    def indicator_path(self, ticker: str) -> Path:
        return self.settings.indicators_dir / f"{ticker_slug(ticker)}.parquet"

    def frame(self, ticker: str) -> Frame:
        path = self.indicator_path(ticker)
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError as exc:
            raise NoDataError(
                f"No indicator table for {ticker} at {path}: materialize its data first."
            ) from exc
        cached = self._frames.get(ticker)
        if cached is not None and cached.mtime_ns == mtime:
            return cached
        data = pd.read_parquet(path)
        as_of = str(pd.Timestamp(data["date"].max()).date())
        frame = Frame(data, as_of, mtime)
        self._frames[ticker] = frame
        return frame

    def forecast(self, ticker: str, serving: ServingModel, frame: Frame) -> ForecastResult:
        bundle = serving.bundle
        started = time.perf_counter()
        result = forecast_next(
            bundle,
            frame.data,
            ticker=ticker,
            model_version=serving.model_version,
            timestamp_column="date",
        )
        metrics.INFERENCE.observe(time.perf_counter() - started)
        return result

    def evaluation(self, ticker: str) -> Evaluation | None:
        """The latest backtest decision and the served model's measured skill (re-read only when
        the backtest table changes: a cache miss reads it)."""
        path = backtest_table_path(self.settings.tables_dir, ticker)
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        cached = self._evaluations.get(ticker)
        if cached is not None and cached[0] == mtime:
            evaluation = cached[1]
        else:
            evaluation = load_evaluation(self.settings.tables_dir, ticker)
            self._evaluations[ticker] = (mtime, evaluation)
        h1 = evaluation.horizon(1) if evaluation else None
        if h1 is not None and h1.relative_mae is not None:
            metrics.MODEL_QUALITY.labels(ticker).set(h1.relative_mae)
        return evaluation


def forecast_body(
    ticker: str, serving: ServingModel, result: ForecastResult, evaluation: Evaluation | None
) -> dict[str, Any]:
    """The forecast object ``/predict-child`` answers (and ``/analyze`` embeds), minus the
    ``cache_hit`` flag: what the cache stores."""
    return {
        "ticker": ticker,
        "model_version": serving.model_version,
        "bundle_version": serving.bundle.version,
        "model": serving.model,
        "model_kind": serving.kind,
        "skill": evaluation.statement_for(serving.model, serving.bundle.version)
        if evaluation
        else None,
        "as_of": result.as_of,
        "last_close": result.last_close,
        "nominal_coverage": result.nominal_coverage,
        "points": [
            {"horizon": p.horizon, "date": p.date, "median": p.median, "lower": p.lower,
             "upper": p.upper}
            for p in result.points
        ],
    }  # fmt: skip
