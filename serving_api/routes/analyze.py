"""``POST /analyze``: the forecast and the analyst report (semantic cache first)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from serving_api.predictions import Pending
from serving_api.routes.predict import FORECAST_RESPONSES
from serving_api.routes.tasks import accepted
from serving_api.schemas import AnalyzeRequest, AnalyzeResponse

router = APIRouter(tags=["agents"])


@router.post(
    "/analyze",
    response_model=AnalyzeResponse,
    responses=FORECAST_RESPONSES,
    summary="Forecast + analyst report (LangGraph team; every number checked)",
)
def analyze(body: AnalyzeRequest, request: Request) -> Response:
    """A semantic-cache hit (same ticker, data as-of date and model; a similar question)
    returns the stored report at once (``cache_hit``); otherwise the analyst team writes one
    (local LLM by default, seconds). With no model for the ticker, it is onboarded first:
    ``202 Accepted`` with a task to follow at ``/status/{task_id}``."""
    answer = request.app.state.analysis.analyze(body.ticker, body.question, body.refresh)
    if isinstance(answer, Pending):
        return accepted(request, answer.task, f"{body.ticker} has no model yet")
    return JSONResponse(answer)
