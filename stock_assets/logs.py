"""Structured logs: one JSON object per line, the same shape from the API, runs, CLI and agents.

``configure_logging(settings)`` installs the formatter on the root logger (and uvicorn's); every
record then carries the current request id (set by the API's request-id middleware) or run id
when there is one, and any ``extra={...}`` fields. ``STOCKOPS_LOG_FORMAT=text`` keeps plain lines
for a terminal.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from stock_assets.names import REQUEST_ID_TAG

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "stockops_request_id", default=None
)
# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is logged.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_HANDLER_MARK = "_stockops_handler"
# Dagster's own record attributes: summarised by _add_dagster_context, not dumped whole.
_SKIP = ("_", "dagster_")
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "request_id"?, ...extra, "exception"?}``."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            payload["request_id"] = request_id
        _add_dagster_context(payload, record)
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in payload and not key.startswith(_SKIP):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, separators=(",", ":"))


def _add_dagster_context(payload: dict[str, Any], record: logging.LogRecord) -> None:
    """Dagster run logs: the plain message, the run, job and step, and the id of the API
    request that launched the run (tag ``stockops/request_id``), if any."""
    meta = record.__dict__.get("dagster_meta")
    if not isinstance(meta, dict):
        return
    payload["message"] = meta.get("orig_message") or payload["message"]
    for key in ("run_id", "job_name", "step_key"):
        if meta.get(key):
            payload[key] = meta[key]
    request_id = (meta.get("job_tags") or {}).get(REQUEST_ID_TAG)
    if request_id and "request_id" not in payload:
        payload["request_id"] = request_id
    event = record.__dict__.get("dagster_event")
    if event is not None:
        payload["event"] = getattr(event, "event_type_value", str(event))


class _RequestIdFilter(logging.Filter):
    """Gives text lines a ``request_id`` too (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get() or "-"
        return True


def make_handler(fmt: str = "json", stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.addFilter(_RequestIdFilter())
        handler.setFormatter(logging.Formatter(_TEXT_FORMAT))
    setattr(handler, _HANDLER_MARK, True)
    return handler


def configure_logging(fmt: str = "json", level: str = "INFO", stream: Any = None) -> None:
    """Idempotent: replaces only the handler this function installed before."""
    handler = make_handler(fmt, stream)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn installs its own text handlers; route its error and access lines through ours.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
