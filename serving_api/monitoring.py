"""Platform state as Prometheus metrics, read at scrape time from the stores themselves.

* drift: ``stockops_drift_share``, ``stockops_drift_detected`` and
  ``stockops_drift_report_timestamp_seconds`` per ticker, from ``outputs/drift/*/latest.json``;
* runs: ``stockops_dagster_runs{job, status}``, the runs in the Dagster run storage, whoever
  launched them (sensors, schedules, the API, the UI);
* model quality: ``stockops_model_relative_mae_h1`` is refreshed from the backtest tables, so the
  "below the naive baseline" alert does not depend on someone calling ``/models``;
* live skill: ``stockops_live_relative_mae``, ``stockops_live_coverage`` (ticker, horizon, window
  of the last 20 / 60 / all matured forecasts), ``stockops_backtest_relative_mae`` (the promise,
  ticker and horizon), ``stockops_live_matured_forecasts`` and ``stockops_live_skill_decayed`` per
  ticker, from the ``live_skill`` tables. Labels stay bounded: registered tickers x 7 horizons x
  3 windows.

Files are re-read only when they change and run counts at most every ``ttl_s``; every worker
reads the same stores, so the values agree across workers (multiprocess mode included).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily

from serving_api import metrics
from stock_assets import names
from stock_assets.domain import layout
from stock_assets.domain.ml.evaluation import load_evaluation
from stock_assets.domain.symbols import ticker_from_slug

log = logging.getLogger(__name__)

_STATUSES = {
    "success": dg.DagsterRunStatus.SUCCESS,
    "failure": dg.DagsterRunStatus.FAILURE,
    "canceled": dg.DagsterRunStatus.CANCELED,
}


class PlatformStateCollector:
    def __init__(self, ttl_s: float = 10.0) -> None:
        self.outputs_dir: Path | None = None
        self.tables_dir: Path | None = None
        self.instance: dg.DagsterInstance | None = None
        self.ttl_s = ttl_s
        self._files: dict[Path, tuple[int, Any]] = {}
        self._runs: tuple[float, dict[tuple[str, str], int]] = (0.0, {})
        self._lock = threading.Lock()

    def bind(
        self, outputs_dir: Path, tables_dir: Path, instance: dg.DagsterInstance | None
    ) -> None:
        with self._lock:
            self.outputs_dir, self.tables_dir, self.instance = outputs_dir, tables_dir, instance
            self._files.clear()
            self._runs = (0.0, {})

    def unbind(self, instance: dg.DagsterInstance | None) -> None:
        with self._lock:
            if self.instance is instance:
                self.instance = None

    # --- reading, with memo by mtime ------------------------------------------------------
    def _memo(self, path: Path, read: Any) -> Any:
        try:
            mtime = path.stat().st_mtime_ns
            cached = self._files.get(path)
            if cached is None or cached[0] != mtime:
                cached = (mtime, read(path))
                self._files[path] = cached
            return cached[1]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # being replaced or malformed: skipped this scrape

    def drift(self) -> dict[str, dict[str, Any]]:
        if self.outputs_dir is None:
            return {}
        out: dict[str, dict[str, Any]] = {}
        for path in (self.outputs_dir / layout.DRIFT_FOLDER).glob(f"*/{layout.LATEST_JSON}"):
            data = self._memo(path, lambda p: json.loads(p.read_text(encoding="utf-8")))
            if isinstance(data, dict) and "drift_share" in data:
                data = {**data, "_mtime": path.stat().st_mtime}
                out[ticker_from_slug(path.parent.name)] = data
        return out

    def live(self) -> dict[str, Any]:
        if self.tables_dir is None:
            return {}
        out: dict[str, Any] = {}
        for path in (self.tables_dir / layout.LIVE_SKILL).glob("*.parquet"):
            table = self._memo(path, pd.read_parquet)
            if table is not None and not table.empty:
                out[ticker_from_slug(path.stem)] = table
        return out

    def refresh_model_quality(self) -> None:
        if self.tables_dir is None:
            return
        for path in (self.tables_dir / layout.BACKTEST).glob("*.parquet"):

            def h1(p: Path) -> float | None:
                evaluation = load_evaluation(p.parent.parent, ticker_from_slug(p.stem))
                served = evaluation.horizon(1) if evaluation else None
                return served.relative_mae if served else None

            value = self._memo(path, h1)
            if value is not None:
                metrics.MODEL_QUALITY.labels(ticker_from_slug(path.stem)).set(value)

    def runs(self) -> dict[tuple[str, str], int]:
        instance = self.instance
        if instance is None:
            return {}
        stamp, counts = self._runs
        if time.monotonic() - stamp < self.ttl_s:
            return counts
        try:
            counts = {
                (job, name): instance.get_runs_count(dg.RunsFilter(job_name=job, statuses=[status]))
                for job in names.JOBS  # every job of the code location (tests/test_names.py)
                for name, status in _STATUSES.items()
            }
        except Exception as exc:  # the run storage is down: /health says so; keep scraping
            log.warning("Dagster run counts unavailable: %s", exc)
            return counts
        self._runs = (time.monotonic(), counts)
        return counts

    # --- prometheus_client collector protocol ------------------------------------------------
    def refresh(self) -> None:
        """Gauges owned elsewhere, updated before each exposition."""
        with self._lock:
            self.refresh_model_quality()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            drift = self.drift()
            runs = self.runs()
            live = self.live()
        yield from _live_families(live)
        share = GaugeMetricFamily(
            "stockops_drift_share",
            "Share of model inputs drifted in the latest report",
            labels=["ticker"],
        )
        detected = GaugeMetricFamily(
            "stockops_drift_detected",
            "1 when the latest drift report exceeds its drift-share threshold",
            labels=["ticker"],
        )
        stamp = GaugeMetricFamily(
            "stockops_drift_report_timestamp_seconds",
            "When the latest drift report was written (unix time)",
            labels=["ticker"],
        )
        for ticker, data in sorted(drift.items()):
            share.add_metric([ticker], float(data["drift_share"]))
            detected.add_metric([ticker], float(bool(data.get("dataset_drift"))))
            stamp.add_metric([ticker], float(data["_mtime"]))
        yield from (share, detected, stamp)
        family = GaugeMetricFamily(
            "stockops_dagster_runs",
            "Runs in the Dagster run storage by job and final status (any launcher)",
            labels=["job", "status"],
        )
        for (job, status), count in sorted(runs.items()):
            family.add_metric([job, status], float(count))
        yield family


def _live_families(live: dict[str, Any]) -> Iterator[GaugeMetricFamily]:
    labels = ["ticker", "horizon", "window"]
    rel = GaugeMetricFamily(
        "stockops_live_relative_mae",
        "Live MAE / naive MAE of the served forecasts over the last N matured (window)",
        labels=labels,
    )
    cov = GaugeMetricFamily(
        "stockops_live_coverage", "Live interval coverage over the last N matured", labels=labels
    )
    promised = GaugeMetricFamily(
        "stockops_backtest_relative_mae",
        "The served model's backtest MAE / naive MAE: what live skill is held to",
        labels=["ticker", "horizon"],
    )
    matured = GaugeMetricFamily(
        "stockops_live_matured_forecasts",
        "Matured (scored) forecasts at horizon 1",
        labels=["ticker"],
    )
    decayed = GaugeMetricFamily(
        "stockops_live_skill_decayed",
        "1 when the served model's live errors are significantly worse than its backtest",
        labels=["ticker"],
    )
    for ticker, table in sorted(live.items()):
        for row in table.itertuples():
            window = str(row.window) if row.window else "all"
            h = str(row.horizon)
            rel.add_metric([ticker, h, window], float(row.relative_mae))
            cov.add_metric([ticker, h, window], float(row.coverage))
            if not row.window and not pd.isna(row.promised_relative_mae):
                promised.add_metric([ticker, h], float(row.promised_relative_mae))
            if not row.window and row.horizon == 1:
                matured.add_metric([ticker], float(row.n))
        decayed.add_metric([ticker], float(bool(table["decayed"].iloc[0])))
    yield from (rel, cov, promised, matured, decayed)


PLATFORM_STATE = PlatformStateCollector()
REGISTRY.register(PLATFORM_STATE)
metrics.STATE_COLLECTORS.append(PLATFORM_STATE)
