"""``POST /train-child`` and ``GET /status/{task_id}``: tasks, as Dagster carries them out."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from serving_api.deps import get_state
from serving_api.errors import ApiError
from serving_api.schemas import ErrorResponse, TaskAccepted, TaskStatus, TrainRequest
from serving_api.tasks import TaskHandle
from stock_assets import names

router = APIRouter(tags=["tasks"])
# How soon a client following a task should ask again (the Retry-After of a 202).
POLL_AFTER_S = 2

ACCEPTED_HEADERS = {
    "Location": {"description": "The task's status URL.", "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds before asking again.", "schema": {"type": "integer"}},
}


def accepted(request: Request, handle: TaskHandle, why: str) -> JSONResponse:
    """The ``202 Accepted`` answer: the task, and where to follow it (also in ``Location``)."""
    status_url = str(request.url_for("task_status", task_id=handle.task_id))
    runs = f"{handle.runs} run{'s' if handle.runs != 1 else ''}"
    message = (
        f"{why}: joined the task already under way for {handle.ticker}."
        if handle.joined
        else f"{why}: task started ({runs}); follow it at the status URL."
    )
    body = TaskAccepted(
        task_id=handle.task_id,
        status_url=status_url,
        ticker=handle.ticker,
        joined=handle.joined,
        message=message,
    )
    return JSONResponse(
        body.model_dump(),
        status_code=202,
        headers={"Location": status_url, "Retry-After": str(POLL_AFTER_S)},
    )


@router.post(
    "/train-child",
    status_code=202,
    response_model=TaskAccepted,
    responses={
        202: {"description": "The training task (started or joined).", "headers": ACCEPTED_HEADERS},
        404: {"model": ErrorResponse, "description": "The market-data provider lacks the ticker."},
        409: {"model": ErrorResponse, "description": "The index: it has no model of its own."},
        422: {"model": ErrorResponse, "description": "Invalid ticker, strategy or body."},
    },
    summary="Train the ticker's child model (a new ticker is onboarded with this strategy)",
)
def train_child(body: TrainRequest, request: Request) -> JSONResponse:
    """A ticker with a forecast gets one training run with the given strategy (the promotion
    policy then decides what serves); a new ticker is onboarded with it. A request for a ticker
    already training joins that task."""
    handle = get_state(request).tasks.train(body.ticker, body.strategy)
    return accepted(request, handle, f"Training {body.ticker}")


@router.get(
    "/status/{task_id}",
    name="task_status",
    response_model=TaskStatus,
    responses={404: {"model": ErrorResponse, "description": "Unknown task id."}},
    summary="State, progress and errors of a task (a ticker's onboarding, or one run)",
)
def task_status(task_id: str, request: Request) -> TaskStatus:
    state = get_state(request)
    task = state.tasks.status(task_id)
    if task is None:
        raise ApiError(404, "not_found", f"No task {task_id!r}.")
    view = task.view
    ui = state.settings.dagster_ui_url.rstrip("/")
    runs_of_task = urlencode({"q[0]": f"tag:{names.TASK_TAG}={task_id}"})
    links = {"dagster_runs": f"{ui}/runs?{runs_of_task}"}
    if view.runs:
        links["dagster_run"] = f"{ui}/runs/{view.runs[-1]['run_id']}"
    links["model"] = str(request.url_for("model_summary", ticker=task.ticker))
    if view.state == "succeeded":
        links["forecast"] = str(request.url_for("predict_child"))
    return TaskStatus(
        task_id=task.task_id,
        ticker=task.ticker,
        state=view.state,
        job=view.job,
        steps_done=view.steps_done,
        steps_total=view.steps_total,
        progress=view.progress,
        error=view.error,
        runs=view.runs,  # type: ignore[arg-type]
        links=links,
    )
