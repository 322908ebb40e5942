"""Serving forecasts: which model serves a ticker, its data, and the forecast itself.

A forecast is computed once, by the ``forecast`` asset, and read back here while it is current:
same champion, same data session. Only a stale one (new data or a new champion since the asset
last ran) is computed here. Everything on the request path is memoised per process: the serving
model for ``serving_refresh_s`` (refreshed in the background while the old answer keeps serving,
so no request waits on the MLflow registry), the tables until their file changes. A cache hit
costs a file stat, memo lookups and one Redis GET.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import pandas as pd

from serving_api import metrics
from serving_api.problems import NoDataError
from stock_assets.domain import layout
from stock_assets.domain.ml.evaluation import Evaluation, load_evaluation
from stock_assets.domain.ml.forecast import ForecastResult, forecast_next
from stock_assets.domain.serving import (
    NoModelError,
    ServingModel,
    StoredForecast,
    resolve_serving_model,
    stored_forecast,
)
from stock_assets.domain.tracking import ModelTracker
from stock_assets.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
PEEK_S = 0.2


@dataclass(frozen=True)
class Frame:
    data: pd.DataFrame
    as_of: str


class FileMemo(Generic[T]):
    """Values read from one file per ticker, re-read only when the file's mtime changes."""

    def __init__(self, path: Callable[[str], Path], read: Callable[[str, Path], T]) -> None:
        self._path_of = path
        self._paths: dict[str, Path] = {}
        self._peeked: dict[str, tuple[float, int | None]] = {}
        self._read = read
        self._values: dict[str, tuple[int, T]] = {}

    def _path(self, ticker: str) -> Path:
        path = self._paths.get(ticker)
        if path is None:  # made once: a Path costs more than the stat it is for
            path = self._paths[ticker] = self._path_of(ticker)
        return path

    def get(self, ticker: str) -> T | None:
        """None when the file does not exist."""
        path = self._path(ticker)
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            self._values.pop(ticker, None)
            return None
        cached = self._values.get(ticker)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        value = self._read(ticker, path)
        self._values[ticker] = (mtime, value)
        return value

    def peek(self, ticker: str) -> tuple[bool, T | None]:
        """(known, value): the value held, known only if its file is unchanged, or known to be
        None when there is no file (a stat, never a read). The file is looked at once per
        ``PEEK_S`` at most: on the hot path a stat is a system call per request, and a table
        rewritten by a run is then noticed within that delay."""
        now = time.monotonic()
        seen = self._peeked.get(ticker)
        if seen is not None and now - seen[0] < PEEK_S:
            mtime = seen[1]
        else:
            try:
                mtime = self._path(ticker).stat().st_mtime_ns
            except FileNotFoundError:
                mtime = None
            self._peeked[ticker] = (now, mtime)
        if mtime is None:
            return True, None
        cached = self._values.get(ticker)
        if cached is None or cached[0] != mtime:
            return False, None
        return True, cached[1]

    def forget(self, ticker: str | None = None) -> None:
        if ticker is None:
            self._values.clear()
        else:
            self._values.pop(ticker, None)


def _frame(_: str, path: Path) -> Frame:
    data = pd.read_parquet(path)
    return Frame(data, str(pd.Timestamp(data["date"].max()).date()))


class ForecastService:
    def __init__(
        self, settings: Settings, on_model_change: Callable[[str], None] | None = None
    ) -> None:
        self.settings = settings
        self._tracker: ModelTracker | None = None
        self._serving: dict[str, tuple[float, ServingModel]] = {}
        self._refreshing: set[str] = set()
        self._texts: dict[str, tuple[tuple[object, ...], str]] = {}
        self._lock = threading.Lock()
        self._on_model_change = on_model_change
        tables = settings.tables_dir
        self._frames = FileMemo(lambda t: layout.table_path(tables, layout.INDICATORS, t), _frame)
        self._evaluations = FileMemo(
            lambda t: layout.table_path(tables, layout.BACKTEST, t),
            lambda ticker, _: load_evaluation(tables, ticker),
        )
        self._stored = FileMemo(
            lambda t: layout.table_path(tables, layout.FORECAST, t),
            lambda _, path: stored_forecast(pd.read_parquet(path)),
        )

    @property
    def tracker(self) -> ModelTracker:
        if self._tracker is None:
            self._tracker = ModelTracker(self.settings.resolved_mlflow_tracking_uri)
        return self._tracker

    # --- the serving model ---------------------------------------------------------------------
    def serving(self, ticker: str) -> ServingModel:
        """The serving model; raises NoModelError when none was trained.

        A known model is answered from memory; past ``serving_refresh_s`` one background thread
        asks the registry again while requests keep the answer they had.
        """
        cached = self._serving.get(ticker)
        if cached is None:
            return self._resolve(ticker)
        if cached[0] <= time.monotonic():
            self._refresh_in_background(ticker)
        return cached[1]

    def known(self, ticker: str) -> tuple[ServingModel, Frame] | None:
        """The serving model and data when both are in memory and current: no registry query,
        no read (the asynchronous hot path); None otherwise."""
        cached = self._serving.get(ticker)
        if cached is None:
            return None
        if cached[0] <= time.monotonic():
            self._refresh_in_background(ticker)
        known, frame = self._frames.peek(ticker)
        return (cached[1], frame) if known and frame is not None else None

    def _resolve(self, ticker: str) -> ServingModel:
        known = self._serving.get(ticker)
        fresh = resolve_serving_model(
            self.tracker,
            self.settings.resolved_outputs_dir,
            ticker,
            current=known[1] if known else None,  # the bundle is read only when it changed
        )
        with self._lock:
            before = self._serving.get(ticker)
            self._serving[ticker] = (time.monotonic() + self.settings.serving_refresh_s, fresh)
        changed = before is not None and before[1].model_id != fresh.model_id
        if changed and self._on_model_change is not None:
            self._on_model_change(ticker)  # a new champion: old cache entries are stale
        return fresh

    def _refresh_in_background(self, ticker: str) -> None:
        with self._lock:
            if ticker in self._refreshing:
                return
            self._refreshing.add(ticker)

        def refresh() -> None:
            try:
                self._resolve(ticker)
            except NoModelError:
                with self._lock:
                    self._serving.pop(ticker, None)
            except Exception as exc:  # MLflow down: keep serving what we know, say so once
                log.warning("serving model of %s not refreshed: %s", ticker, exc)
            finally:
                with self._lock:
                    self._refreshing.discard(ticker)

        threading.Thread(target=refresh, name=f"serving-{ticker}", daemon=True).start()

    def forget(self, ticker: str | None = None) -> None:
        with self._lock:
            if ticker is None:
                self._serving.clear()
            else:
                self._serving.pop(ticker, None)
        for memo in (self._frames, self._evaluations, self._stored):
            memo.forget(ticker)

    # --- data, evidence and the forecast -------------------------------------------------------
    def frame(self, ticker: str) -> Frame:
        frame = self._frames.get(ticker)
        if frame is None:
            raise NoDataError(f"No indicator table for {ticker}: materialize its data first.")
        return frame

    def evaluation(self, ticker: str) -> Evaluation | None:
        """The latest backtest decision and the served model's measured skill."""
        evaluation = self._evaluations.get(ticker)
        h1 = evaluation.horizon(1) if evaluation else None
        if h1 is not None and h1.relative_mae is not None:
            metrics.MODEL_QUALITY.labels(ticker).set(h1.relative_mae)
        return evaluation

    def stored(self, ticker: str) -> StoredForecast | None:
        return self._stored.get(ticker)

    def materialized_text(self, ticker: str, serving: ServingModel, frame: Frame) -> str | None:
        """The answer's JSON from the materialized forecast, when it is current and all it needs
        is in memory (a few stats, no read: the asynchronous miss path); None otherwise."""
        known, stored = self._stored.peek(ticker)
        if not known or stored is None or not stored.made_by(serving, frame.as_of):
            return None
        known, evaluation = self._evaluations.peek(ticker)
        if not known:
            return None
        # Built once per stored forecast, evaluation and model (the objects change on re-read).
        identity = (serving.model_id, frame.as_of, id(stored), id(evaluation))
        cached = self._texts.get(ticker)
        if cached is not None and cached[0] == identity:
            text = cached[1]
        else:
            body = forecast_body(ticker, serving, stored.result, evaluation)
            text = json.dumps(body, separators=(",", ":"))
            self._texts[ticker] = (identity, text)
        metrics.FORECAST_SOURCE.labels("materialized").inc()
        return text

    def forecast(self, ticker: str, serving: ServingModel, frame: Frame) -> ForecastResult:
        """The materialized forecast when it is current, else one computed now."""
        stored = self.stored(ticker)
        if stored is not None and stored.made_by(serving, frame.as_of):
            metrics.FORECAST_SOURCE.labels("materialized").inc()
            return stored.result
        started = time.perf_counter()
        result = forecast_next(
            serving.bundle,
            frame.data,
            ticker=ticker,
            model_version=serving.model_version,
            timestamp_column="date",
        )
        metrics.INFERENCE.observe(time.perf_counter() - started)
        metrics.FORECAST_SOURCE.labels("computed").inc()
        return result


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
        "skill": evaluation.statement_for(serving.plan) if evaluation else None,
        "as_of": result.as_of,
        "last_close": result.last_close,
        "nominal_coverage": result.nominal_coverage,
        "points": [
            {
                "horizon": p.horizon,
                "date": p.date,
                "median": p.median,
                "lower": p.lower,
                "upper": p.upper,
                "model": p.model,
            }
            for p in result.points
        ],
    }
