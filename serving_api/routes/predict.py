"""``POST /predict-child``: the cached forecast, or a task that trains a model first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from serving_api.deps import get_state
from serving_api.predictions import Pending
from serving_api.routes.tasks import ACCEPTED_HEADERS, accepted
from serving_api.schemas import ErrorResponse, PredictRequest, PredictResponse, TaskAccepted

router = APIRouter(tags=["forecasts"])

# The answers of every route that forecasts a ticker (``/predict-child``, ``/analyze``).
FORECAST_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {
        "model": TaskAccepted,
        "description": "No model yet: the ticker's onboarding started (or was joined).",
        "headers": ACCEPTED_HEADERS,
    },
    404: {"model": ErrorResponse, "description": "The market-data provider lacks the ticker."},
    409: {
        "model": ErrorResponse,
        "description": "A model exists but no data is stored; or the ticker is the index the "
        "parent learns from (it has no model of its own).",
    },
    422: {"model": ErrorResponse, "description": "Invalid ticker or body."},
}


@router.post(
    "/predict-child",
    response_model=PredictResponse,
    responses=FORECAST_RESPONSES,
    summary="7-day forecast from the ticker's champion (an LSTM or the best baseline)",
)
async def predict_child(body: PredictRequest, request: Request) -> Response:
    """Cache first (key: ticker, model version, data as-of date); on a miss the materialized
    forecast is served when current, else the model runs, and the answer is cached. With no
    model for the ticker, it is registered and onboarded: ``202 Accepted`` with a task id to
    follow at ``/status/{task_id}`` (also in ``Location``)."""
    answer = await get_state(request).predictions.predict(body.ticker)
    if isinstance(answer, Pending):
        return accepted(request, answer.task, f"{body.ticker} has no model yet")
    return Response(answer.body(), media_type="application/json")
