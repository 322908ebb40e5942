"""Sliding-window rate limiting per client (API key, else IP) and per route template.

The window is a Redis sorted set updated by one Lua script (atomic across workers); without
Redis, an in-process window per worker (see :mod:`serving_api.kv`).
"""

from __future__ import annotations

import hashlib
import math

from fastapi import Request

from serving_api import metrics
from serving_api.errors import ApiError
from serving_api.kv import KeyValueStore

# Set in a request's ASGI ``state`` once it is counted in its window.
COUNTED = "stockops_rate_counted"


def client_id(request: Request) -> str:
    """The API key when one is sent (hashed: keys never land in Redis), else the peer IP."""
    return client_key(
        request.headers.get("x-api-key"), request.client.host if request.client else None
    )


def client_key(api_key: str | None, host: str | None) -> str:
    if api_key:
        return "key-" + hashlib.sha256(api_key.encode()).hexdigest()[:16]
    return "ip-" + (host or "unknown")


def route_template(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class RateLimiter:
    def __init__(self, kv: KeyValueStore, limit: int, window_s: float, enabled: bool) -> None:
        self.kv = kv
        self.limit = limit
        self.window_ms = int(window_s * 1000)
        self.enabled = enabled

    async def check(self, request: Request) -> None:
        """Raise 429 with ``Retry-After`` (seconds) when this request exceeds the window. A
        request the fast path already counted (and handed on) is not counted twice."""
        if request.scope.get("state", {}).get(COUNTED):
            return
        refused = await self.refusal(route_template(request), client_id(request))
        if refused is not None:
            raise refused

    async def refusal(self, route: str, client: str) -> ApiError | None:
        """Count one request of ``client`` on ``route``; the 429 to answer when it exceeds the
        window, else None."""
        if not self.enabled:
            return None
        key = self.kv.key("rl", route, client)
        allowed, retry_ms = await self.kv.asliding_window(key, self.window_ms, self.limit)
        if allowed:
            return None
        metrics.RATE_LIMITED.labels(route).inc()
        retry_s = max(1, math.ceil(retry_ms / 1000))
        return ApiError(
            429,
            "rate_limited",
            f"More than {self.limit} requests in {self.window_ms / 1000:g} s on {route}; "
            f"retry in {retry_s} s.",
            headers={"Retry-After": str(retry_s)},
        )
