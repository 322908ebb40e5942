"""``POST /analyze``: the forecast and the analyst report (semantic cache first)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from mlflow.exceptions import MlflowException

from agent_graph.facts import FactsError
from agent_graph.service import AnalystService
from serving_api import metrics
from serving_api.deps import AppState, get_state
from serving_api.errors import ApiError, dependency_unavailable
from serving_api.forecasting import Frame, NoDataError, forecast_body, model_id
from serving_api.routes.tasks import accepted
from serving_api.schemas import AnalyzeRequest, AnalyzeResponse, ErrorResponse, TaskAccepted
from stock_assets.domain.serving import NoModelError, ServingModel

router = APIRouter(tags=["agents"])


def get_agents(request: Request) -> AnalystService:
    service = getattr(request.app.state, "agents", None)
    if service is None:
        raise ApiError(503, "agents_unavailable", "The analyst agents are not configured.")
    return service


def forecast_payload(
    state: AppState, ticker: str, serving: ServingModel, frame: Frame
) -> dict[str, Any]:
    """The object ``/predict-child`` answers, through the same Redis cache."""
    key = state.cache.key(ticker, model_id(serving), frame.as_of)
    cached = state.cache.get(key)
    if cached is not None:
        return {"cache_hit": True, **json.loads(cached)}
    result = state.forecasts.forecast(ticker, serving, frame)
    payload = forecast_body(ticker, serving, result)
    state.cache.put(key, json.dumps(payload, separators=(",", ":")))
    return {"cache_hit": False, **payload}


@router.post(
    "/analyze",
    response_model=AnalyzeResponse,
    responses={
        202: {"model": TaskAccepted, "description": "No model yet: a training task started."},
        404: {"model": ErrorResponse, "description": "The market-data provider lacks the ticker."},
        409: {"model": ErrorResponse, "description": "A model exists but no data is stored."},
        422: {"model": ErrorResponse, "description": "Invalid ticker or body."},
        503: {"model": ErrorResponse, "description": "A dependency is unavailable."},
    },
    summary="Forecast + analyst report (LangGraph team; every number checked)",
)
def analyze(body: AnalyzeRequest, request: Request) -> Response:
    """A semantic-cache hit (same ticker, data as-of date and model; a similar question)
    returns the stored report at once (``cache_hit``); otherwise the analyst team writes one
    (local LLM by default, seconds). With no model for the ticker, it is trained first:
    ``202 Accepted`` with a task to follow at ``/status/{task_id}``."""
    state: AppState = get_state(request)
    agents = get_agents(request)
    ticker = body.ticker
    try:
        serving = state.forecasts.serving(ticker)
    except NoModelError:
        task_id, joined = state.tasks.launch(ticker)
        return accepted(request, task_id, ticker, joined, f"{ticker} has no model yet")
    except MlflowException as exc:
        raise dependency_unavailable("MLflow", exc) from exc
    try:
        frame = state.forecasts.frame(ticker)
    except NoDataError as exc:
        raise ApiError(409, "no_data", str(exc)) from exc
    forecast = forecast_payload(state, ticker, serving, frame)
    try:
        analysis = agents.analyze(
            ticker, serving, indicators=frame.data, question=body.question, refresh=body.refresh
        )
    except FactsError as exc:
        raise ApiError(409, "no_data", str(exc)) from exc
    record = analysis.record
    if analysis.cache_status != "ok":
        metrics.REPORT_CACHE.labels("unavailable").inc()
    else:
        metrics.REPORT_CACHE.labels("hit" if analysis.cache_hit else "miss").inc()
    return JSONResponse(
        {
            "ticker": ticker,
            "as_of": record["as_of"],
            "cache_hit": analysis.cache_hit,
            "cache_status": analysis.cache_status,
            "forecast": forecast,
            "report": record["report"],
            "evaluation": record["evaluation"],
        }
    )
