"""The framework's ceiling on this machine: a bare ASGI handler that answers every request with
the same cached forecast JSON read from Redis, as the API's cache-hit path does, with nothing
else (no routing, validation, auth, rate limiting, middleware or metrics).

    gunicorn -w 2 -k uvicorn_worker.UvicornWorker bench.bare_asgi:app

Reads ``STOCKOPS_BENCH_KEY`` (the cache key to answer with) and ``STOCKOPS_REDIS_URL``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import redis.asyncio as aioredis

from serving_api.asgi import send_json

# As the API runs (STOCKOPS_API_ACCESS_LOG off): no line per request.
logging.getLogger("uvicorn.access").disabled = True

KEY = os.environ.get("STOCKOPS_BENCH_KEY", "")
URL = os.environ.get("STOCKOPS_REDIS_URL", "redis://127.0.0.1:6379/0")
_clients: list[aioredis.Redis] = []  # one, made in the worker's event loop at start-up


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _clients.append(aioredis.Redis.from_url(URL))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for client in _clients:
                    await client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:  # read (and drop) the request body
        message = await receive()
        more = message.get("more_body", False)
    cached: bytes = await _clients[0].get(KEY) or b"{}"
    body = b'{"cache_hit":true,' + cached[1:]
    await send_json(send, 200, body)  # the API's own ASGI-level answer
