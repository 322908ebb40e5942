"""Prometheus metrics, correct under several uvicorn/gunicorn workers.

Labels are bounded: routes by their template (``/status/{task_id}``, never the raw path), tickers
only for the per-ticker quality gauge (one series per registered ticker). With
``PROMETHEUS_MULTIPROC_DIR`` set (before this module is imported), every worker writes its values
to that folder and ``/metrics`` aggregates them (prometheus_client multiprocess mode).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess
from prometheus_client import values as _values
from prometheus_client.core import GaugeMetricFamily

from stock_assets import names
from stock_assets.domain.symbols import ticker_from_slug

# prometheus_client picks its value store once, when first imported; what counts is that choice,
# not the environment now (Feast sets PROMETHEUS_MULTIPROC_DIR on import, after the fact).
# Feast's own temporary folder (``feast_metrics_*``) is not a deployment's multiprocess folder:
# aggregating it mixes in Feast's series, so only a folder the operator set counts.
_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
_MULTIPROCESS = bool(_MULTIPROC_DIR) and "feast_metrics" not in str(_MULTIPROC_DIR)
if not _MULTIPROCESS and _values.ValueClass is not _values.MutexValue:
    # Feast switched prometheus_client to mmap values in its folder; our metrics (created below,
    # they read ValueClass when constructed) stay plain in-process values.
    _values.ValueClass = _values.MutexValue

REQUESTS = Counter("stockops_api_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "stockops_api_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CACHE = Counter("stockops_api_forecast_cache_total", "Forecast cache lookups", ["result"])
INFERENCE = Histogram(
    "stockops_api_inference_duration_seconds",
    "Model inference time on a cache miss",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
FORECAST_SOURCE = Counter(
    "stockops_api_forecast_source_total",
    "Forecasts answered on a cache miss, by source: the materialized forecast asset, or "
    "computed because it was stale",
    ["source"],
)
RUNS = Counter(
    "stockops_api_training_runs_total",
    "Dagster runs launched by the API, and their observed outcomes",
    ["job", "event"],  # event: launched | succeeded | failed
)
RATE_LIMITED = Counter("stockops_api_rate_limited_total", "Requests answered 429", ["route"])
# Gauges: workers read the same tables and host, so their values agree; "max" aggregates them
MODEL_QUALITY = Gauge(
    "stockops_model_relative_mae_h1",
    "Backtest relative MAE at horizon 1 of the ticker's latest evaluated child (<1 beats naive)",
    ["ticker"],
    multiprocess_mode="max",
)
CPU = Gauge("stockops_api_cpu_percent", "Host CPU use", multiprocess_mode="max")
RAM = Gauge("stockops_api_memory_percent", "Host memory use", multiprocess_mode="max")
DISK = Gauge("stockops_api_disk_percent", "Disk use of the data directory", multiprocess_mode="max")
PROCESS_RSS = Gauge(
    "stockops_api_process_rss_bytes", "Resident memory of this worker", multiprocess_mode="max"
)

# Create the label sets known up front: in multiprocess mode a series exists only once touched,
# and dashboards should see zeros, not gaps.
for _result in ("hit", "miss"):
    CACHE.labels(_result)
for _job in names.JOBS:
    for _event in ("launched", "succeeded", "failed"):
        RUNS.labels(_job, _event)
for _source in ("materialized", "computed"):
    FORECAST_SOURCE.labels(_source)

REPORT_CACHE = Counter(
    "stockops_api_report_cache_total",
    "/analyze semantic-cache lookups (unavailable: the cache is off or locked in this worker)",
    ["result"],  # hit | miss | unavailable
)
for _result in ("hit", "miss", "unavailable"):
    REPORT_CACHE.labels(_result)


class ReportEvaluationCollector:
    """Evaluation scores of the stored agent reports (``outputs/reports/<slug>/latest.json``),
    read at scrape time, so reports written by Dagster runs show up as well as the API's.
    Files are re-read only when they change."""

    _FIELDS = (
        ("faithfulness", "Share of the report's numbers and claims the facts support"),
        ("claims", "Claims read in the report's prose"),
        ("unsupported_claims", "Claims in the report's prose that the facts do not allow"),
        ("section_coverage", "Share of the fixed report sections present"),
        ("score", "Overall report score (0..1)"),
        ("length_words", "Report length in words"),
        ("critic_pass", "1 when the critic accepted the report (pass or after replacements)"),
        ("sentences_generated", "Narrative sentences the LLM wrote for the report"),
        ("sentences_admitted", "Of those, admitted by the grounding gate"),
        ("sentences_dropped", "Of those, dropped and replaced by code-written fact sentences"),
        ("grounded", "Share of published narrative sentences that restate the facts"),
        (
            "question_answered",
            "1 when the report answers the question it was asked, 0 when "
            "the facts do not answer it, absent without a question",
        ),
        ("age_seconds", "Seconds since the report was written"),
    )

    def __init__(self) -> None:
        self.folder: Path | None = None
        self._seen: dict[Path, tuple[int, str, dict[str, float]]] = {}

    def _read(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        if self.folder is None or not self.folder.is_dir():
            return out
        for path in self.folder.glob("*/latest.json"):
            try:
                mtime = path.stat().st_mtime_ns
                cached = self._seen.get(path)
                if cached is None or cached[0] != mtime:
                    record = json.loads(path.read_text(encoding="utf-8"))
                    ev = record["evaluation"]
                    values = {
                        "faithfulness": float(ev["faithfulness"]),
                        "section_coverage": float(ev["section_coverage"]),
                        "score": float(ev["score"]),
                        "length_words": float(ev["length_words"]),
                        # Reports written before claims were read count none.
                        "claims": float(ev.get("claims", 0)),
                        "unsupported_claims": float(len(ev.get("unsupported_claims", []))),
                        "critic_pass": float(ev["critic_verdict"] in {"pass", "revise"}),
                        # Reports written before sentences were gated count none.
                        **{
                            f"sentences_{k}": float((ev.get("sentences") or {}).get(k, 0))
                            for k in ("generated", "admitted", "dropped")
                        },
                        "grounded": float(ev.get("grounded", 1.0)),
                        "created": dt.datetime.fromisoformat(record["created_at"]).timestamp(),
                    }
                    if ev.get("question"):
                        values["question_answered"] = float(bool(ev["question"]["answered"]))
                    cached = (mtime, ticker_from_slug(path.parent.name), values)
                    self._seen[path] = cached
                out[cached[1]] = cached[2]
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a report being replaced or malformed: skip it this scrape
        return out

    def collect(self) -> Iterator[GaugeMetricFamily]:
        reports = self._read()
        now = time.time()
        for name, doc in self._FIELDS:
            family = GaugeMetricFamily(f"stockops_report_{name}", doc, labels=["ticker"])
            for ticker, values in sorted(reports.items()):
                if name == "age_seconds":
                    family.add_metric([ticker], now - values["created"])
                elif name in values:
                    family.add_metric([ticker], values[name])
            yield family


REPORT_EVALUATIONS = ReportEvaluationCollector()
REGISTRY.register(REPORT_EVALUATIONS)

# Collectors of platform state read from the stores at scrape time (drift reports, Dagster runs:
# serving_api.monitoring); like the report evaluations, the same in every worker. ``refresh()``
# runs before each exposition, for gauges they update.
STATE_COLLECTORS: list[Any] = []

METRIC_NAMES = (
    "stockops_api_requests",
    "stockops_api_request_duration_seconds",
    "stockops_api_forecast_cache",
    "stockops_api_training_runs",
    "stockops_model_relative_mae_h1",
    "stockops_api_cpu_percent",
)


def _sample_host(disk_path: str) -> None:
    CPU.set(psutil.cpu_percent(interval=None))
    RAM.set(psutil.virtual_memory().percent)
    PROCESS_RSS.set(psutil.Process().memory_info().rss)
    with contextlib.suppress(OSError):  # the data dir may not exist yet on a fresh machine
        DISK.set(psutil.disk_usage(disk_path).percent)


def exposition(disk_path: str) -> tuple[bytes, str]:
    """The text exposition for ``/metrics`` (aggregated across workers in multiprocess mode)."""
    _sample_host(disk_path)
    for collector in STATE_COLLECTORS:
        collector.refresh()
    if _MULTIPROCESS:
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry, path=_MULTIPROC_DIR)
        registry.register(REPORT_EVALUATIONS)  # read from files: the same in every worker
        for collector in STATE_COLLECTORS:
            registry.register(collector)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
