"""``POST /monitor/{ticker}`` (drift + report evaluation) and ``GET /reports/drift/{ticker}``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from serving_api.deps import AppState, get_state
from serving_api.errors import ApiError
from serving_api.routes.tasks import accepted
from serving_api.schemas import (
    ErrorResponse,
    MonitorResponse,
    ReportEvaluation,
    TaskAccepted,
    TickerPath,
)
from stock_assets.domain.monitoring import drift_html_path, read_agent_report, read_drift_summary
from stock_assets.domain.serving import NoModelError
from stock_assets.domain.symbols import normalize_ticker
from stock_assets.logs import REQUEST_ID, RUN_REQUEST_TAG

log = logging.getLogger(__name__)
router = APIRouter(tags=["monitoring"])
DRIFT_JOB = "ticker_drift"  # stock_assets.defs.automation.ticker_drift_job


def _stale_reason(summary: dict[str, Any] | None, bundle_version: str, as_of: str) -> str | None:
    """Why the stored drift report cannot answer for the serving model and the latest data."""
    if summary is None:
        return "has no drift report yet"
    if summary.get("bundle_version") != bundle_version:
        return "has a new serving model since its last drift report"
    if summary.get("as_of") != as_of:
        return f"has data up to {as_of}, newer than its drift report ({summary.get('as_of')})"
    if not Path(str(summary.get("html_path", ""))).is_file():
        return "lacks the HTML of its drift report"
    return None


@router.post(
    "/monitor/{ticker}",
    name="monitor",
    response_model=MonitorResponse,
    responses={
        202: {"model": TaskAccepted, "description": "The drift report is being materialized."},
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
    state: AppState = get_state(request)
    symbol = normalize_ticker(ticker)  # invalid: 422 through the error handlers
    try:
        serving = state.forecasts.serving(symbol)
    except NoModelError as exc:
        raise ApiError(
            404, "no_model", f"{exc} Train it first (POST /train-child) to measure drift."
        ) from exc
    frame = state.forecasts.frame(symbol)  # no data: 409 through the app's error handlers
    outputs = state.settings.resolved_outputs_dir
    summary = read_drift_summary(outputs, symbol)
    reason = "asked for a fresh drift report" if refresh else None
    reason = reason or _stale_reason(summary, serving.bundle.version, frame.as_of)
    if reason is not None or summary is None:
        request_id = REQUEST_ID.get()  # the run carries the id of the request that launched it
        tags = {RUN_REQUEST_TAG: request_id} if request_id else None
        task_id, joined = state.tasks.launch_job(symbol, DRIFT_JOB, tags)
        log.info(
            "drift report run %s for %s",
            "joined" if joined else "launched",
            symbol,
            extra={"ticker": symbol, "run_id": task_id, "reason": reason},
        )
        return accepted(request, task_id, symbol, joined, f"{symbol} {reason}")
    drift = {k: v for k, v in summary.items() if k != "html_path"}
    drift["report_url"] = request.url_for("drift_html", ticker=symbol).path
    agent = read_agent_report(outputs, symbol)
    try:
        evaluation = ReportEvaluation.model_validate(agent["evaluation"]) if agent else None
    except (KeyError, TypeError, ValueError):
        evaluation = None  # a report file of another shape: no evaluation to show
    body = MonitorResponse(
        ticker=symbol,
        as_of=str(summary["as_of"]),
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
    path = drift_html_path(get_state(request).settings.resolved_outputs_dir, symbol)
    if not path.is_file():
        raise ApiError(
            404, "no_drift_report", f"No drift report for {symbol} yet: POST /monitor/{symbol}."
        )
    return FileResponse(path, media_type="text/html")
