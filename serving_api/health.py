"""Health of the API and its dependencies, for ``/health``, ``/health/ready`` and ``/health/live``.

Liveness is the process answering. Readiness is what this pod needs, and only it, to answer a
forecast that is cached or materialized: its own process (it answers) and the data directory
it reads forecasts, tables and model bundles from. Shared servers are not part of it, on
purpose: every API pod depends on the same Redis, MLflow and Dagster, so a readiness that asked
them would take every pod out of the load balancer at once whenever one of them restarts (the
single-replica MLflow on a release, a Dagster upgrade) and the public API would answer nothing,
not even what it can serve without them. Instead:

- Redis: cache, rate limits and locks fall back to each worker's memory while it is away.
- MLflow: the serving model is kept in memory and refreshed in the background; a request for a
  ticker this process has not served yet answers 503 ``mlflow_unavailable`` while it is down.
- Dagster: only launching and following runs needs it (503 ``dagster_unavailable``); with Dagster+
  hybrid its GraphQL API answers only with a token, so asking it would keep the API unready for
  ever.
- Qdrant: only the report cache, which works around it.

``/health`` reports every one of them, with a message; ``/health/ready`` only what gates traffic.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from agent_graph.cache import qdrant_url
from serving_api.deps import AppState
from stock_assets.domain.redact import redact_url

# What gates this pod's traffic (the Kubernetes readiness probe and the ALB health check).
REQUIRED = ("data",)


@dataclass(frozen=True)
class Check:
    ok: bool
    message: str


def check_data(state: AppState) -> Check:
    """The data directory is there and readable: without it no forecast can be served. A hung
    network file system makes the probe time out, which is the answer it deserves."""
    path = state.settings.resolved_data_dir
    try:
        os.scandir(path).close()
    except OSError as exc:
        return Check(False, f"data directory {path}: {exc.strerror or exc}")
    return Check(True, f"data directory {path}")


def check_redis(state: AppState) -> Check:
    if state.kv.ping():
        return Check(True, f"Redis at {state.kv.url}")
    return Check(
        False,
        f"Redis at {state.kv.url} unreachable ({state.kv.last_error}): cache, rate limits and "
        "locks use the in-process fallback (per worker).",
    )


def check_dagster(state: AppState) -> Check:
    try:
        state.instance.get_runs(limit=1)
    except Exception as exc:
        return Check(False, f"Dagster instance: {exc}")
    url = state.settings.dagster_graphql_url
    if url:
        try:
            base = url.rsplit("/graphql", 1)[0]
            httpx.get(base + "/server_info", timeout=2.0).raise_for_status()
        except httpx.HTTPError as exc:
            return Check(False, f"Dagster webserver at {url}: {exc}")
    return Check(True, f"Dagster instance reachable; {state.tasks.launcher.name} launcher")


def check_mlflow(state: AppState) -> Check:
    uri = state.settings.resolved_mlflow_tracking_uri
    where = redact_url(uri)
    try:
        if uri.startswith(("http://", "https://")):
            # The server's own health route, with a probe's patience: MLflow's client retries
            # a refused connection for minutes.
            httpx.get(uri.rstrip("/") + "/health", timeout=2.0).raise_for_status()
        else:
            state.forecasts.tracker.client.search_experiments(max_results=1)
    except Exception as exc:
        return Check(False, f"MLflow at {where}: {type(exc).__name__}: {str(exc)[:300]}")
    return Check(True, f"MLflow at {where}")


def check_qdrant(state: AppState) -> Check:
    url = qdrant_url(state.settings)
    if url:
        where = redact_url(url)
        try:
            httpx.get(url.rstrip("/") + "/readyz", timeout=2.0).raise_for_status()
        except httpx.HTTPError as exc:
            return Check(False, f"Qdrant server at {where}: {exc}")
        return Check(True, f"Qdrant server at {where}")
    path = state.settings.resolved_qdrant_path
    note = "" if path.exists() else " (not created yet)"
    return Check(True, f"Qdrant local mode at {path}{note}")


CHECKS: dict[str, Callable[[AppState], Check]] = {
    "data": check_data,
    "redis": check_redis,
    "dagster": check_dagster,
    "mlflow": check_mlflow,
    "qdrant": check_qdrant,
}


def check_agents(warm: str) -> Check:
    """The analyst agents' models (loaded in the background after start-up; an /analyze that
    comes sooner waits for them)."""
    return Check(warm == "ready", f"analyst models {warm}")


def run_checks(state: AppState, names: tuple[str, ...] = tuple(CHECKS)) -> dict[str, Check]:
    return {name: CHECKS[name](state) for name in names}


def ready(checks: dict[str, Check]) -> bool:
    return all(checks[name].ok for name in REQUIRED if name in checks)
