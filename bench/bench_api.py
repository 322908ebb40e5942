"""The serving API under load: cache-hit latency and throughput, cache-miss inference latency, and
``mlflow models serve`` side by side, against a real champion (tiny model sizes) on loopback.

    .venv/bin/python -m bench.bench_api [--quick]

Builds a temporary data dir and Dagster home, materializes what an AAPL forecast needs (feature
definitions; ^GSPC and AAPL data; parent, child, backtest with a passing gate, champion), then
serves the API as in production: ``gunicorn -w 2 -k uvicorn_worker.UvicornWorker`` with
``PROMETHEUS_MULTIPROC_DIR``, Redis under a unique key prefix, rate limits off. The load generator
(httpx.AsyncClient) runs in this process, on the same cores as the server: on a 2-core machine it
takes a large share of the CPU (one httpx request costs the client about twice the server's CPU),
so throughput is also measured with a raw-socket keep-alive client (pre-built request bytes),
and the server's CPU per request gives a server-only capacity estimate.
Client-side latencies include httpx's own overhead; the server-side histogram (``/metrics``) is
reported beside them. Targets (2 cores): cache hit p99 <= 10 ms and >= 1,000 req/s; cache miss
p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("FEAST_USAGE", "False")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("STOCKOPS_REDIS_URL", "redis://127.0.0.1:6379/0")
TICKER = "AAPL"
MODEL_URI = "models:/stockops-child-AAPL@champion"
TINY_PARENT = {"lookback": 20, "hidden_size": 8, "num_layers": 1, "epochs": 3, "patience": 2}
TINY_CHILD = {"epochs": 3, "patience": 2, "strategy": "fine_tune"}
# The fewest folds the backtest allows, half a year: the benchmark needs a champion, not a good one.
BACKTEST = {"n_folds": 4, "test_years": 0.5}
HIT_P99_MS, HIT_RPS, MISS_P99_MS = 10.0, 1000.0, 50.0
FULL = {"latency_n": 2000, "latency_conc": 2, "tput_n": 5000, "tput_s": 10.0, "tput_conc": 32,
        "miss_n": 200, "mlflow_n": 200}  # fmt: skip
QUICK = {"latency_n": 500, "latency_conc": 2, "tput_n": 1500, "tput_s": 4.0, "tput_conc": 32,
         "miss_n": 60, "mlflow_n": 60}  # fmt: skip


# --- set-up ------------------------------------------------------------------------------------
def prepare(
    data_dir: Path, dagster_home: Path, backtest_extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Materialize, with tiny sizes, everything a forecast of AAPL needs; returns timings.
    ``backtest_extra``: more backtest config (tests use fewer folds)."""
    import dagster as dg

    from stock_assets.defs.assets.evaluation import backtest as backtest_asset
    from stock_assets.defs.assets.evaluation import champion_model
    from stock_assets.defs.assets.features import feature_definitions, online_features
    from stock_assets.defs.assets.market import indicators, ohlcv
    from stock_assets.defs.assets.models import child_model, parent_model
    from stock_assets.defs.partitions import TICKERS_PARTITION
    from stock_assets.defs.resources import resources_from_settings
    from stock_assets.settings import Settings

    assets = [ohlcv, indicators, feature_definitions, online_features, parent_model, child_model,
              backtest_asset, champion_model]  # fmt: skip
    started = time.perf_counter()
    resources = resources_from_settings(Settings(data_dir=data_dir))
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:

        def run(selection: list, config: dict | None = None, partition: str | None = None) -> None:
            result = dg.materialize(
                assets,
                selection=selection,
                partition_key=partition,
                instance=instance,
                resources=resources,
                run_config={"ops": config or {}},
                raise_on_error=False,
            )
            assert result.success, f"materializing {selection} ({partition}) failed"

        instance.add_dynamic_partitions(TICKERS_PARTITION, ["^GSPC", TICKER])
        run([feature_definitions])
        for ticker in ("^GSPC", TICKER):
            run([ohlcv, indicators, online_features], partition=ticker)
        run([parent_model], {"parent_model": {"config": TINY_PARENT}})
        run([child_model], {"child_model": {"config": TINY_CHILD}}, TICKER)
        config = {**BACKTEST, **(backtest_extra or {})}
        run([backtest_asset, champion_model], {"backtest": {"config": config}}, TICKER)
    finally:
        instance.dispose()
    return {"prepare_s": round(time.perf_counter() - started, 1)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A server in its own process group, so stopping it stops its workers too."""
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> float:
    import httpx

    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=5.0).status_code < 500:
                return time.perf_counter() - started
        time.sleep(0.3)
    raise TimeoutError(f"{url} not up after {timeout_s} s:\n{log.read_text()[-3000:]}")


# --- measuring ---------------------------------------------------------------------------------
def pct(samples_s: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(samples_s) * 1000, q)), 2)


async def drive(
    call: Callable[[], Awaitable[None]], n: int, concurrency: int, max_s: float | None = None
) -> tuple[list[float], float]:
    """``n`` calls (or until ``max_s``) with ``concurrency`` in flight; latencies and wall time."""
    latencies: list[float] = []
    issued = 0
    started = time.perf_counter()
    deadline = started + max_s if max_s else float("inf")

    async def worker() -> None:
        nonlocal issued
        while issued < n and time.perf_counter() < deadline:
            issued += 1
            t0 = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


async def raw_hits(
    host: str, port: int, n: int, concurrency: int, max_s: float
) -> tuple[list[float], float]:
    """Cache hits over raw keep-alive sockets with a pre-built request: a load generator far
    cheaper per request than httpx, so more of the 2 cores are left to the server."""
    body = json.dumps({"ticker": TICKER}).encode()
    request = (
        b"POST /predict-child HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (host.encode(), port, len(body), body)
    )
    latencies: list[float] = []
    issued = 0
    started = time.perf_counter()
    deadline = started + max_s

    async def connection() -> None:
        nonlocal issued
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while issued < n and time.perf_counter() < deadline:
                issued += 1
                t0 = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                assert length is not None, head
                payload = await reader.readexactly(int(length.group(1)))
                latencies.append(time.perf_counter() - t0)
                if head[9:12] != b"200" or not payload.startswith(b'{"cache_hit":true'):
                    raise RuntimeError(f"expected a cache hit: {head[:40]!r} {payload[:80]!r}")
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


_WRK_SCRIPT = """wrk.method = "POST"
wrk.body = '{"ticker": "%s"}'
wrk.headers["Content-Type"] = "application/json"
"""


def wrk_hits(base: str, seconds: float, connections: int) -> dict[str, Any] | None:
    """Cache hits driven by wrk (a C load generator, one thread): the load the server carries
    when the client costs little CPU. None when wrk is not installed."""
    binary = shutil.which("wrk")
    if binary is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT % TICKER)
    try:
        out = subprocess.run(
            [binary, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s",
             script.name, f"{base}/predict-child"],
            capture_output=True, text=True, timeout=seconds + 60, check=True,
        ).stdout  # fmt: skip
    finally:
        Path(script.name).unlink()

    def ms(label: str) -> float | None:
        match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if match is None:
            return None
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
        return round(float(match.group(1)) * scale, 2)

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"connections": connections, "seconds": seconds,
            "rps": float(rps.group(1)) if rps else None,
            "p50_ms": ms("50%"), "p99_ms": ms("99%"),
            "non_2xx": int(errors.group(1)) if errors else 0}  # fmt: skip


def histogram(text: str, name: str, labels: dict[str, str]) -> dict[float, float]:
    """Cumulative bucket counts of one histogram series (summed across matching samples)."""
    from prometheus_client.parser import text_string_to_metric_families

    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for s in family.samples:
            if s.name == name + "_bucket" and all(s.labels.get(k) == v for k, v in labels.items()):
                le = float(s.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + s.value
    return buckets


def share_under(before: dict[float, float], after: dict[float, float], le: float) -> float | None:
    total = after.get(float("inf"), 0.0) - before.get(float("inf"), 0.0)
    if total <= 0:
        return None
    return round(100 * (after.get(le, 0.0) - before.get(le, 0.0)) / total, 2)


def bucket_p99(before: dict[float, float], after: dict[float, float]) -> float | None:
    """Upper bound (ms) of the bucket holding the 99th percentile of the interval's requests."""
    total = after.get(float("inf"), 0.0) - before.get(float("inf"), 0.0)
    if total <= 0:
        return None
    for le in sorted(after):
        if after[le] - before.get(le, 0.0) >= 0.99 * total:
            return le * 1000
    return None


def cpu_s(procs: list[Any]) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in procs)


async def bench_api(base: str, prefix: str, cfg: dict[str, Any], server_pid: int) -> dict[str, Any]:
    import httpx
    import psutil
    import redis

    out: dict[str, Any] = {}
    body = {"ticker": TICKER}
    limits = httpx.Limits(
        max_connections=cfg["tput_conc"], max_keepalive_connections=cfg["tput_conc"]
    )
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0) as client:
        warm = await client.post("/predict-child", json=body)
        assert warm.status_code == 200, warm.text
        out["first_call_ms"] = round(warm.elapsed.total_seconds() * 1000, 1)
        out["first_call_cache_hit"] = warm.json()["cache_hit"]
        # Both workers load the bundle and the table on their first request.
        await asyncio.gather(*(client.post("/predict-child", json=body) for _ in range(64)))

        async def hit() -> None:
            r = await client.post("/predict-child", json=body)
            if r.status_code != 200 or not r.json()["cache_hit"]:
                raise RuntimeError(f"expected a cache hit: {r.status_code} {r.text[:200]}")

        route = {"route": "/predict-child"}
        name = "stockops_api_request_duration_seconds"
        before = histogram((await client.get("/metrics")).text, name, route)
        lat, _ = await drive(hit, cfg["latency_n"], cfg["latency_conc"])
        after = histogram((await client.get("/metrics")).text, name, route)
        out["hit"] = {"n": len(lat), "concurrency": cfg["latency_conc"], "p50_ms": pct(lat, 50),
                      "p99_ms": pct(lat, 99), "max_ms": pct(lat, 100),
                      "server_share_le_10ms_pct": share_under(before, after, 0.01),
                      "server_p99_bucket_ms": bucket_p99(before, after)}  # fmt: skip

        # CPU seconds of the server (gunicorn and its workers) and of this load generator.
        server = [psutil.Process(server_pid), *psutil.Process(server_pid).children(recursive=True)]
        me = [psutil.Process()]
        s0, c0 = cpu_s(server), cpu_s(me)
        lat, wall = await drive(hit, cfg["tput_n"], cfg["tput_conc"], cfg["tput_s"])
        server_cpu, client_cpu = cpu_s(server) - s0, cpu_s(me) - c0
        cores = psutil.cpu_count() or 1
        out["throughput"] = {"n": len(lat), "concurrency": cfg["tput_conc"],
                             "wall_s": round(wall, 2), "rps": round(len(lat) / wall, 1),
                             "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
                             "server_cpu_s": round(server_cpu, 2),
                             "client_cpu_s": round(client_cpu, 2),
                             "server_cpu_ms_per_req": round(1000 * server_cpu / len(lat), 3),
                             "cores": cores,
                             "server_only_rps_estimate": round(cores * len(lat) / server_cpu, 1),
                             }  # fmt: skip

        s0, c0 = cpu_s(server), cpu_s(me)
        host, port = base.removeprefix("http://").split(":")
        lat, wall = await raw_hits(host, int(port), cfg["tput_n"], cfg["tput_conc"], cfg["tput_s"])
        server_cpu, client_cpu = cpu_s(server) - s0, cpu_s(me) - c0
        out["throughput_raw"] = {"n": len(lat), "concurrency": cfg["tput_conc"],
                                 "wall_s": round(wall, 2), "rps": round(len(lat) / wall, 1),
                                 "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
                                 "server_cpu_s": round(server_cpu, 2),
                                 "client_cpu_s": round(client_cpu, 2)}  # fmt: skip

        # Misses: drop our forecast keys before every call (outside the timed part).
        r = redis.Redis.from_url(REDIS_URL)
        pattern = f"{prefix}forecast:*"
        misses: list[float] = []
        inf_name = "stockops_api_inference_duration_seconds"
        before = histogram((await client.get("/metrics")).text, inf_name, {})
        for _ in range(cfg["miss_n"]):
            keys = list(r.scan_iter(match=pattern, count=500))
            if keys:
                r.delete(*keys)
            t0 = time.perf_counter()
            resp = await client.post("/predict-child", json=body)
            misses.append(time.perf_counter() - t0)
            if resp.status_code != 200 or resp.json()["cache_hit"]:
                raise RuntimeError(f"expected a cache miss: {resp.status_code} {resp.text[:200]}")
        after = histogram((await client.get("/metrics")).text, inf_name, {})
        r.close()
        out["miss"] = {"n": len(misses), "p50_ms": pct(misses, 50), "p99_ms": pct(misses, 99),
                       "max_ms": pct(misses, 100),
                       "server_inference_p99_bucket_ms": bucket_p99(before, after)}  # fmt: skip
    return out


async def bench_mlflow(base: str, example: list, n: int) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=30.0) as client:
        payload = {"inputs": example}
        first = await client.post("/invocations", json=payload)
        if first.status_code != 200:
            raise RuntimeError(f"/invocations: {first.status_code} {first.text[:300]}")

        async def call() -> None:
            (await client.post("/invocations", json=payload)).raise_for_status()

        lat, _ = await drive(call, n, 1)
    return {"n": len(lat), "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
            "output_shape": list(np.asarray(first.json()["predictions"]).shape)}  # fmt: skip


def mlflow_example(tracking_uri: str) -> list:
    """A (1, lookback, n_features) input shaped like the champion's logged signature."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    info = mlflow.models.get_model_info(MODEL_URI)
    shape = info.signature.inputs.inputs[0].shape  # (-1, lookback, n_features)
    rng = np.random.default_rng(0)
    return rng.standard_normal((1, *shape[1:])).astype(np.float32).tolist()


# --- main --------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument("--skip-mlflow", action="store_true", help="no mlflow models serve")
    args = parser.parse_args()
    cfg = QUICK if args.quick else FULL

    from bench.common import write_results

    tmp = Path(tempfile.mkdtemp(prefix="stockops-bench-api-"))
    data_dir, dagster_home, prom = tmp / "data", tmp / "dagster_home", tmp / "prom"
    for d in (dagster_home, prom):
        d.mkdir(parents=True)
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    prefix = f"stockops-bench:{uuid.uuid4().hex[:8]}:"
    tracking_uri = f"sqlite:///{data_dir.resolve() / 'mlflow' / 'mlflow.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKOPS_")}
    env.update({
        "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        "STOCKOPS_DATA_DIR": str(data_dir),
        "DAGSTER_HOME": str(dagster_home),
        "STOCKOPS_REDIS_URL": REDIS_URL,
        "STOCKOPS_REDIS_KEY_PREFIX": prefix,
        "STOCKOPS_RATE_LIMIT_ENABLED": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(prom),
        "FEAST_USAGE": "False",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    })  # fmt: skip
    extra: dict[str, Any] = {"config": cfg, "quick": args.quick}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        extra.update(prepare(data_dir, dagster_home))
        port = free_port()
        log = tmp / "gunicorn.log"
        procs.append(start(
            [str(VENV_BIN / "gunicorn"), "-w", "2", "-k", "uvicorn_worker.UvicornWorker",
             "--bind", f"127.0.0.1:{port}", "--timeout", "120", "--log-level", "warning",
             "serving_api.app:create_app()"],
            env, log,
        ))  # fmt: skip
        extra["api_startup_s"] = round(
            wait_until_up(f"http://127.0.0.1:{port}/health", procs[-1], log, 180), 1
        )
        api = asyncio.run(bench_api(f"http://127.0.0.1:{port}", prefix, cfg, procs[-1].pid))
        extra["api"] = api
        extra["wrk"] = wrk_hits(f"http://127.0.0.1:{port}", cfg["tput_s"], cfg["tput_conc"])
        stop(procs[-1])  # free the cores for the next server

        if not args.skip_mlflow:
            try:
                example = mlflow_example(tracking_uri)
                mport = free_port()
                mlog = tmp / "mlflow.log"
                procs.append(start(
                    [str(VENV_BIN / "mlflow"), "models", "serve", "-m", MODEL_URI,
                     "--env-manager", "local", "-h", "127.0.0.1", "-p", str(mport)],
                    {**env, "MLFLOW_TRACKING_URI": tracking_uri}, mlog,
                ))  # fmt: skip
                extra["mlflow_startup_s"] = round(
                    wait_until_up(f"http://127.0.0.1:{mport}/ping", procs[-1], mlog, 180), 1
                )
                extra["mlflow"] = asyncio.run(
                    bench_mlflow(f"http://127.0.0.1:{mport}", example, cfg["mlflow_n"])
                )
            except Exception as exc:  # report, do not fail the API figures
                extra["mlflow"] = {"error": f"{type(exc).__name__}: {str(exc)[:1500]}"}
    finally:
        for proc in procs:
            stop(proc)
        with contextlib.suppress(Exception):
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(match=prefix + "*"))
            if keys:
                client.delete(*keys)
            client.close()
        shutil.rmtree(tmp, ignore_errors=True)

    hit, tput, miss, raw = api["hit"], api["throughput"], api["miss"], api["throughput_raw"]
    figures = [
        {"figure": f"cache hit p50, client-side ({hit['concurrency']} in flight, n={hit['n']})",
         "value": hit["p50_ms"], "unit": "ms", "target": "-", "met": None},
        {"figure": f"cache hit p99, client-side ({hit['concurrency']} in flight)",
         "value": hit["p99_ms"], "unit": "ms", "target": f"<= {HIT_P99_MS:g} ms",
         "met": hit["p99_ms"] <= HIT_P99_MS},
        {"figure": "cache hit, server-side share <= 10 ms (histogram)",
         "value": hit["server_share_le_10ms_pct"], "unit": "%", "target": ">= 99 %",
         "met": None if hit["server_share_le_10ms_pct"] is None
         else hit["server_share_le_10ms_pct"] >= 99},
        {"figure": f"cache hit throughput, httpx client ({tput['concurrency']} in flight, "
                   f"n={tput['n']}, client on the same cores)",
         "value": tput["rps"], "unit": "req/s", "target": f">= {HIT_RPS:,.0f} req/s",
         "met": tput["rps"] >= HIT_RPS},
        {"figure": f"cache hit throughput, raw-socket client ({raw['concurrency']} in flight, "
                   f"n={raw['n']}; client {raw['client_cpu_s']} s CPU, server "
                   f"{raw['server_cpu_s']} s)",
         "value": raw["rps"], "unit": "req/s", "target": f">= {HIT_RPS:,.0f} req/s",
         "met": raw["rps"] >= HIT_RPS},
        {"figure": f"cache hit p99 under load, raw-socket client ({raw['concurrency']} in flight)",
         "value": raw["p99_ms"], "unit": "ms", "target": "-", "met": None},
        {"figure": f"server CPU per cache hit (gunicorn + workers; client used "
                   f"{tput['client_cpu_s']} s vs server {tput['server_cpu_s']} s)",
         "value": tput["server_cpu_ms_per_req"], "unit": "ms", "target": "-", "met": None},
        {"figure": f"server-only capacity estimate ({tput['cores']} cores / CPU per hit)",
         "value": tput["server_only_rps_estimate"], "unit": "req/s",
         "target": f">= {HIT_RPS:,.0f} req/s (estimate, not measured)", "met": None},
        {"figure": f"cache hit p99 under load ({tput['concurrency']} in flight)",
         "value": tput["p99_ms"], "unit": "ms", "target": "-", "met": None},
        {"figure": f"cache miss (inference) p50, sequential, n={miss['n']}",
         "value": miss["p50_ms"], "unit": "ms", "target": "-", "met": None},
        {"figure": "cache miss (inference) p99, sequential",
         "value": miss["p99_ms"], "unit": "ms", "target": f"<= {MISS_P99_MS:g} ms",
         "met": miss["p99_ms"] <= MISS_P99_MS},
    ]  # fmt: skip
    wrk = extra.get("wrk")
    if wrk and wrk["rps"] is not None:
        figures += [
            {"figure": f"cache hit throughput, wrk ({wrk['connections']} connections, "
                       f"{wrk['seconds']:g} s, {wrk['non_2xx']} non-2xx)",
             "value": wrk["rps"], "unit": "req/s", "target": f">= {HIT_RPS:,.0f} req/s",
             "met": wrk["rps"] >= HIT_RPS and wrk["non_2xx"] == 0},
            {"figure": "cache hit p99 under load, wrk",
             "value": wrk["p99_ms"], "unit": "ms", "target": "-", "met": None},
        ]  # fmt: skip
    ml = extra.get("mlflow")
    if ml and "error" not in ml:
        ratio = round(ml["p50_ms"] / miss["p50_ms"], 2)
        extra["mlflow"]["p50_ratio_to_our_miss"] = ratio
        figures += [
            {"figure": f"mlflow models serve /invocations p50 (n={ml['n']}, sequential)",
             "value": ml["p50_ms"], "unit": "ms", "target": "-", "met": None},
            {"figure": "mlflow models serve /invocations p99",
             "value": ml["p99_ms"], "unit": "ms", "target": "-", "met": None},
            {"figure": "mlflow serve p50 / our cache-miss p50",
             "value": ratio, "unit": "x", "target": "-", "met": None},
        ]  # fmt: skip
    elif ml:
        figures.append({"figure": "mlflow models serve", "value": "did not run (see json)",
                        "unit": "", "target": "-", "met": None})  # fmt: skip
    write_results("api", figures, extra)


if __name__ == "__main__":
    main()
