"""What the request-id middleware adds to every request (the /predict-child cache hit included).

The same minimal ASGI app, wrapped by the metrics middleware as in production, is called
directly (no sockets, so only the middleware's own work differs) with and without the request-id
middleware, in alternating rounds; the difference per request is set against the measured server
CPU of one cache hit (bench/results/api.json, ~1.1 ms).

    .venv/bin/python -m bench.bench_request_id [--requests 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from bench.common import write_results
from serving_api.app import MetricsMiddleware
from serving_api.logging import RequestIdMiddleware

SCOPE = {
    "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
    "scheme": "http", "path": "/predict-child", "raw_path": b"/predict-child", "query_string": b"",
    "root_path": "", "headers": [(b"content-type", b"application/json")],
    "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000),
}  # fmt: skip
CACHE_HIT_CPU_MS = 1.115  # bench/results/api.json: server CPU per cache hit


def _app() -> Starlette:
    async def hit(_request: object) -> Response:
        return Response(b'{"cache_hit":true}', media_type="application/json")

    return Starlette(routes=[Route("/predict-child", hit, methods=["POST"])])


async def _run(app: object, n: int) -> float:
    async def receive() -> dict:
        return {"type": "http.request", "body": b'{"ticker":"AAPL"}', "more_body": False}

    async def send(_message: dict) -> None:
        return None

    started = time.perf_counter()
    for _ in range(n):
        await app(dict(SCOPE), receive, send)  # type: ignore[operator]
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    base = MetricsMiddleware(_app())
    with_id = RequestIdMiddleware(MetricsMiddleware(_app()))
    asyncio.run(_run(with_id, 2000))  # warm-up
    plain, ided = [], []
    for _ in range(args.rounds):
        plain.append(asyncio.run(_run(base, args.requests)))
        ided.append(asyncio.run(_run(with_id, args.requests)))
    p, r = statistics.median(plain), statistics.median(ided)
    added = r - p
    share = added / (CACHE_HIT_CPU_MS * 1000) * 100
    write_results(
        "request_id",
        [
            {
                "figure": "ASGI call, metrics middleware only (median of rounds)",
                "value": round(p, 1),
                "unit": "us",
            },
            {"figure": "ASGI call, + request-id middleware", "value": round(r, 1), "unit": "us"},
            {
                "figure": "added per request",
                "value": round(added, 1),
                "unit": "us",
                "target": "< 2% of a cache hit's server CPU",
                "met": share < 2,
            },
            {
                "figure": "added, as a share of a cache hit's server CPU (1.115 ms)",
                "value": round(share, 2),
                "unit": "%",
            },
        ],
        {"requests_per_round": args.requests, "rounds": args.rounds},
    )


if __name__ == "__main__":
    main()
