"""The serving API under load, side by side in one run with the two references that bound it:

* a bare ASGI handler (``bench.bare_asgi``) that returns the same cached Redis value under the
  same server: the framework's ceiling for a cache hit on this machine;
* ``mlflow models serve`` on the same champion: what a model server costs per forecast.

    .venv/bin/python -m bench.bench_api [--quick]

AAPL is onboarded as the onboarding plan makes it (the bootstrap, then AAPL from data to
forecast) at the code location's default model sizes, the network `make up` serves. On real AAPL
prices the promotion policy serves the naive baseline, which no model server can serve; so that
both servers serve the same network, the benchmark points the ``champion`` alias at the LSTM
child and materializes its forecast again. Then each server runs as in production: ``gunicorn -w
2 -k uvicorn_worker.UvicornWorker``, Redis under a unique key prefix, rate limits off, both
workers warm. The API and the bare handler are up side by side and measured in alternating
rounds (throughput on a shared two-core machine drifts by tens of percent from one minute to the
next; a ratio of paired rounds does not). Load comes from wrk (C, one thread, on the same two
cores) for throughput and tail latency, and from one sequential raw-socket client (a pre-built
request on a keep-alive connection, the same untimed Redis round trips between calls) for the
latencies of single requests, in interleaved blocks, the same for every server: the bare
handler's is the floor of any answer that reads Redis over HTTP here.

Targets (2 cores): a cache miss (the materialized forecast, read when current) at least 5x faster
than ``mlflow models serve``; cache-hit throughput at least 70 % of the bare handler's; cache-hit
p99 <= 10 ms at 2 connections and <= 50 ms at 32 (the median round's). ``--quick``: the tiny
model sizes and one short round of everything (seconds; not a measurement).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from devkit.platform import served_platform
from devkit.servers import BIN, REDIS_URL, free_port, gunicorn_app, load_env, serving
from devkit.sizes import FULL_SIZE
from serving_api.forecasting import PEEK_S
from stock_assets.domain import layout
from stock_assets.domain.tracking import CHAMPION_ALIAS, registered_model_name

TICKER = "AAPL"
MODEL_URI = f"models:/{registered_model_name(TICKER)}@{CHAMPION_ALIAS}"
MISS_SPEEDUP, HIT_SHARE, HIT_P99_LOW_MS, HIT_P99_32_MS = 5.0, 0.70, 10.0, 50.0
FULL = {"wrk_s": 8, "rounds": 5, "blocks": 12, "block_n": 100, "computed_n": 60}
QUICK = {"wrk_s": 1, "rounds": 1, "blocks": 1, "block_n": 10, "computed_n": 3}


def serve_the_lstm(data_dir: Path, dagster_home: Path) -> str:
    """Point AAPL's champion alias at its LSTM child (by hand: a benchmark, not the policy) and
    materialize its forecast; returns the LSTM's registry version."""
    from devkit.platform import tiny_platform
    from stock_assets.defs.assets.forecasting import FORECAST_KEY
    from stock_assets.domain.tracking import ModelTracker
    from stock_assets.settings import Settings

    settings = Settings(data_dir=data_dir)
    tracker = ModelTracker(settings.resolved_mlflow_tracking_uri)
    name = registered_model_name(TICKER)
    versions = tracker.client.search_model_versions(f"name='{name}'")
    lstm = min(
        (v for v in versions if v.tags.get("kind") != "baseline"), key=lambda v: int(v.version)
    )
    tracker.set_champion(name, str(lstm.version))
    with tiny_platform(data_dir.parent, settings=settings, dagster_home=dagster_home) as platform:
        platform.must([FORECAST_KEY], TICKER)
    return str(lstm.version)


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
            [
                binary,
                "-t1",
                f"-c{connections}",
                f"-d{seconds:g}s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        ).stdout
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
    return {
        "connections": connections,
        "seconds": seconds,
        "rps": float(rps.group(1)) if rps else None,
        "p50_ms": ms("50%"),
        "p99_ms": ms("99%"),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


class RawClient:
    """One keep-alive connection and a pre-built request: a client that costs the server's
    cores next to nothing, so sequential latencies are the servers' (httpx costs ~1.5 ms a call
    here, as much as what it would measure)."""

    def __init__(self, base: str, path: str, body: bytes) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.address = (host, int(port))
        self.request = (
            b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (path.encode(), host.encode(), len(body), body)
        )
        self.reconnects = 0
        self.sock = self._connect()

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def call(self) -> tuple[int, bytes]:
        try:
            return self._exchange()
        except ConnectionError:
            # The server closed the connection while it idled (a keep-alive timeout): one new
            # connection, counted, instead of reading a closed socket forever.
            self.sock.close()
            self.sock = self._connect()
            self.reconnects += 1
            return self._exchange()

    def _exchange(self) -> tuple[int, bytes]:
        self.sock.sendall(self.request)
        data = b""
        while b"\r\n\r\n" not in data:
            data += self._recv()
        head, rest = data.split(b"\r\n\r\n", 1)
        length = re.search(rb"(?i)content-length:\s*(\d+)", head)
        assert length is not None, head
        while len(rest) < int(length.group(1)):
            rest += self._recv()
        return int(head[9:12]), rest

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("the server closed the connection")
        return chunk

    def close(self) -> None:
        self.sock.close()


def sequential(call: Any, n: int, before: Any = None) -> list[float]:
    """``n`` timed calls one after another (``before`` runs untimed ahead of each)."""
    latencies = []
    for _ in range(n):
        if before is not None:
            before()
        started = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - started)
    return latencies


def wait_for_warm_workers(base: str, timeout_s: float = 300) -> None:
    """Until both workers say their analyst models are loaded (the warm-up after start-up takes
    the cores for tens of seconds: measured through it, every figure is the warm-up's)."""
    import httpx

    fresh = httpx.Limits(max_keepalive_connections=0)  # either worker may answer each call
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=base, timeout=30.0, limits=fresh) as client:
        ready = 0
        while ready < 10:  # ten answers in a row: both workers, almost surely
            agents = client.get("/health").json()["checks"].get("agents", {})
            ready = ready + 1 if agents.get("status") == "ok" else 0
            if time.monotonic() > deadline:
                raise TimeoutError(f"the API's workers did not warm up: {agents}")
            time.sleep(0.2 if ready else 1.0)


def first_answer(base: str) -> bool:
    """Both workers warm, then one forecast (which caches it); whether it was a cache hit."""
    import httpx

    wait_for_warm_workers(base)
    first = httpx.post(base + "/predict-child", json={"ticker": TICKER}, timeout=30.0)
    assert first.status_code == 200, first.text
    return bool(first.json()["cache_hit"])


def cached_key(prefix: str) -> str:
    """The Redis key of the forecast the API has just cached (the bare handler answers it)."""
    import redis

    with redis.Redis.from_url(REDIS_URL) as r:
        (key,) = r.scan_iter(match=f"{prefix}forecast:*")
    return key.decode()  # type: ignore[no-any-return]


def median(values: list[float]) -> float:
    return round(float(np.median(values)), 3)


def paired_ratio(numerators: list[float], denominators: list[float]) -> float:
    """The median of the ratios of measurements taken in the same round or block."""
    return median([a / b for a, b in zip(numerators, denominators, strict=True)])


def measure_throughput(api: str, bare: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """Cache hits of the API and the bare handler under wrk, in alternating rounds (the order
    flips every round)."""
    targets = {"api": api + "/predict-child", "bare": bare + "/"}
    for url in targets.values():
        wrk(url, 3, 32)  # warm: wrk's connections land on either worker
    rounds: dict[str, dict[int, list[dict[str, Any]]]] = {name: {2: [], 32: []} for name in targets}
    for i in range(cfg["rounds"]):
        order = list(targets) if i % 2 == 0 else list(reversed(targets))
        for connections in (2, 32):
            for name in order:
                rounds[name][connections].append(wrk(targets[name], cfg["wrk_s"], connections))
    out: dict[str, Any] = {"rounds": rounds}
    for name in targets:
        for c in (2, 32):
            out[f"{name}_rps_{c}"] = median([r["rps"] for r in rounds[name][c]])
            out[f"{name}_p99_{c}"] = median([r["p99_ms"] for r in rounds[name][c]])
            out[f"{name}_worst_p99_{c}"] = max(r["p99_ms"] for r in rounds[name][c])
        out[f"{name}_non_2xx"] = sum(r["non_2xx"] for c in (2, 32) for r in rounds[name][c])
    api_rps = [r["rps"] for r in rounds["api"][32]]
    bare_rps = [r["rps"] for r in rounds["bare"][32]]
    out["paired_shares_32"] = [round(a / b, 3) for a, b in zip(api_rps, bare_rps, strict=True)]
    out["share_32"] = paired_ratio(api_rps, bare_rps)
    return out


class Calls:
    """Single requests of one kind: a raw client, a check of each answer, and untimed work
    before each call."""

    def __init__(self, raw: RawClient, expect: bytes | None = None, before: Any = None) -> None:
        self.raw, self.expect, self.before = raw, expect, before

    def call(self) -> None:
        status, answer = self.raw.call()
        if status != 200 or (self.expect is not None and not answer.startswith(self.expect)):
            raise RuntimeError(f"expected {self.expect!r}: {status} {answer[:200]!r}")


class CacheDropper:
    """Deletes the cached forecast before a miss. A miss is cached just after its answer is
    sent, so it first waits (untimed) for that write: landing after the delete, it would make
    the next call a hit.

    With ``delete=False`` it only looks: the same Redis round trips before every other kind of
    call, so that each server sees the same pause between calls (on this kind of machine a core
    that idles even a millisecond answers the next request measurably later)."""

    def __init__(self, prefix: str, *, delete: bool = True) -> None:
        import redis

        self.pattern = f"{prefix}forecast:*"
        self.delete = delete
        self.redis = redis.Redis.from_url(REDIS_URL)

    def __call__(self) -> None:
        deadline = time.monotonic() + 2.0
        found = list(self.redis.scan_iter(match=self.pattern))
        while not found and time.monotonic() < deadline:
            time.sleep(0.0001)
            found = list(self.redis.scan_iter(match=self.pattern))
        if found and self.delete:
            self.redis.delete(*found)
        elif found:
            self.redis.exists(*found)


def mlflow_request(tracking_uri: str) -> bytes:
    """An /invocations body of the served model's input shape (one window)."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    info = mlflow.models.get_model_info(MODEL_URI)
    shape = info.signature.inputs.inputs[0].shape  # (-1, lookback, n_features)
    example = np.random.default_rng(0).standard_normal((1, *shape[1:])).astype(np.float32)
    return json.dumps({"inputs": example.tolist()}).encode()


def measure_single_requests(
    api: str, bare: str, mlflow_base: str, *, tracking_uri: str, prefix: str, cfg: dict[str, Any]
) -> dict[str, Any]:
    """Sequential latencies of the bare handler, an API hit, an API miss (the materialized
    forecast, from memory) and ``mlflow models serve`` on the same model, in interleaved blocks
    (the order rotates every block); ratios are medians of each block's."""
    body = json.dumps({"ticker": TICKER}).encode()
    drop, look = CacheDropper(prefix), CacheDropper(prefix, delete=False)
    invocation = mlflow_request(tracking_uri)
    kinds = {
        "bare": Calls(RawClient(bare, "/", body), None, look),
        "hit": Calls(RawClient(api, "/predict-child", body), b'{"cache_hit":true', look),
        "miss": Calls(RawClient(api, "/predict-child", body), b'{"cache_hit":false', drop),
        "mlflow": Calls(RawClient(mlflow_base, "/invocations", invocation), None, look),
    }
    for calls in kinds.values():  # warm
        sequential(calls.call, 20, calls.before)
    samples: dict[str, list[float]] = {name: [] for name in kinds}
    blocks: dict[str, list[float]] = {name: [] for name in kinds}
    names = list(kinds)
    for i in range(cfg["blocks"]):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            if name != "miss":
                kinds["hit"].raw.call()  # the miss block may have left the cache empty
            lat = sequential(kinds[name].call, cfg["block_n"], kinds[name].before)
            samples[name] += lat
            blocks[name].append(pct(lat, 50))
    reconnects = {name: calls.raw.reconnects for name, calls in kinds.items()}
    for calls in kinds.values():
        calls.raw.close()
    drop.redis.close()
    look.redis.close()
    out: dict[str, Any] = {"blocks": blocks, "reconnects": reconnects}
    for name, lat in samples.items():
        out[name] = {"n": len(lat), "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}
    out["mlflow_over_miss"] = paired_ratio(blocks["mlflow"], blocks["miss"])
    out["mlflow_over_floor"] = paired_ratio(blocks["mlflow"], blocks["bare"])
    return out


def measure_computed(base: str, prefix: str, data_dir: Path, n: int) -> dict[str, Any]:
    """A stale forecast (here: none stored) computed by the model on the request, once the
    worker has looked at the forecast's file again and found it gone."""
    import httpx

    layout.table_path(data_dir / "tables", layout.FORECAST, TICKER).unlink()
    time.sleep(PEEK_S + 0.5)
    drop = CacheDropper(prefix)
    calls = Calls(
        RawClient(base, "/predict-child", json.dumps({"ticker": TICKER}).encode()),
        b'{"cache_hit":false',
        drop,
    )
    sequential(calls.call, 5, calls.before)
    before = forecast_sources(base).get("computed", 0.0)
    lat = sequential(calls.call, n, calls.before)
    calls.raw.close()
    drop.redis.close()
    out: dict[str, Any] = {"n": len(lat), "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}
    out["sources"] = forecast_sources(base)
    # Both workers count in the same multiprocess registry: every timed call must have run
    # the model, or the figure would be another miss's.
    computed = out["sources"].get("computed", 0.0) - before
    if computed < len(lat):
        raise RuntimeError(f"only {computed:g} of {len(lat)} stale calls ran the model")
    # Under all that load Redis must have stayed in use (a worker that timed out on it would
    # answer from its in-process fallback for a while).
    out["redis_after_load"] = httpx.get(base + "/health", timeout=30.0).json()["checks"]["redis"]
    return out


def forecast_sources(base: str) -> dict[str, float]:
    """Forecasts answered so far by source (materialized, computed), from /metrics."""
    import httpx

    text = httpx.get(base + "/metrics", timeout=30.0).text
    pattern = r'stockops_api_forecast_source_total\{source="(\w+)"\} (\S+)'
    return {name: float(value) for name, value in re.findall(pattern, text)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one short round")
    args = parser.parse_args()
    cfg = QUICK if args.quick else FULL

    from bench.common import write_results

    extra: dict[str, Any] = {"config": cfg, "quick": args.quick}
    sizes = None if args.quick else FULL_SIZE  # None: the tiny sizes
    with (
        served_platform("bench-api", sizes) as (tmp, trained_s),
        load_env(tmp, "bench") as (env, prefix),
    ):
        data_dir = tmp / "data"
        tracking_uri = f"sqlite:///{data_dir.resolve() / 'mlflow' / 'mlflow.db'}"
        home = Path(env["DAGSTER_HOME"])
        extra["prepare_s"] = round(trained_s, 1)
        extra["served_version"] = serve_the_lstm(data_dir, home)
        api_port, bare_port, mlflow_port = free_port(), free_port(), free_port()
        api, bare, served = (f"http://127.0.0.1:{p}" for p in (api_port, bare_port, mlflow_port))
        mlflow_options = ["--env-manager=local", "--host=127.0.0.1", f"--port={mlflow_port}"]
        mlflow_cmd = [str(BIN / "mlflow"), "models", "serve", f"--model-uri={MODEL_URI}"]
        mlflow_cmd += mlflow_options
        mlflow_env = {**env, "MLFLOW_TRACKING_URI": tracking_uri}
        with contextlib.ExitStack() as up:
            up.enter_context(
                serving(gunicorn_app(api_port), env, tmp / "api.log", api + "/health/live")
            )
            extra["first_call_cache_hit"] = first_answer(api)
            bare_env = {**env, "STOCKOPS_BENCH_KEY": cached_key(prefix)}
            bare_cmd = gunicorn_app(bare_port, "bench.bare_asgi:app")
            up.enter_context(serving(bare_cmd, bare_env, tmp / "bare.log", bare))
            up.enter_context(serving(mlflow_cmd, mlflow_env, tmp / "mlflow.log", served + "/ping"))
            load = measure_throughput(api, bare, cfg)
            single = measure_single_requests(
                api, bare, served, tracking_uri=tracking_uri, prefix=prefix, cfg=cfg
            )
            computed = measure_computed(api, prefix, data_dir, cfg["computed_n"])
            print("redis after load:", computed["redis_after_load"])
    extra.update({"throughput": load, "single_requests": single, "computed": computed})

    speedup, ceiling = single["mlflow_over_miss"], single["mlflow_over_floor"]
    share = load["share_32"]
    p99_2, p99_32 = load["api_p99_2"], load["api_p99_32"]
    non_2xx = load["api_non_2xx"]
    rounds = f"median of {cfg['rounds']} rounds of {cfg['wrk_s']} s"
    blocks = f"{cfg['blocks']} blocks of {cfg['block_n']}"
    figures = [
        {
            "figure": "cache miss p50: the materialized forecast (sequential, raw client, "
            f"{blocks})",
            "value": single["miss"]["p50_ms"],
            "unit": "ms",
            "target": "-",
            "met": None,
        },
        {
            "figure": "cache miss p99",
            "value": single["miss"]["p99_ms"],
            "unit": "ms",
            "target": "-",
            "met": None,
        },
        {
            "figure": "mlflow models serve /invocations p50, same model (same blocks)",
            "value": single["mlflow"]["p50_ms"],
            "unit": "ms",
            "target": "-",
            "met": None,
        },
        {
            "figure": "mlflow serve p50 / our miss p50 (median of the blocks' ratios)",
            "value": speedup,
            "unit": "x",
            "target": f">= {MISS_SPEEDUP:g} x",
            "met": speedup >= MISS_SPEEDUP,
        },
        {
            "figure": "bare handler p50 (same blocks): the floor of an answer that reads Redis",
            "value": single["bare"]["p50_ms"],
            "unit": "ms",
            "target": "-",
            "met": None,
        },
        {
            "figure": "mlflow serve p50 / the floor: the most any server could gain",
            "value": ceiling,
            "unit": "x",
            "target": "-",
            "met": None,
        },
        {
            "figure": "cache hit p50 (same blocks)",
            "value": single["hit"]["p50_ms"],
            "unit": "ms",
            "target": "-",
            "met": None,
        },
        {
            "figure": "stale forecast computed on the request p50 (model inference)",
            "value": computed["p50_ms"],
            "unit": "ms",
            "target": "-",
            "met": None,
        },
        {
            "figure": f"cache hit throughput, wrk 32 connections ({rounds})",
            "value": load["api_rps_32"],
            "unit": "req/s",
            "target": "-",
            "met": None,
        },
        {
            "figure": "bare ASGI handler, same Redis value, wrk 32 connections (same rounds)",
            "value": load["bare_rps_32"],
            "unit": "req/s",
            "target": "-",
            "met": None,
        },
        {
            "figure": "cache hit throughput / bare handler's (median of paired rounds)",
            "value": share,
            "unit": "",
            "target": f">= {HIT_SHARE:g}",
            "met": share >= HIT_SHARE,
        },
        {
            "figure": "cache hit p99, wrk 2 connections (median round; worst)",
            "value": f"{p99_2} ({load['api_worst_p99_2']})",
            "unit": "ms",
            "target": f"<= {HIT_P99_LOW_MS:g} ms",
            "met": p99_2 <= HIT_P99_LOW_MS,
        },
        {
            "figure": "cache hit p99, wrk 32 connections (median round; worst)",
            "value": f"{p99_32} ({load['api_worst_p99_32']})",
            "unit": "ms",
            "target": f"<= {HIT_P99_32_MS:g} ms",
            "met": p99_32 <= HIT_P99_32_MS,
        },
        {
            "figure": "bare handler p99, wrk 2 / 32 connections (median round)",
            "value": f"{load['bare_p99_2']} / {load['bare_p99_32']}",
            "unit": "ms",
            "target": "-",
            "met": None,
        },
        {
            "figure": "non-2xx answers of the API under wrk (every round)",
            "value": non_2xx,
            "unit": "",
            "target": "0",
            "met": non_2xx == 0,
        },
    ]
    write_results("api", figures, extra, quick=args.quick)


if __name__ == "__main__":
    main()
