"""A bounded soak of the serving API on loopback: error rate, p99 over time, memory over time.

    .venv/bin/python -m bench.bench_soak [--minutes 5] [--quick]

Serves the API as in production (gunicorn, 2 uvicorn workers, Redis, Prometheus multiprocess
mode) over a real champion (tiny model sizes, prepared as in ``bench_api``), then drives a steady
mix for a few minutes: forecasts (cache hits, with a cache miss every so often), model info,
ticker list, health, and invalid requests that must answer 4xx. Every window of ``--window-s``
seconds records requests, unexpected answers (any 5xx, or a status the request should not get),
p50/p99 latency and the server's resident memory (gunicorn and its workers). Targets: 0
unexpected answers; the last windows' p99 within 1.5x of the first steady windows'; memory
flat (growth after warm-up under 10%). ``--quick``: 12 seconds in 4-second windows (seconds;
not a measurement).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from typing import Any

import numpy as np

from bench.bench_api import TICKER
from devkit.platform import served_platform
from devkit.servers import REDIS_URL, free_port, gunicorn_app, load_env, serving

P99_DRIFT_MAX = 1.5
MEMORY_GROWTH_MAX_PCT = 10.0
CONCURRENCY = 8

# (weight, method, path, body, expected statuses)
MIX: list[tuple[int, str, str, dict[str, Any] | None, set[int]]] = [
    (70, "POST", "/predict-child", {"ticker": TICKER}, {200}),
    (8, "GET", f"/models/{TICKER}", None, {200}),
    (8, "GET", "/tickers", None, {200}),
    (6, "GET", "/health", None, {200}),
    (4, "POST", "/predict-child", {"ticker": "../etc/passwd"}, {422}),
    (2, "POST", "/predict-child", {"tick": "AAPL"}, {422}),
    (2, "GET", "/status/not-a-task", None, {404}),
]


def rss_mib(pid: int) -> float:
    import psutil

    root = psutil.Process(pid)
    procs = [root, *root.children(recursive=True)]
    return sum(p.memory_info().rss for p in procs) / 2**20


async def soak(
    base: str, prefix: str, server_pid: int, minutes: float, window_s: float
) -> list[dict[str, Any]]:
    import httpx
    import redis

    weights = [m[0] for m in MIX]
    rng = random.Random(0)
    windows: list[dict[str, Any]] = []
    current: dict[str, Any] = {"lat": [], "n": 0, "unexpected": 0, "examples": []}
    deadline = time.perf_counter() + minutes * 60
    r = redis.Redis.from_url(REDIS_URL)

    async with httpx.AsyncClient(base_url=base, timeout=30.0) as client:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                _, method, path, body, expected = rng.choices(MIX, weights)[0]
                t0 = time.perf_counter()
                try:
                    resp = await client.request(method, path, json=body)
                    status = resp.status_code
                except httpx.HTTPError as exc:
                    status, resp = 0, None
                    current["examples"].append(f"{method} {path}: {exc!r}")
                current["lat"].append(time.perf_counter() - t0)
                current["n"] += 1
                if status not in expected:
                    current["unexpected"] += 1
                    if resp is not None and len(current["examples"]) < 5:
                        current["examples"].append(f"{method} {path}: {status} {resp.text[:200]}")

        async def sampler() -> None:
            nonlocal current
            started = time.perf_counter()
            tick = 0
            while time.perf_counter() < deadline:
                await asyncio.sleep(window_s)
                tick += 1
                done, current = current, {"lat": [], "n": 0, "unexpected": 0, "examples": []}
                lat_ms = np.asarray(done["lat"] or [0.0]) * 1000
                windows.append(
                    {
                        "t_s": round(time.perf_counter() - started, 1),
                        "requests": done["n"],
                        "rps": round(done["n"] / window_s, 1),
                        "unexpected": done["unexpected"],
                        "examples": done["examples"],
                        "p50_ms": round(float(np.percentile(lat_ms, 50)), 2),
                        "p99_ms": round(float(np.percentile(lat_ms, 99)), 2),
                        "rss_mib": round(rss_mib(server_pid), 1),
                    }
                )
                w = windows[-1]
                print(
                    f"  t={w['t_s']:>6}s  {w['rps']:>7} req/s  p99 {w['p99_ms']:>7} ms  "
                    f"unexpected {w['unexpected']}  rss {w['rss_mib']} MiB",
                    flush=True,
                )
                if tick % 6 == 0:  # a cache miss now and then: the model runs again
                    keys = list(r.scan_iter(match=f"{prefix}forecast:*", count=500))
                    if keys:
                        r.delete(*keys)

        await asyncio.gather(sampler(), *(worker() for _ in range(CONCURRENCY)))
    r.close()
    return windows


def verdict(windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Figures from the windows; the first window is warm-up (workers load the model)."""
    steady = windows[1:] if len(windows) > 2 else windows
    head, tail = steady[: max(1, len(steady) // 4)], steady[-max(1, len(steady) // 4) :]
    total = sum(w["requests"] for w in windows)
    unexpected = sum(w["unexpected"] for w in windows)
    p99_head = float(np.median([w["p99_ms"] for w in head]))
    p99_tail = float(np.median([w["p99_ms"] for w in tail]))
    mem_start, mem_end = steady[0]["rss_mib"], steady[-1]["rss_mib"]
    growth = 100 * (mem_end - mem_start) / mem_start
    drift = p99_tail / p99_head if p99_head else float("inf")
    return [
        {"figure": "soak requests", "value": total},
        {
            "figure": "soak unexpected answers (5xx or wrong status)",
            "value": unexpected,
            "target": "0",
            "met": unexpected == 0,
        },
        {"figure": "soak p99, first steady windows", "value": round(p99_head, 2), "unit": "ms"},
        {
            "figure": "soak p99, last windows / first",
            "value": round(drift, 2),
            "unit": "x",
            "target": f"<= {P99_DRIFT_MAX}",
            "met": drift <= P99_DRIFT_MAX,
        },
        {
            "figure": "soak server memory growth after warm-up",
            "value": round(growth, 1),
            "unit": "%",
            "target": f"<= {MEMORY_GROWTH_MAX_PCT}",
            "met": growth <= MEMORY_GROWTH_MAX_PCT,
        },
        {"figure": "soak server memory at the end", "value": mem_end, "unit": "MiB"},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--window-s", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="12 seconds")
    args = parser.parse_args()
    minutes, window_s = (0.2, 4.0) if args.quick else (args.minutes, args.window_s)

    from bench.common import write_results

    with (
        served_platform("bench-soak") as (root, trained_s),
        load_env(root, "bench") as (env, prefix),
    ):
        prepared = {"prepare_s": round(trained_s, 1)}
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with serving(gunicorn_app(port), env, root / "gunicorn.log", base + "/health/live") as proc:
            windows = asyncio.run(soak(base, prefix, proc.pid, minutes, window_s))
    figures = verdict(windows)
    write_results(
        "soak",
        figures,
        {"minutes": minutes, "concurrency": CONCURRENCY, "windows": windows, **prepared},
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
