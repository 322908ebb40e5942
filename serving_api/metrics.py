"""Prometheus metrics, correct under several uvicorn/gunicorn workers.

Labels are bounded: routes by their template (``/status/{task_id}``, never the raw path), tickers
only for the per-ticker quality gauge (one series per registered ticker). With
``PROMETHEUS_MULTIPROC_DIR`` set (before this module is imported), every worker writes its values
to that folder and ``/metrics`` aggregates them (prometheus_client multiprocess mode).
"""

from __future__ import annotations

import contextlib
import os

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
for _job in ("apply_feature_definitions", "ticker_data", "parent_training", "ticker_training"):
    for _event in ("launched", "succeeded", "failed"):
        RUNS.labels(_job, _event)

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
    if _MULTIPROCESS:
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry, path=_MULTIPROC_DIR)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
