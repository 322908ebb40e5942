"""``POST /train-child`` and ``GET /status/{task_id}``: Dagster runs as tasks."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from serving_api.deps import get_state
from serving_api.errors import ApiError
from serving_api.schemas import ErrorResponse, TaskAccepted, TaskStatus, TrainRequest

router = APIRouter(tags=["tasks"])


def accepted(request: Request, task_id: str, ticker: str, joined: bool, why: str) -> JSONResponse:
    """The ``202 Accepted`` answer that points at ``/status/{task_id}``."""
    message = (
        f"{why}: joined the task already running for {ticker}."
        if joined
        else f"{why}: task started; follow it at the status URL."
    )
    body = TaskAccepted(
        task_id=task_id,
        status_url=str(request.url_for("task_status", task_id=task_id)),
        ticker=ticker,
        joined=joined,
        message=message,
    )
    return JSONResponse(body.model_dump(), status_code=202)


@router.post(
    "/train-child",
    status_code=202,
    response_model=TaskAccepted,
    responses={
        404: {"model": ErrorResponse, "description": "The market-data provider lacks the ticker."},
        422: {"model": ErrorResponse, "description": "Invalid ticker, strategy or body."},
        503: {"model": ErrorResponse, "description": "Dagster (webserver) is unavailable."},
    },
    summary="Train the ticker's child model (job ticker_training)",
)
def train_child(body: TrainRequest, request: Request) -> JSONResponse:
    """Launch child training with the given strategy; prerequisites a new ticker lacks (data,
    parent) run first. A request for a ticker already training joins that task."""
    task_id, joined = get_state(request).tasks.launch(body.ticker, body.strategy)
    return accepted(request, task_id, body.ticker, joined, f"Training {body.ticker}")


@router.get(
    "/status/{task_id}",
    name="task_status",
    response_model=TaskStatus,
    responses={404: {"model": ErrorResponse, "description": "Unknown task id."}},
    summary="State, progress and errors of a task (a Dagster run, or a chain of them)",
)
def task_status(task_id: str, request: Request) -> TaskStatus:
    state = get_state(request)
    view = state.tasks.status(task_id)
    if view is None:
        raise ApiError(404, "not_found", f"No task {task_id!r}.")
    links = {"dagster_run": f"{state.settings.dagster_ui_url.rstrip('/')}/runs/{task_id}"}
    if view.ticker:
        links["model"] = str(request.url_for("model_summary", ticker=view.ticker))
        if view.state == "succeeded":
            links["forecast"] = str(request.url_for("predict_child"))
    return TaskStatus(
        task_id=view.task_id,
        ticker=view.ticker,
        state=view.state,  # type: ignore[arg-type]
        job=view.job,
        steps_done=view.steps_done,
        steps_total=view.steps_total,
        progress=view.progress,
        error=view.error,
        runs=view.runs,  # type: ignore[arg-type]
        links=links,
    )
