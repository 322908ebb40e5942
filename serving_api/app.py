"""The app factory: ``create_app(settings)`` wires state in a lifespan, routes and middleware.

Run it with ``uvicorn --factory serving_api.app:create_app`` (development) or
``gunicorn -k uvicorn.workers.UvicornWorker 'serving_api.app:create_app()'`` (production); both
read ``STOCKOPS_*`` settings.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

import dagster as dg
from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent_graph.service import AnalystService
from agent_graph.store import reports_dir
from serving_api import metrics
from serving_api.analysis import AnalysisService
from serving_api.body_limit import BodySizeLimitMiddleware
from serving_api.cache import ForecastCache
from serving_api.deps import AppState, rate_limit, require_api_key
from serving_api.drift import DriftService
from serving_api.errors import install_error_handlers
from serving_api.fastpath import CachedForecastFastPath
from serving_api.forecasting import ForecastService
from serving_api.kv import KeyValueStore
from serving_api.logging import RequestIdMiddleware, setup_logging
from serving_api.monitoring import PLATFORM_STATE
from serving_api.parse_lock import serialise_ast_parse
from serving_api.predictions import PredictionService
from serving_api.ratelimit import RateLimiter
from serving_api.routes import analyze, catalog, history, monitor, predict, system, tasks
from serving_api.runs import RunLauncher, launcher_from_settings
from serving_api.schemas import ErrorResponse
from serving_api.tasks import TaskService
from stock_assets.defs.resources import market_data_from_settings
from stock_assets.domain.storage import exclusive_lock
from stock_assets.settings import Settings, get_settings

log = logging.getLogger(__name__)
OFFLINE_ASSETS = Path(str(files("fastapi_offline") / "static"))


def open_instance(settings: Settings) -> dg.DagsterInstance:
    """The Dagster instance the UI and the daemon use: ``DAGSTER_HOME`` from the settings."""
    home = settings.dagster_home or os.environ.get("DAGSTER_HOME") or settings.resolved_dagster_home
    os.environ["DAGSTER_HOME"] = str(home)
    Path(home).mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.get()


class MetricsMiddleware:
    """Request count and latency by route *template* (bounded labels), as a plain ASGI wrapper."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            # The router stored the matched route in the (shared) scope.
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            metrics.REQUESTS.labels(scope["method"], route, str(status)).inc()
            metrics.LATENCY.labels(scope["method"], route).observe(time.perf_counter() - started)


# Answers any route can give, documented on every operation: body too large, a dependency down.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "The request body is too large."},
    503: {"model": ErrorResponse, "description": "A dependency is unavailable, or busy."},
}
# ... those of the rate-limited routes ...
LIMITED_RESPONSES: dict[int | str, dict[str, Any]] = {
    **COMMON_RESPONSES,
    429: {
        "model": ErrorResponse,
        "description": "Rate limited: retry after the Retry-After seconds.",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
}
# ... and, when API keys are configured, of the routes behind them.
GUARDED_RESPONSES: dict[int | str, dict[str, Any]] = {
    **LIMITED_RESPONSES,
    401: {"model": ErrorResponse, "description": "Missing or invalid X-API-Key."},
}


class StockOpsAPI(FastAPI):
    """The FastAPI app with the cache-hit fast path of ``/predict-child`` outside every other
    layer (``serving_api.fastpath``); everything else is FastAPI's own stack."""

    def __init__(self, *, fast_path_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fast_path_bytes = fast_path_bytes

    def build_middleware_stack(self) -> ASGIApp:
        return CachedForecastFastPath(
            super().build_middleware_stack(),
            state=lambda: getattr(self.state, "stockops", None),
            max_bytes=self.fast_path_bytes,
        )


def add_offline_docs(app: FastAPI) -> None:
    """Swagger UI at /docs and ReDoc at /redoc, their scripts and styles served by the API from
    the fastapi-offline package (kept current with both projects): no CDN, they work offline."""
    static = "/static-offline-docs"
    app.mount(static, StaticFiles(directory=str(OFFLINE_ASSETS)), name="static-offline-docs")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2 = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=root + oauth2,
            swagger_js_url=f"{root}{static}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{static}/swagger-ui.css",
            swagger_favicon_url=f"{root}{static}/favicon.png",
        )

    @app.get(oauth2, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{static}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{static}/favicon.png",
            with_google_fonts=False,
        )


def build_state(
    settings: Settings,
    instance: dg.DagsterInstance,
    launcher: RunLauncher | None = None,
    run_config_overrides: dict[str, dict[str, Any]] | None = None,
) -> AppState:
    kv = KeyValueStore(
        settings.redis_url,
        settings.redis_key_prefix,
        settings.redis_timeout_s,
        retry_s=settings.redis_retry_s,
    )
    if not kv.ping():
        log.warning("Redis unavailable at startup: running on the in-process fallback")
    cache = ForecastCache(kv, settings.cache_ttl_s)
    forecasts = ForecastService(settings, on_model_change=cache.invalidate)
    task_service = TaskService(
        settings,
        instance,
        launcher or launcher_from_settings(settings, instance),
        kv,
        provider=lambda: market_data_from_settings(settings).provider(),
        run_config_overrides=run_config_overrides,
    )
    limiter = RateLimiter(
        kv, settings.rate_limit_requests, settings.rate_limit_window_s, settings.rate_limit_enabled
    )
    predictions = PredictionService(forecasts, cache, task_service)
    return AppState(settings, instance, kv, cache, forecasts, task_service, predictions, limiter)


def _warm_up(analysts: AnalystService) -> None:
    try:
        analysts.warm_up()
    except Exception as exc:  # the request path reports a real failure; this only logs it
        log.warning("agents warm-up failed: %s", exc)
    finally:
        gc.freeze()  # what the warm-up loaded stays out of every later collection too


def _freeze_heap() -> None:
    """Move what start-up allocated (Dagster, MLflow, torch, pandas: millions of objects) out of
    the garbage collector's reach: under load, a full collection over all of it stalled every
    request of a worker for hundreds of milliseconds. Objects made later are collected as usual."""
    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings | None = None,
    *,
    instance: dg.DagsterInstance | None = None,
    launcher: RunLauncher | None = None,
    run_config_overrides: dict[str, dict[str, Any]] | None = None,
    agents: AnalystService | None = None,
) -> FastAPI:
    """A configured app. ``instance``/``launcher``/``run_config_overrides``/``agents`` serve
    tests and embedding (e.g. tiny model sizes); by default everything comes from ``settings``."""
    settings = settings or get_settings()
    if settings.api_keys_required and not settings.api_keys:
        raise ValueError(
            "STOCKOPS_API_KEYS_REQUIRED is set but STOCKOPS_API_KEYS is empty: refusing to serve "
            "an open API. Set the keys (comma-separated) or unset the requirement."
        )
    setup_logging(settings)  # JSON lines with request ids (STOCKOPS_LOG_FORMAT)
    serialise_ast_parse()  # runs, requests and the warm-up import libraries on threads at once
    # Built here, not on first use: an LLM misconfiguration (unknown provider, missing key)
    # stops the start-up with its message instead of failing requests later.
    analysts = agents or AnalystService(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_instance = instance is None
        # Several workers starting on an empty data dir would each create (and migrate) the
        # Dagster and MLflow SQLite stores at once; one at a time, the later ones find them.
        with exclusive_lock(settings.resolved_data_dir / ".api-startup.lock"):
            dagster_instance = instance or open_instance(settings)
            state = build_state(settings, dagster_instance, launcher, run_config_overrides)
            if settings.resolved_mlflow_tracking_uri.startswith("sqlite:"):
                _ = state.forecasts.tracker  # creates the local MLflow store under the lock
        app.state.stockops = state
        app.state.agents = analysts
        app.state.analysis = AnalysisService(state.predictions, analysts)
        app.state.drift = DriftService(
            state.predictions, state.tasks, settings.resolved_outputs_dir
        )
        # The local LLM and the embedder load in the background (seconds; the first time on a
        # machine the GGUF is also converted), so the first /analyze finds them ready; a request
        # that comes sooner waits for the load, as it would have done it itself.
        threading.Thread(
            target=_warm_up, args=(analysts,), name="agents-warm-up", daemon=True
        ).start()
        metrics.REPORT_EVALUATIONS.folder = reports_dir(settings)
        PLATFORM_STATE.bind(settings.resolved_outputs_dir, settings.tables_dir, dagster_instance)
        state.tasks.start()  # the pump driving plans when no daemon runs
        _freeze_heap()
        try:
            yield
        finally:
            if agents is None:
                analysts.close()
            PLATFORM_STATE.unbind(dagster_instance)
            state.tasks.close()
            await state.kv.aclose()
            state.kv.close()
            if own_instance:
                dagster_instance.dispose()

    app = StockOpsAPI(
        title="StockOps API",
        version="0.1.0",
        description="7-day stock forecasts from per-ticker LSTM models trained by Dagster; "
        "on-demand training for new tickers, task status, model quality, metrics.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # Metrics are Prometheus' (/metrics); FastAPI's native OpenTelemetry stays off.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        fast_path_bytes=settings.max_request_bytes,
    )
    add_offline_docs(app)
    install_error_handlers(app)
    # The OpenAPI document says what this deployment asks for: the X-API-Key scheme (and its
    # 401) only where keys are configured; without them the API is open and says so.
    keys = bool(settings.api_keys)
    api = [Depends(require_api_key), Depends(rate_limit)] if keys else [Depends(rate_limit)]
    for router in (predict, tasks, catalog, analyze, history, monitor):
        app.include_router(
            router.router,
            dependencies=api,
            responses=GUARDED_RESPONSES if keys else LIMITED_RESPONSES,
        )
    app.include_router(system.router, responses=COMMON_RESPONSES)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Content-Type", "X-API-Key", "X-Admin-Token", "X-Request-ID"],
        expose_headers=["X-Request-ID"],
    )
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(MetricsMiddleware)
    # Outermost: every response, errors and 429s included, carries its X-Request-ID.
    app.add_middleware(RequestIdMiddleware)
    return app
