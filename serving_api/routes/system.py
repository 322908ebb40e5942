"""``/health`` (with ``/live`` and ``/ready``), ``/metrics`` and ``DELETE /system/reset``."""

from __future__ import annotations

import shutil

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from agent_graph.cache import qdrant_url
from serving_api import health, metrics
from serving_api.deps import get_state, require_admin
from serving_api.schemas import (
    CheckResult,
    ErrorResponse,
    HealthResponse,
    LiveResponse,
    ResetResponse,
)

router = APIRouter(tags=["system"])


def _health(request: Request, names: tuple[str, ...]) -> HealthResponse:
    checks = health.run_checks(get_state(request), names)
    status = "ok" if all(c.ok for c in checks.values()) else "degraded"
    agents = getattr(request.app.state, "agents", None)
    if agents is not None and names == tuple(health.CHECKS):
        # Reported, not judged: the models load in the background after start-up.
        checks["agents"] = health.check_agents(getattr(agents, "warm", "ready"))
    return HealthResponse(
        status=status,
        live=True,
        ready=health.ready(checks),
        checks={
            name: CheckResult(status="ok" if c.ok else "degraded", message=c.message)
            for name, c in checks.items()
        },
    )


@router.get("/health", response_model=HealthResponse, summary="Every dependency, in detail")
def health_overview(request: Request) -> HealthResponse:
    """Always 200 while the process serves: ``status`` says whether every dependency is ready
    (``ok``) or some run on a fallback or are down (``degraded``), ``ready`` what
    ``/health/ready`` answers."""
    return _health(request, tuple(health.CHECKS))


@router.get("/health/live", response_model=LiveResponse, summary="Liveness: the process answers")
async def health_live() -> LiveResponse:
    """200 while the process can answer at all (the Kubernetes liveness probe); no dependency
    is asked, so a Redis or MLflow outage never restarts the API."""
    return LiveResponse(status="ok")


@router.get(
    "/health/ready",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "This pod cannot serve yet."}},
    summary="Readiness: this pod can serve (its data directory is readable)",
)
def health_ready(request: Request) -> JSONResponse:
    """200 when this pod can serve cached and materialized forecasts: it answers and its data
    directory is readable; 503 otherwise, naming what fails (the Kubernetes readiness probe and
    the load balancer's health check). Shared servers (Redis, MLflow, Dagster, Qdrant) are not
    asked: their outage would take every pod out at once; ``/health`` reports them."""
    answer = _health(request, health.REQUIRED)
    return JSONResponse(answer.model_dump(), status_code=200 if answer.ready else 503)


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
