"""Request body size limit, as a plain ASGI wrapper (cheap on the hot path).

A declared ``Content-Length`` over the limit is refused before the body is read (the server
holds a body to its declared length); a body without one (chunked) is read here up to the limit,
refused past it, else handed on whole. Either way the answer is the
API's JSON error shape with 413, and the route never sees the body.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving_api.asgi import send_json
from serving_api.errors import error_body

_WITH_BODY = {"POST", "PUT", "PATCH", "DELETE"}


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send) -> None:
        message = f"The request body is larger than {self.max_bytes} bytes."
        body = json.dumps(error_body("payload_too_large", message)).encode()
        await send_json(send, 413, body, [(b"connection", b"close")])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: int | None = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1  # malformed: refuse rather than guess
                break
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        if declared is None and scope["method"] in _WITH_BODY:
            # No declared length (chunked): read it here, bounded, then hand it on whole.
            buffered, more = await self._read_bounded(receive)
            if buffered is None:
                await self._refuse(send)
                return
            receive = self._replay(buffered, more, receive)
        await self.app(scope, receive, send)

    async def _read_bounded(self, receive: Receive) -> tuple[bytes | None, bool]:
        """The whole body, or None once it passes the limit (the rest is left unread)."""
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return b"".join(parts), False
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None, False
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts), False

    @staticmethod
    def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": more}
            return await receive()  # e.g. http.disconnect while the route runs

        return replay
