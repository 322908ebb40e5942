"""``GET /health``, ``GET /metrics`` and ``DELETE /system/reset``."""

from __future__ import annotations

import shutil

import httpx
from fastapi import APIRouter, Depends, Request, Response

from agent_graph.cache import qdrant_url
from serving_api import metrics
from serving_api.deps import AppState, get_state, require_admin
from serving_api.schemas import CheckResult, ErrorResponse, HealthResponse, ResetResponse
from stock_assets.domain.redact import redact_url

router = APIRouter(tags=["system"])


def _check_redis(state: AppState) -> CheckResult:
    if state.kv.ping():
        return CheckResult(status="ok", message=f"Redis at {state.kv.url}")
    return CheckResult(
        status="degraded",
        message=f"Redis at {state.kv.url} unreachable ({state.kv.last_error}): cache, rate "
        "limits and locks use the in-process fallback (per worker).",
    )


def _check_dagster(state: AppState) -> CheckResult:
    try:
        state.instance.get_runs(limit=1)
    except Exception as exc:
        return CheckResult(status="degraded", message=f"Dagster instance: {exc}")
    launcher = state.tasks.launcher
    url = state.settings.dagster_graphql_url
    if url:
        try:
            httpx.get(url.rsplit("/graphql", 1)[0] + "/server_info", timeout=2.0)
        except httpx.HTTPError as exc:
            return CheckResult(status="degraded", message=f"Dagster webserver at {url}: {exc}")
    return CheckResult(status="ok", message=f"Dagster instance reachable; {launcher.name} launcher")


def _check_mlflow(state: AppState) -> CheckResult:
    try:
        state.forecasts.tracker.client.search_experiments(max_results=1)
    except Exception as exc:
        return CheckResult(status="degraded", message=f"MLflow: {exc}")
    where = redact_url(state.forecasts.tracker.tracking_uri)
    return CheckResult(status="ok", message=f"MLflow at {where}")


def _check_qdrant(state: AppState) -> CheckResult:
    url = qdrant_url(state.settings)
    if url:
        where = redact_url(url)
        try:
            httpx.get(url.rstrip("/") + "/readyz", timeout=2.0).raise_for_status()
        except httpx.HTTPError as exc:
            return CheckResult(status="degraded", message=f"Qdrant server at {where}: {exc}")
        return CheckResult(status="ok", message=f"Qdrant server at {where}")
    path = state.settings.resolved_qdrant_path
    note = "" if path.exists() else " (not created yet)"
    return CheckResult(status="ok", message=f"Qdrant local mode at {path}{note}")


@router.get("/health", response_model=HealthResponse, summary="Liveness and readiness")
def health(request: Request) -> HealthResponse:
    """Always 200 while the process serves (liveness); ``status`` says whether every dependency
    is ready (``ok``) or some run on a fallback or are down (``degraded``)."""
    state = get_state(request)
    checks = {
        "redis": _check_redis(state),
        "dagster": _check_dagster(state),
        "mlflow": _check_mlflow(state),
        "qdrant": _check_qdrant(state),
    }
    overall = "ok" if all(c.status == "ok" for c in checks.values()) else "degraded"
    return HealthResponse(status=overall, live=True, checks=checks)


@router.get("/metrics", summary="Prometheus exposition", response_class=Response)
def prometheus_metrics(request: Request) -> Response:
    content, content_type = metrics.exposition(str(get_state(request).settings.resolved_data_dir))
    return Response(content, media_type=content_type)


@router.delete(
    "/system/reset",
    response_model=ResetResponse,
    dependencies=[Depends(require_admin)],
    responses={
        401: {"model": ErrorResponse, "description": "Missing admin token."},
        403: {"model": ErrorResponse, "description": "Wrong admin token (or none configured)."},
    },
    summary="Delete this app's Redis keys, the local Qdrant folder and in-process caches",
)
def reset(request: Request) -> ResetResponse:
    """Only keys under ``STOCKOPS_REDIS_KEY_PREFIX`` go (SCAN + DEL, never FLUSHALL): the Redis
    may be shared. Models, data and Dagster history are not touched."""
    state = get_state(request)
    deleted = state.kv.delete_matching(state.kv.prefix + "*")
    paths: list[str] = []
    agents = getattr(request.app.state, "agents", None)
    if agents is not None:
        paths += agents.reset()  # the report collection and stored reports
        agents.close()  # release the local Qdrant folder before it is deleted
    qdrant = state.settings.resolved_qdrant_path
    if not qdrant_url(state.settings) and qdrant.exists():
        shutil.rmtree(qdrant)
        paths.append(str(qdrant))
    state.forecasts.forget()
    return ResetResponse(redis_keys_deleted=len(deleted), paths_deleted=paths)
