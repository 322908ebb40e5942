"""``POST /analyze``: the forecast and the analyst report (semantic cache first)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from agent_graph.facts import FactsError
from agent_graph.service import AnalystService
from serving_api import metrics
from serving_api.deps import AppState, get_state
from serving_api.errors import ApiError
from serving_api.routes.predict import FORECAST_RESPONSES, cached_forecast, serving_or_task
from serving_api.schemas import AnalyzeRequest, AnalyzeResponse

router = APIRouter(tags=["agents"])


def get_agents(request: Request) -> AnalystService:
    service = getattr(request.app.state, "agents", None)
    if service is None:
        raise ApiError(503, "agents_unavailable", "The analyst agents are not configured.")
    return service


@router.post(
    "/analyze",
    response_model=AnalyzeResponse,
    responses=FORECAST_RESPONSES,
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
    found = serving_or_task(state, request, ticker)
    if isinstance(found, Response):
        return found
    serving, frame = found
    text, hit = cached_forecast(state, ticker, serving, frame)
    forecast = {"cache_hit": hit, **json.loads(text)}
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
