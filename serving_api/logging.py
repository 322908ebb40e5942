"""Request ids and JSON logs for the API.

``RequestIdMiddleware`` takes ``X-Request-ID`` from the request (when it is a sane token) or
makes one, puts it in a context variable for the duration of the request, so every log line
written while serving it carries it, and returns it in the response's ``X-Request-ID``. It is a
plain ASGI wrapper (like the metrics middleware): no per-request task or body buffering.
"""

from __future__ import annotations

import logging
import random
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stock_assets.logs import REQUEST_ID, configure_logging
from stock_assets.settings import Settings

HEADER = "x-request-id"
_HEADER_BYTES = HEADER.encode()
HEADER_BYTES = _HEADER_BYTES
# Accept a caller's id only if it is short and plain: it ends up in every log line.
_VALID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")


def setup_logging(settings: Settings) -> None:
    configure_logging(settings.log_format, settings.log_level)
    logging.getLogger("uvicorn.access").disabled = not settings.api_access_log


def _incoming(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == _HEADER_BYTES:
            return value.decode("ascii") if _VALID.match(value) else None
    return None


def request_id(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token, else a new one: 32 hex characters
    from the process's PRNG (an id, not a secret: no system call per request)."""
    return _incoming(scope) or f"{random.getrandbits(128):032x}"


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        token = REQUEST_ID.set(rid)
        header = (_HEADER_BYTES, rid.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
