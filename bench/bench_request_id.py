"""What the request-id middleware adds to every request (the /predict-child cache hit included).

The same minimal ASGI app, wrapped by the metrics middleware as in production, is called
directly (no sockets, so only the middleware's own work differs) with and without the request-id
middleware, in alternating rounds; the difference per request is set against the server CPU of
one cache hit measured by ``bench.bench_api`` (its committed result: the machine's cores over the
cache-hit throughput at 32 connections, an upper bound).

    .venv/bin/python -m bench.bench_request_id [--requests 20000] [--quick]

``--quick``: 500 requests, two rounds (seconds; not a measurement).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from bench.common import results_dir, write_results
from serving_api.app import MetricsMiddleware
from serving_api.logging import RequestIdMiddleware

SCOPE = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/predict-child",
    "raw_path": b"/predict-child",
    "query_string": b"",
    "root_path": "",
    "headers": [(b"content-type", b"application/json")],
    "client": ("127.0.0.1", 1),
    "server": ("127.0.0.1", 8000),
}
HIT_THROUGHPUT = "cache hit throughput, wrk 32 connections"


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


def cache_hit_cpu_ms() -> float | None:
    """Server CPU per cache hit from the API benchmark's result: cores / requests per second."""
    path = results_dir() / "api.json"
    if not path.exists():
        return None
    api = json.loads(path.read_text())
    (rps,) = [f["value"] for f in api["figures"] if f["figure"].startswith(HIT_THROUGHPUT)]
    return float(api["machine"]["cpu_count"]) / float(rps) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="500 requests, two rounds")
    args = parser.parse_args()
    requests, rounds = (500, 2) if args.quick else (args.requests, args.rounds)
    base = MetricsMiddleware(_app())
    with_id = RequestIdMiddleware(MetricsMiddleware(_app()))
    asyncio.run(_run(with_id, min(2000, requests)))  # warm-up
    plain, ided = [], []
    for _ in range(rounds):
        plain.append(asyncio.run(_run(base, requests)))
        ided.append(asyncio.run(_run(with_id, requests)))
    p, r = statistics.median(plain), statistics.median(ided)
    added = r - p
    hit_ms = cache_hit_cpu_ms()
    share = added / (hit_ms * 1000) * 100 if hit_ms else None
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
                "met": share < 2 if share is not None else None,
            },
            {
                "figure": f"added, as a share of a cache hit's server CPU ({hit_ms or 0:.3f} ms, "
                "from the API benchmark)",
                "value": round(share, 2) if share is not None else "no API result",
                "unit": "%",
            },
        ],
        {"requests_per_round": requests, "rounds": rounds, "cache_hit_cpu_ms": hit_ms},
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
