"""Faults while the platform works: Redis dying and coming back under traffic, and a training
run killed half-way. Everything here is real: a Redis server of the test's own (the shared one
on 6379 is never stopped), a Dagster run in its own process, the real MLflow store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest
from fastapi.testclient import TestClient

from devkit.platform import train_for_servers
from devkit.servers import BIN, api_env, free_port, redis_prefix, start, stop
from serving_api.app import create_app
from stock_assets import names
from stock_assets.defs.run_state import latest_progress
from stock_assets.domain.ml.artifacts import list_versions
from stock_assets.settings import Settings
from tests.required_tools import require_tool

TICKER = "AAPL"

pytestmark = pytest.mark.integration

MakeClient = Callable[..., TestClient]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[int, Callable[[], None], Callable[[], None]]]:
    """(port, stop, start) of a Redis server only this test uses."""
    binary = require_tool("redis-server", hint="Debian package redis-server")
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        procs.append(
            subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(tmp_path),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=port, socket_timeout=0.2).ping()
                return
            except redis.RedisError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def kill() -> None:
        procs[-1].kill()
        procs[-1].wait(timeout=10)

    start()
    yield port, kill, start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_requests_survive_redis_dying_and_use_it_again_when_back(
    make_client: MakeClient, own_redis: tuple[int, Callable[[], None], Callable[[], None]]
) -> None:
    port, kill, start = own_redis
    client = make_client(redis_url=f"redis://127.0.0.1:{port}/0", redis_retry_s=1.0)

    def traffic(n: int = 15) -> list[int]:
        codes = []
        for _ in range(n):
            codes.append(client.get("/tickers").status_code)
            codes.append(client.post("/predict-child", json={"ticker": "ZZZZ"}).status_code)
        return codes

    assert set(traffic()) == {200, 404}
    assert client.get("/health").json()["checks"]["redis"]["status"] == "ok"

    kill()
    assert set(traffic()) == {200, 404}  # degraded to the in-process fallback, never a 5xx
    health = client.get("/health").json()
    assert health["status"] == "degraded"
    assert "fallback" in health["checks"]["redis"]["message"]

    start()
    deadline = time.monotonic() + 15
    while client.get("/health").json()["checks"]["redis"]["status"] != "ok":
        assert time.monotonic() < deadline, "the API never went back to Redis"
        traffic(1)
        time.sleep(0.3)
    assert set(traffic()) == {200, 404}
    import redis

    # Back on the real Redis: the rate limiter's windows are written there again.
    assert any(redis.Redis(port=port).scan_iter(match="*:rl:*"))


def _running_epoch(instance: dg.DagsterInstance, run_id: str) -> int:
    progress = latest_progress(instance, run_id)  # the run's structured progress events
    return int(progress["done"]) if progress and progress["unit"] == "epoch" else 0


def test_a_run_killed_mid_training_fails_and_leaves_the_champion_served(tmp_path: Path) -> None:
    env = api_env(tmp_path, redis_prefix(), STOCKOPS_TORCH_THREADS="1")
    data_dir, home = Path(env["STOCKOPS_DATA_DIR"]), Path(env["DAGSTER_HOME"])
    # An AAPL champion, as the API benchmark builds it (the fewest backtest folds, half a year).
    train_for_servers(data_dir, home, [TICKER])
    settings = Settings(data_dir=data_dir, redis_url="redis://127.0.0.1:1/0", redis_timeout_s=0.1)
    outputs = settings.resolved_outputs_dir
    bundles_before = list_versions(outputs, TICKER)
    config = tmp_path / "long.json"
    long = {"epochs": 500, "patience": 500, "strategy": "fine_tune"}
    config.write_text(json.dumps({"ops": {names.CHILD_MODEL: {"config": long}}}))
    log = tmp_path / "run.log"
    # A process group of its own, as a run pod: the kill below reaches the run's whole tree.
    command = [str(BIN / "dagster"), "asset", "materialize", "-m", "stock_assets.definitions"]
    selected = ["--select", names.CHILD_MODEL, "--partition", TICKER, "--config", str(config)]
    proc = start([*command, *selected], env, log)
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        deadline = time.monotonic() + 180
        run_id = None
        while True:
            assert proc.poll() is None, f"the run ended on its own:\n{log.read_text()[-3000:]}"
            runs = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
            if runs and _running_epoch(instance, runs[0].run_id) >= 2:
                run_id = runs[0].run_id
                break
            assert time.monotonic() < deadline, f"no training progress:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGTERM)  # what Kubernetes or Ctrl-C sends
        proc.wait(timeout=120)

        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status in {
            dg.DagsterRunStatus.FAILURE,
            dg.DagsterRunStatus.CANCELED,
        }, run.status if run else None
        assert list_versions(outputs, TICKER) == bundles_before  # no partial bundle
        leftovers = [p.name for p in (outputs).rglob("*") if p.name.startswith(".tmp")]
        assert not leftovers, leftovers

        app = create_app(settings, instance=instance)
        with TestClient(app) as client:
            served = client.post("/predict-child", json={"ticker": TICKER})
            assert served.status_code == 200, served.text
            # The champion the policy chose before (the naive baseline), still served.
            assert served.json()["model"] == "naive"
    finally:
        stop(proc)
        instance.dispose()
