"""The cache-hit fast path of ``POST /predict-child``: the outermost ASGI layer of the app.

A cache hit is one Redis GET, and a miss whose forecast is materialized and current one more SET
(made once the answer is sent: the client waits for one round trip, not two); the framework
around them (middleware, routing, dependency resolution, model validation,
exception handling) cost several times that on two cores. This layer answers both itself
(``PredictionService.from_memory``, the route's own first step), by the same rules and with the
same code as the route: the body must be exactly ``{"ticker": <symbol>}`` (checked by
``normalize_ticker``, the request model's own validator), the API key is checked
(``api_key_refusal``) and the request counted in the rate-limit window (``RateLimiter.refusal``)
as the route's dependencies do, the answer is the cached JSON with ``cache_hit`` set as the route
writes it, and it carries an ``X-Request-ID`` and is counted in the request metrics as every
answer is.

Anything else goes on to the framework untouched, with the body this layer read: another path
or method, a body of another shape or over the size limit, a browser request (``Origin``), no
serving model, data or materialized forecast in memory yet. Every other answer, error and header
comes from the route, as documented.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving_api import metrics
from serving_api.asgi import send_json
from serving_api.deps import api_key_refusal
from serving_api.errors import ApiError, error_body
from serving_api.logging import HEADER_BYTES, request_id
from serving_api.ratelimit import COUNTED, client_key
from stock_assets.domain.symbols import InvalidTickerError, normalize_ticker

if TYPE_CHECKING:
    from serving_api.deps import AppState
    from serving_api.predictions import Served

PATH = "/predict-child"


class CachedForecastFastPath:
    def __init__(self, app: ASGIApp, state: Callable[[], AppState | None], max_bytes: int) -> None:
        self.app = app
        self.state = state
        self.max_bytes = max_bytes
        self._latency = metrics.LATENCY.labels("POST", PATH)
        self._answered = {200: metrics.REQUESTS.labels("POST", PATH, "200")}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        state = self.state()
        if state is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        body, receive = await self._read_body(receive)
        headers = dict(scope.get("headers") or ())
        answer = None
        if body is not None and b"origin" not in headers:
            answer = await self._answer(state, scope, headers, body)
        if answer is None:
            await self.app(scope, receive, send)
            return
        status, payload, extra, served = answer
        await send_json(send, status, payload, [(HEADER_BYTES, request_id(scope).encode()), *extra])
        counter = self._answered.get(status)
        if counter is None:
            counter = self._answered[status] = metrics.REQUESTS.labels("POST", PATH, str(status))
        counter.inc()
        self._latency.observe(time.perf_counter() - started)
        if served is not None:
            await state.predictions.save(served)  # a miss: cached once the client has it

    async def _answer(
        self, state: AppState, scope: Scope, headers: dict[bytes, bytes], body: bytes
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]], Served | None] | None:
        """A forecast from memory (or the 401 / 429 the route's dependencies would answer
        first) and what it served; None to let the route answer."""
        ticker = _ticker(body)
        if ticker is None:
            return None
        given = headers.get(b"x-api-key")
        api_key = given.decode("latin-1") if given is not None else None
        refused = api_key_refusal(state.settings.api_keys, api_key)
        if refused is None:
            client = scope.get("client")
            refused = await state.limiter.refusal(PATH, client_key(api_key, client and client[0]))
            scope.setdefault("state", {})[COUNTED] = True  # the route must not count it again
        if refused is not None:
            return (*_error(refused), None)
        served = await state.predictions.from_memory(ticker)
        return (200, served.body(), [], served) if served is not None else None

    async def _read_body(self, receive: Receive) -> tuple[bytes | None, Receive]:
        """The body (None when it is over the limit: the size layer inside then refuses it),
        and a ``receive`` that hands what was read on to the framework."""
        parts: list[bytes] = []
        size = 0
        more = True
        while more and size <= self.max_bytes:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            parts.append(chunk)
            size += len(chunk)
            more = message.get("more_body", False)
        read = b"".join(parts)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": read, "more_body": more}
            return await receive()

        return (None if more or size > self.max_bytes else read), replay


# Body bytes -> what _parse makes of them. The same few short bodies arrive again and again, and
# parsing and validating one costs more than the dictionary look-up that replaces it.
_PARSED: dict[bytes, str | None] = {}
_PARSED_MAX_BODY, _PARSED_MAX_ENTRIES = 64, 4096


def _ticker(body: bytes) -> str | None:
    """The ticker of a body that is exactly ``{"ticker": "<valid symbol>"}``, else None."""
    try:
        return _PARSED[body]
    except KeyError:
        pass
    ticker = _parse(body)
    if len(body) <= _PARSED_MAX_BODY:
        if len(_PARSED) >= _PARSED_MAX_ENTRIES:
            _PARSED.clear()
        _PARSED[body] = ticker
    return ticker


def _parse(body: bytes) -> str | None:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict) or set(payload) != {"ticker"}:
        return None
    raw = payload["ticker"]
    if not isinstance(raw, str):
        return None
    try:
        return normalize_ticker(raw)
    except InvalidTickerError:
        return None


def _error(error: ApiError) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    extra = [(k.lower().encode(), v.encode()) for k, v in (error.headers or {}).items()]
    return error.status, json.dumps(error_body(error.code, error.message)).encode(), extra
