"""The serving API under load, side by side in one run with the two references that bound it:

* a bare ASGI handler (``bench.bare_asgi``) that returns the same cached Redis value under the
  same server: the framework's ceiling for a cache hit on this machine;
* ``mlflow models serve`` on the same champion: what a model server costs per forecast.

    .venv/bin/python -m bench.bench_api [--quick]

A tiny AAPL champion is trained as the onboarding plan makes it (the bootstrap, then AAPL from
data to forecast), then each server runs as in production: ``gunicorn -w 2 -k
uvicorn_worker.UvicornWorker``, Redis under a unique key prefix, rate limits off. Load comes
from wrk (C, one thread, on the same two cores) for throughput and tail latency, and from one
sequential httpx client for the miss and model-server latencies (the same client for both).

Targets (2 cores): a cache miss (the materialized forecast, read when current) at least 5x faster
than ``mlflow models serve``; cache-hit throughput at least 70 % of the bare handler's; cache-hit
p99 <= 10 ms at 2 connections and <= 50 ms at 32.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from stock_assets.domain import layout
from tests.support.platform import train_for_servers
from tests.support.servers import (
    BIN,
    REDIS_URL,
    api_env,
    delete_redis_keys,
    free_port,
    gunicorn_app,
    redis_prefix,
    serving,
)

TICKER = "AAPL"
MODEL_URI = f"models:/stockops-child-{TICKER}@champion"
MISS_SPEEDUP, HIT_SHARE, HIT_P99_LOW_MS, HIT_P99_32_MS = 5.0, 0.70, 10.0, 50.0
FULL = {"wrk_s": 10, "miss_n": 300, "computed_n": 60, "mlflow_n": 300}
QUICK = {"wrk_s": 4, "miss_n": 80, "computed_n": 20, "mlflow_n": 80}


def pct(samples_s: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(samples_s) * 1000, q)), 3)


_WRK_SCRIPT = """wrk.method = "POST"
wrk.body = '{"ticker": "%s"}'
wrk.headers["Content-Type"] = "application/json"
"""


def wrk(url: str, seconds: float, connections: int) -> dict[str, Any]:
    """Cache hits driven by wrk (one thread): requests per second and latency percentiles."""
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed: `make system-packages` (Debian package wrk)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT % TICKER)
    try:
        out = subprocess.run(
            [binary, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s",
             script.name, url],
            capture_output=True, text=True, timeout=seconds + 60, check=True,
        ).stdout  # fmt: skip
    finally:
        Path(script.name).unlink()

    def ms(label: str) -> float | None:
        match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if match is None:
            return None
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
        return round(float(match.group(1)) * scale, 3)

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"connections": connections, "seconds": seconds,
            "rps": float(rps.group(1)) if rps else None,
            "p50_ms": ms("50%"), "p99_ms": ms("99%"),
            "non_2xx": int(errors.group(1)) if errors else 0}  # fmt: skip


def sequential(call: Any, n: int) -> list[float]:
    latencies = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - started)
    return latencies


def measure_api(base: str, prefix: str, data_dir: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    import httpx
    import redis

    out: dict[str, Any] = {}
    body = {"ticker": TICKER}
    with httpx.Client(base_url=base, timeout=30.0) as client:
        first = client.post("/predict-child", json=body)
        assert first.status_code == 200, first.text
        out["first_call_cache_hit"] = first.json()["cache_hit"]
        for _ in range(200):  # both workers load what a hit needs
            client.post("/predict-child", json=body)
        out["hit_2"] = wrk(base + "/predict-child", cfg["wrk_s"], 2)
        out["hit_32"] = wrk(base + "/predict-child", cfg["wrk_s"], 32)

        r = redis.Redis.from_url(REDIS_URL)
        key = next(iter(r.scan_iter(match=f"{prefix}forecast:*")))
        out["cache_key"] = key.decode()

        def miss() -> None:
            r.delete(key)
            response = client.post("/predict-child", json=body)
            if response.status_code != 200 or response.json()["cache_hit"]:
                raise RuntimeError(f"expected a miss: {response.status_code} {response.text[:200]}")

        for _ in range(20):
            miss()  # warm: both workers hold the materialized forecast in memory
        lat = sequential(miss, cfg["miss_n"])
        out["miss"] = {"n": len(lat), "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}
        # A stale forecast (here: none stored) is computed by the model on the request.
        layout.table_path(data_dir / "tables", layout.FORECAST, TICKER).unlink()
        for _ in range(5):
            miss()
        lat = sequential(miss, cfg["computed_n"])
        out["computed"] = {"n": len(lat), "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}
        sources = client.get("/metrics").text
        pattern = r'stockops_api_forecast_source_total\{source="(\w+)"\} (\S+)'
        out["sources"] = dict(re.findall(pattern, sources))
        r.close()
    return out


def measure_mlflow(base: str, tracking_uri: str, n: int) -> dict[str, Any]:
    import httpx
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    info = mlflow.models.get_model_info(MODEL_URI)
    shape = info.signature.inputs.inputs[0].shape  # (-1, lookback, n_features)
    example = np.random.default_rng(0).standard_normal((1, *shape[1:])).astype(np.float32).tolist()
    with httpx.Client(base_url=base, timeout=30.0) as client:
        first = client.post("/invocations", json={"inputs": example})
        if first.status_code != 200:
            raise RuntimeError(f"/invocations: {first.status_code} {first.text[:300]}")
        for _ in range(20):
            client.post("/invocations", json={"inputs": example})
        lat = sequential(
            lambda: client.post("/invocations", json={"inputs": example}).raise_for_status(), n
        )
    return {"n": len(lat), "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    args = parser.parse_args()
    cfg = QUICK if args.quick else FULL

    from bench.common import write_results

    tmp = Path(tempfile.mkdtemp(prefix="stockops-bench-api-"))
    prefix = redis_prefix("bench")
    prom = tmp / "prom"
    prom.mkdir()
    env = api_env(
        tmp, prefix, STOCKOPS_RATE_LIMIT_ENABLED="false", PROMETHEUS_MULTIPROC_DIR=str(prom)
    )
    data_dir = tmp / "data"
    tracking_uri = f"sqlite:///{data_dir.resolve() / 'mlflow' / 'mlflow.db'}"
    extra: dict[str, Any] = {"config": cfg, "quick": args.quick}
    try:
        extra["prepare_s"] = round(train_for_servers(data_dir, Path(env["DAGSTER_HOME"])), 1)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with serving(gunicorn_app(port), env, tmp / "api.log", base + "/health/live"):
            api = measure_api(base, prefix, data_dir, cfg)
        bare_env = {**env, "STOCKOPS_BENCH_KEY": api["cache_key"]}
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with serving(gunicorn_app(port, "bench.bare_asgi:app"), bare_env, tmp / "bare.log", base):
            bare = {
                "hit_2": wrk(base + "/", cfg["wrk_s"], 2),
                "hit_32": wrk(base + "/", cfg["wrk_s"], 32),
            }
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        mlflow_cmd = [
            str(BIN / "mlflow"), "models", "serve", "-m", MODEL_URI, "--env-manager", "local",
            "-h", "127.0.0.1", "-p", str(port),
        ]  # fmt: skip
        mlflow_env = {**env, "MLFLOW_TRACKING_URI": tracking_uri}
        with serving(mlflow_cmd, mlflow_env, tmp / "mlflow.log", base + "/ping"):
            served = measure_mlflow(base, tracking_uri, cfg["mlflow_n"])
    finally:
        delete_redis_keys(prefix)
        shutil.rmtree(tmp, ignore_errors=True)
    extra.update({"api": api, "bare": bare, "mlflow": served})

    speedup = round(served["p50_ms"] / api["miss"]["p50_ms"], 2)
    share = round(api["hit_32"]["rps"] / bare["hit_32"]["rps"], 3)
    figures = [
        {"figure": "cache miss p50: the materialized forecast (sequential, httpx)",
         "value": api["miss"]["p50_ms"], "unit": "ms", "target": "-", "met": None},
        {"figure": "cache miss p99", "value": api["miss"]["p99_ms"], "unit": "ms",
         "target": "-", "met": None},
        {"figure": "mlflow models serve /invocations p50, same model (sequential, httpx)",
         "value": served["p50_ms"], "unit": "ms", "target": "-", "met": None},
        {"figure": "mlflow serve p50 / our miss p50", "value": speedup, "unit": "x",
         "target": f">= {MISS_SPEEDUP:g} x", "met": speedup >= MISS_SPEEDUP},
        {"figure": "stale forecast computed on the request p50 (model inference)",
         "value": api["computed"]["p50_ms"], "unit": "ms", "target": "-", "met": None},
        {"figure": "cache hit throughput, wrk 32 connections",
         "value": api["hit_32"]["rps"], "unit": "req/s", "target": "-", "met": None},
        {"figure": "bare ASGI handler, same Redis value, wrk 32 connections",
         "value": bare["hit_32"]["rps"], "unit": "req/s", "target": "-", "met": None},
        {"figure": "cache hit throughput / bare handler's", "value": share, "unit": "",
         "target": f">= {HIT_SHARE:g}", "met": share >= HIT_SHARE},
        {"figure": "cache hit p99, wrk 2 connections", "value": api["hit_2"]["p99_ms"],
         "unit": "ms", "target": f"<= {HIT_P99_LOW_MS:g} ms",
         "met": api["hit_2"]["p99_ms"] <= HIT_P99_LOW_MS},
        {"figure": "cache hit p99, wrk 32 connections", "value": api["hit_32"]["p99_ms"],
         "unit": "ms", "target": f"<= {HIT_P99_32_MS:g} ms",
         "met": api["hit_32"]["p99_ms"] <= HIT_P99_32_MS},
        {"figure": "bare handler p99, wrk 2 / 32 connections",
         "value": f"{bare['hit_2']['p99_ms']} / {bare['hit_32']['p99_ms']}", "unit": "ms",
         "target": "-", "met": None},
        {"figure": "non-2xx answers under wrk (ours, 2 + 32 connections)",
         "value": api["hit_2"]["non_2xx"] + api["hit_32"]["non_2xx"], "unit": "",
         "target": "0", "met": api["hit_2"]["non_2xx"] + api["hit_32"]["non_2xx"] == 0},
    ]  # fmt: skip
    write_results("api", figures, extra)


if __name__ == "__main__":
    main()
