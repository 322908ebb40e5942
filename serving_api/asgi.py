"""A JSON answer sent at the ASGI level, for the layers that answer before the framework does
(the body-size limit, the cache-hit fast path)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

_JSON = (b"content-type", b"application/json")


async def send_json(
    send: Callable[[dict[str, Any]], Awaitable[None]],
    status: int,
    body: bytes,
    extra: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """``body`` (already JSON) with its status, content type and length, and ``extra`` headers."""
    headers = [_JSON, (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
