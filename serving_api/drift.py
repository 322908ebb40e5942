"""The ``/monitor`` use case: the drift report of the serving model on the latest data, or the
run that makes a fresh one, and the latest agent report's evaluation."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serving_api.predictions import PredictionService
from serving_api.tasks import TaskHandle, TaskService
from stock_assets import names
from stock_assets.domain.monitoring import read_agent_report, read_drift_summary
from stock_assets.logs import REQUEST_ID

log = logging.getLogger(__name__)
# The drift report's run config when a reader asks for it (the daily refresh renders it only when
# drift is found).
RENDER_HTML = {"ops": {names.DRIFT_REPORT: {"config": {"html": True}}}}


@dataclass(frozen=True)
class DriftAnswer:
    as_of: str
    summary: dict[str, Any]  # the stored summary, without its file path
    agent_report: dict[str, Any] | None


@dataclass(frozen=True)
class DriftPending:
    task: TaskHandle
    reason: str


def stale_reason(summary: dict[str, Any] | None, bundle_version: str, as_of: str) -> str | None:
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


class DriftService:
    def __init__(self, predictions: PredictionService, tasks: TaskService, outputs_dir: Path):
        self.predictions = predictions
        self.tasks = tasks
        self.outputs_dir = outputs_dir

    def monitor(self, ticker: str, refresh: bool) -> DriftAnswer | DriftPending:
        serving, frame = self.predictions.require_model(ticker)
        summary = read_drift_summary(self.outputs_dir, ticker)
        reason = "asked for a fresh drift report" if refresh else None
        reason = reason or stale_reason(summary, serving.bundle.version, frame.as_of)
        if reason is not None or summary is None:
            request_id = REQUEST_ID.get()  # the run carries the id of the request that made it
            tags = {names.REQUEST_ID_TAG: request_id} if request_id else None
            # Someone wants to read it: the run renders Evidently's HTML, drift or not.
            handle = self.tasks.run_job(
                ticker, names.TICKER_DRIFT_JOB, config=RENDER_HTML, tags=tags
            )
            log.info(
                "drift report run %s for %s",
                "joined" if handle.joined else "launched",
                ticker,
                extra={"ticker": ticker, "task_id": handle.task_id, "reason": reason},
            )
            return DriftPending(handle, reason or "has no drift report yet")
        drift = {k: v for k, v in summary.items() if k != "html_path"}
        return DriftAnswer(
            str(summary["as_of"]), drift, read_agent_report(self.outputs_dir, ticker)
        )
