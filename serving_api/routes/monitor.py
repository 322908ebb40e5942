"""``POST /monitor/{ticker}`` (drift + report evaluation) and ``GET /reports/drift/{ticker}``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from serving_api.deps import get_state
from serving_api.drift import DriftPending
from serving_api.errors import ApiError
from serving_api.routes.tasks import ACCEPTED_HEADERS, accepted
from serving_api.schemas import (
    ErrorResponse,
    MonitorResponse,
    ReportEvaluation,
    TaskAccepted,
    TickerPath,
)
from stock_assets.domain import layout
from stock_assets.domain.symbols import normalize_ticker

router = APIRouter(tags=["monitoring"])


@router.post(
    "/monitor/{ticker}",
    name="monitor",
    response_model=MonitorResponse,
    responses={
        202: {
            "model": TaskAccepted,
            "description": "The drift report is being materialized.",
            "headers": ACCEPTED_HEADERS,
        },
        404: {"model": ErrorResponse, "description": "No model for this ticker."},
        409: {"model": ErrorResponse, "description": "A model exists but no data is stored."},
        422: {"model": ErrorResponse, "description": "Invalid ticker."},
        503: {"model": ErrorResponse, "description": "A dependency is unavailable."},
    },
    summary="Input drift against the serving model's training window, and the report evaluation",
)
def monitor(ticker: TickerPath, request: Request, refresh: bool = False) -> Response:
    """The latest drift report when it matches the serving model and the latest data (200);
    otherwise (or with ``refresh=true``) a ``ticker_drift`` run is launched: ``202`` with a task
    to follow at ``/status/{task_id}``, then ask again. ``report_evaluation`` is the latest agent
    report's evaluation (null before the first report)."""
    symbol = normalize_ticker(ticker)  # invalid: 422 through the error handlers
    answer = request.app.state.drift.monitor(symbol, refresh)
    if isinstance(answer, DriftPending):
        return accepted(request, answer.task, f"{symbol} {answer.reason}")
    drift = {**answer.summary, "report_url": request.url_for("drift_html", ticker=symbol).path}
    try:
        agent = answer.agent_report
        evaluation = ReportEvaluation.model_validate(agent["evaluation"]) if agent else None
    except (KeyError, TypeError, ValueError):
        evaluation = None  # a report file of another shape: no evaluation to show
    body = MonitorResponse(
        ticker=symbol,
        as_of=answer.as_of,
        drift=drift,  # type: ignore[arg-type]
        report_evaluation=evaluation,
    )
    return JSONResponse(body.model_dump())


@router.get(
    "/reports/drift/{ticker}",
    name="drift_html",
    response_class=FileResponse,
    responses={
        200: {"content": {"text/html": {}}, "description": "The Evidently HTML report."},
        404: {"model": ErrorResponse, "description": "No drift report for this ticker."},
        422: {"model": ErrorResponse, "description": "Invalid ticker."},
    },
    summary="The latest Evidently drift report of a ticker (HTML)",
)
def drift_html(ticker: TickerPath, request: Request) -> FileResponse:
    symbol = normalize_ticker(ticker)  # invalid: 422 through the error handlers
    path = layout.drift_html_path(get_state(request).settings.resolved_outputs_dir, symbol)
    if not path.is_file():
        raise ApiError(
            404,
            "no_drift_report",
            f"No rendered drift report for {symbol}: POST /monitor/{symbol} renders one.",
        )
    return FileResponse(path, media_type="text/html")
