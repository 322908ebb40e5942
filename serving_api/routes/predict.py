"""``POST /predict-child``: the cached forecast, or a task that trains a model first."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response

from serving_api.deps import AppState, get_state
from serving_api.forecasting import Frame, forecast_body, model_id
from serving_api.routes.tasks import accepted
from serving_api.schemas import ErrorResponse, PredictRequest, PredictResponse, TaskAccepted
from stock_assets.domain.serving import NoModelError, ServingModel

router = APIRouter(tags=["forecasts"])

# The answers of every route that forecasts a ticker (``/predict-child``, ``/analyze``).
FORECAST_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": TaskAccepted, "description": "No model yet: a training task started."},
    404: {"model": ErrorResponse, "description": "The market-data provider lacks the ticker."},
    409: {"model": ErrorResponse, "description": "A model exists but no data is stored."},
    422: {"model": ErrorResponse, "description": "Invalid ticker or body."},
    503: {"model": ErrorResponse, "description": "A dependency is unavailable."},
}


def serving_or_task(
    state: AppState, request: Request, ticker: str
) -> tuple[ServingModel, Frame] | Response:
    """The ticker's serving model and data, or the ``202`` of the task that trains a model
    (MLflow down and missing data become 503 / 409 through the app's error handlers)."""
    try:
        serving = state.forecasts.serving(ticker)
    except NoModelError:
        task_id, joined = state.tasks.launch(ticker)
        return accepted(request, task_id, ticker, joined, f"{ticker} has no model yet")
    return serving, state.forecasts.frame(ticker)


def cached_forecast(
    state: AppState, ticker: str, serving: ServingModel, frame: Frame
) -> tuple[str, bool]:
    """(the forecast as stored JSON text, without the ``cache_hit`` flag; whether it was a
    hit). Cache key: ticker, model, data as-of date; on a miss the model runs and it is cached."""
    key = state.cache.key(ticker, model_id(serving), frame.as_of)
    cached = state.cache.get(key)
    if cached is not None:
        return cached, True
    result = state.forecasts.forecast(ticker, serving, frame)
    body = forecast_body(ticker, serving, result, state.forecasts.evaluation(ticker))
    text = json.dumps(body, separators=(",", ":"))
    state.cache.put(key, text)
    return text, False


@router.post(
    "/predict-child",
    response_model=PredictResponse,
    responses=FORECAST_RESPONSES,
    summary="7-day forecast from the ticker's champion (an LSTM or the best baseline)",
)
def predict_child(body: PredictRequest, request: Request) -> Response:
    """Cache first (key: ticker, model version, data as-of date); on a miss the model runs and
    the answer is cached. With no model for the ticker, the ticker is registered and trained:
    ``202 Accepted`` with a task id to follow at ``/status/{task_id}``."""
    state: AppState = get_state(request)
    found = serving_or_task(state, request, body.ticker)
    if isinstance(found, Response):
        return found
    text, hit = cached_forecast(state, body.ticker, *found)
    # Stored without the flag; prepend it rather than parse and re-serialise (the hot path).
    flag = '{"cache_hit":true,' if hit else '{"cache_hit":false,'
    return Response(flag + text[1:], media_type="application/json")
