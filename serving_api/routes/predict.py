"""``POST /predict-child``: the cached forecast, or a task that trains a model first."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from mlflow.exceptions import MlflowException

from serving_api.deps import AppState, get_state
from serving_api.errors import ApiError, dependency_unavailable
from serving_api.forecasting import NoDataError, forecast_body, model_id
from serving_api.routes.tasks import accepted
from serving_api.schemas import ErrorResponse, PredictRequest, PredictResponse, TaskAccepted
from stock_assets.domain.serving import NoModelError

router = APIRouter(tags=["forecasts"])


@router.post(
    "/predict-child",
    response_model=PredictResponse,
    responses={
        202: {"model": TaskAccepted, "description": "No model yet: a training task started."},
        404: {"model": ErrorResponse, "description": "The market-data provider lacks the ticker."},
        409: {"model": ErrorResponse, "description": "A model exists but no data is stored."},
        422: {"model": ErrorResponse, "description": "Invalid ticker or body."},
        503: {"model": ErrorResponse, "description": "A dependency is unavailable."},
    },
    summary="7-day forecast from the ticker's serving (champion) child model",
)
def predict_child(body: PredictRequest, request: Request) -> Response:
    """Cache first (key: ticker, model version, data as-of date); on a miss the model runs and
    the answer is cached. With no model for the ticker, the ticker is registered and trained:
    ``202 Accepted`` with a task id to follow at ``/status/{task_id}``."""
    state: AppState = get_state(request)
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
    key = state.cache.key(ticker, model_id(serving), frame.as_of)
    cached = state.cache.get(key)
    if cached is not None:
        # Stored without the flag; prepend it rather than parse and re-serialise (the hot path).
        return Response('{"cache_hit":true,' + cached[1:], media_type="application/json")
    result = state.forecasts.forecast(ticker, serving, frame)
    payload = forecast_body(ticker, serving, result)
    text = json.dumps(payload, separators=(",", ":"))
    state.cache.put(key, text)
    return JSONResponse({"cache_hit": False, **payload})
