"""The API as in production: gunicorn with two uvicorn workers and ``PROMETHEUS_MULTIPROC_DIR``.

``/metrics`` must count every request whichever worker answered it, and whichever worker answers
the scrape.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from devkit.servers import (
    free_port,
    gunicorn_app,
    load_env,
    start,
    stop,
    wait_until,
)

pytestmark = pytest.mark.integration

N_TICKERS, N_HEALTH = 20, 20
REQUESTS = "stockops_api_requests_total"


def _route_count(samples: list, route: str) -> float:
    return sum(s.value for s in samples if s.name == REQUESTS and s.labels["route"] == route)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Base URL and multiprocess folder of a two-worker gunicorn started on an empty data dir."""
    # Nothing is created beforehand: both workers start on an empty data dir and must not race
    # on creating (and migrating) the Dagster and MLflow SQLite stores.
    with load_env(tmp_path) as (env, _):
        port = free_port()
        log = tmp_path / "gunicorn.log"
        proc = start(gunicorn_app(port, log_level="info"), env, log)
        base = f"http://127.0.0.1:{port}"

        def both_workers_serve() -> bool:
            # Both workers, not only the first one up (each logs this line once started).
            started = log.read_text(errors="replace").count("Application startup complete")
            return started >= 2 and httpx.get(base + "/openapi.json", timeout=2.0).is_success

        try:
            # The first worker creates the stores (migrations): that takes a while.
            wait_until(both_workers_serve, base, proc, log, timeout_s=120)
            yield base, Path(env["PROMETHEUS_MULTIPROC_DIR"])
        finally:
            stop(proc)


def test_metrics_aggregate_requests_across_workers(server: tuple[str, Path]) -> None:
    base, prom = server
    # A fresh connection per request, so either worker may accept it (keep-alive would pin one).
    fresh = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=base, limits=fresh, timeout=10.0) as client:
        for _ in range(N_TICKERS):
            assert client.get("/tickers").status_code == 200
        for _ in range(N_HEALTH):
            assert client.get("/health").status_code == 200

        def scrape() -> tuple[float, float]:
            response = client.get("/metrics")
            assert response.status_code == 200
            samples = [s for f in text_string_to_metric_families(response.text) for s in f.samples]
            return _route_count(samples, "/tickers"), _route_count(samples, "/health")

        # A request is counted just after its response is sent: give the last one a moment.
        deadline = time.monotonic() + 3
        while scrape() != (N_TICKERS, N_HEALTH) and time.monotonic() < deadline:
            time.sleep(0.05)
        # Every scrape, whichever worker answers it, sees the sum over both workers.
        for _ in range(6):
            assert scrape() == (N_TICKERS, N_HEALTH)

    # Per worker (one value file per process): both answered, and they add up.
    per_pid: dict[str, float] = {}
    for path in prom.glob("counter_*.db"):
        metrics = MultiProcessCollector.merge([str(path)], accumulate=True)
        samples = [s for m in metrics for s in m.samples]
        per_pid[path.stem] = _route_count(samples, "/tickers")
    assert sum(per_pid.values()) == N_TICKERS
    assert sum(1 for v in per_pid.values() if v > 0) == 2, per_pid
