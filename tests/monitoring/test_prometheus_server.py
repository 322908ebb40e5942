"""A real Prometheus (Debian package, loopback only) scrapes the real API under uvicorn.

The API runs on a fresh data dir holding one drift report; Prometheus runs our checked-in
``monitoring/prometheus.yml`` with the targets pointed at free ports and 1 s intervals. A query
then returns our metrics, and the API's log lines are JSON with request ids.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from stock_assets.domain.storage import atomic_write_text

pytestmark = pytest.mark.integration
DRIFT = {
    "ticker": "AAPL", "as_of": "2013-03-01", "drift_share": 0.6, "dataset_drift": True,
    "threshold": 0.5, "drifted_columns": ["log_return", "rsi_14", "volatility_20"], "columns": [],
    "reference_window": ["2010-12-01", "2012-12-03"],
    "current_window": ["2012-12-04", "2013-03-01"], "html_path": "/nonexistent.html",
}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, timeout_s: float, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{url}: process exited\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not come up\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    data = tmp_path / "data"
    atomic_write_text(json.dumps(DRIFT), data / "outputs" / "drift" / "AAPL" / "latest.json")
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    port = _free_port()
    env = {
        **os.environ,
        "STOCKOPS_DATA_DIR": str(data),
        "DAGSTER_HOME": str(home),
        "STOCKOPS_REDIS_KEY_PREFIX": f"stockops-test:{uuid.uuid4().hex[:8]}:",
        "STOCKOPS_LOG_FORMAT": "json",
        "STOCKOPS_API_ACCESS_LOG": "true",  # off by default; on, its lines are JSON with ids
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "api.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "serving_api.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_http(f"http://127.0.0.1:{port}/health", 180, proc, log)
        yield f"127.0.0.1:{port}", log
    finally:
        _stop(proc)


def test_prometheus_scrapes_the_api(
    api: tuple[str, Path], prometheus: str, monitoring_dir: Path, tmp_path: Path
) -> None:
    target, api_log = api
    port = _free_port()
    config = yaml.safe_load((monitoring_dir / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(monitoring_dir / "alerts" / "*.rules.yml")]
    for job in config["scrape_configs"]:
        where = target if job["job_name"] == "stockops-api" else f"127.0.0.1:{port}"
        job["static_configs"][0]["targets"] = [where]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = tmp_path / "prometheus.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                prometheus,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{base}/-/ready", 60, proc, log)

        def query(expr: str) -> list[dict]:
            body = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=5).json()
            assert body["status"] == "success", body
            return body["data"]["result"]

        deadline = time.monotonic() + 60
        while not query('stockops_drift_share{ticker="AAPL"}') and time.monotonic() < deadline:
            time.sleep(1)
        (drift,) = query('stockops_drift_share{ticker="AAPL"}')
        assert float(drift["value"][1]) == 0.6 and drift["metric"]["job"] == "stockops-api"
        assert query('up{job="stockops-api"}')[0]["value"][1] == "1"
        assert query("stockops_api_requests_total")  # the scrapes themselves are requests
        # Our alert rules are loaded, and the drift alert is on its way.
        groups = httpx.get(f"{base}/api/v1/rules", timeout=5).json()["data"]["groups"]
        assert {"stockops-api", "stockops-models", "stockops-agents"} <= {g["name"] for g in groups}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            alerts = httpx.get(f"{base}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
            if any(a["labels"]["alertname"] == "StockOpsDataDriftDetected" for a in alerts):
                break
            time.sleep(1)
        else:
            raise AssertionError(f"no drift alert pending: {alerts}")
    finally:
        _stop(proc)
    # The API's own log lines (uvicorn's access log, switched on) are JSON with request ids.
    records = [json.loads(x) for x in api_log.read_text().splitlines() if x.startswith("{")]
    scrapes = [r for r in records if "/metrics" in r["message"] and r["logger"] == "uvicorn.access"]
    assert scrapes and all(r.get("request_id") for r in scrapes)
