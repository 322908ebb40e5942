"""A real Prometheus (Debian package, loopback only) scrapes the real API under uvicorn.

The API runs on a fresh data dir holding one drift report; Prometheus runs our checked-in
``monitoring/prometheus.yml`` with the targets pointed at free ports and 1 s intervals. A query
then returns our metrics, and the API's log lines are JSON with request ids.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from devkit.servers import free_port, running_api, start, stop, wait_until_up
from stock_assets.domain import layout
from stock_assets.domain.storage import atomic_write_text

pytestmark = pytest.mark.integration
DRIFT = {
    "ticker": "AAPL",
    "as_of": "2013-03-01",
    "drift_share": 0.6,
    "dataset_drift": True,
    "threshold": 0.5,
    "drifted_columns": ["log_return", "rsi_14", "volatility_20"],
    "columns": [],
    "reference_window": ["2010-12-01", "2012-12-03"],
    "current_window": ["2012-12-04", "2013-03-01"],
    "html_path": "/nonexistent.html",
}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The API under uvicorn over a data dir holding one drift report: (host:port, its log)."""
    outputs = tmp_path / "data" / "outputs"  # the data dir running_api gives the API
    atomic_write_text(json.dumps(DRIFT), layout.drift_summary_path(outputs, "AAPL"))
    # Info level, access log on: its lines are JSON with request ids (off by default).
    with running_api(
        tmp_path, log_level="info", STOCKOPS_LOG_FORMAT="json", STOCKOPS_API_ACCESS_LOG="true"
    ) as server:
        yield server.url.removeprefix("http://"), server.log


def test_prometheus_scrapes_the_api(
    api: tuple[str, Path], prometheus: str, monitoring_dir: Path, tmp_path: Path
) -> None:
    target, api_log = api
    port = free_port()
    config = yaml.safe_load((monitoring_dir / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(monitoring_dir / "alerts" / "*.rules.yml")]
    for job in config["scrape_configs"]:
        where = target if job["job_name"] == "stockops-api" else f"127.0.0.1:{port}"
        job["static_configs"][0]["targets"] = [where]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = tmp_path / "prometheus.log"
    proc = start(
        [
            prometheus,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        {**os.environ},
        log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/-/ready", proc, log, 60)

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
        stop(proc)
    # The API's own log lines (uvicorn's access log, switched on) are JSON with request ids.
    records = [json.loads(x) for x in api_log.read_text().splitlines() if x.startswith("{")]
    scrapes = [r for r in records if "/metrics" in r["message"] and r["logger"] == "uvicorn.access"]
    assert scrapes and all(r.get("request_id") for r in scrapes)
