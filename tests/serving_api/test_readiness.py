"""Readiness against a real MLflow tracking server that stops: the API pod must stay ready and
keep serving the forecasts it can, because in the cluster MLflow is one Deployment that every
API pod shares (restarted by each release while it ran one replica), and a readiness that asked
it took the whole public API out of the load balancer.

Everything is real: an ``mlflow server`` process (SQLite backend, artifacts proxied, as the
chart runs it), a champion trained and its forecast materialized through that server, the API
app in-process on the shared Redis.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from devkit.platform import tiny_platform
from devkit.servers import BIN, REDIS_URL, free_port, start, stop, wait_until_up
from serving_api.app import create_app
from stock_assets.settings import Settings

pytestmark = pytest.mark.integration

TICKER = "AAPL"
CHART = Path(__file__).resolve().parents[2] / "helm" / "stockops"


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[tuple[str, object]]:
    """(URL, process) of an MLflow tracking server of this test's own."""
    port = free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "HOME": str(tmp_path)}
    cmd = [
        str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
        "--serve-artifacts", "--artifacts-destination", str(tmp_path / "artifacts"),
    ]  # fmt: skip
    log = tmp_path / "mlflow.log"
    proc = start(cmd, env, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url + "/health", proc, log, timeout_s=120)
        yield url, proc
    finally:
        stop(proc)


def api_mlflow_client_env() -> dict[str, str]:
    """The MLflow client settings the chart gives the API container: how long a request for a
    ticker this pod has not served yet waits for an MLflow that is down."""
    from helm_python import Chart

    values = {"global": {"imageRegistry": "registry.example.com/"}}
    templates = Chart.load(str(CHART)).render(values, name="stockops", namespace="stockops")
    docs = [
        d for path, text in templates.items() if path.endswith(".yaml")
        for d in yaml.safe_load_all(text) if d
    ]  # fmt: skip
    wanted = ("Deployment", "stockops-api")
    (api,) = [d for d in docs if (d["kind"], d["metadata"]["name"]) == wanted]
    env = api["spec"]["template"]["spec"]["containers"][0]["env"]
    return {e["name"]: e["value"] for e in env if e["name"].startswith("MLFLOW_HTTP_REQUEST")}


def test_api_stays_ready_and_serves_while_mlflow_is_down(
    tmp_path: Path,
    mlflow_server: tuple[str, object],
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, proc = mlflow_server
    settings = Settings(
        data_dir=tmp_path / "data", mlflow_tracking_uri=url, redis_url=REDIS_URL,
        redis_key_prefix=prefix,
    )  # fmt: skip
    # A champion registered in the MLflow server and its forecast materialized, as the
    # onboarding runs leave them.
    with tiny_platform(tmp_path, settings=settings) as platform:
        platform.bootstrap()
        platform.onboard(TICKER)
        assert platform.serving(TICKER).model_version

    for name, value in api_mlflow_client_env().items():
        monkeypatch.setenv(name, value)
    app = create_app(settings)
    with TestClient(app) as client:
        served = client.post("/predict-child", json={"ticker": TICKER})
        assert served.status_code == 200, served.text
        assert client.get("/health").json()["checks"]["mlflow"]["status"] == "ok"

        stop(proc)  # the MLflow pod is replaced (a release) or crashes
        with pytest.raises(httpx.TransportError):
            httpx.get(url + "/health", timeout=2.0)

        ready = client.get("/health/ready")
        assert ready.status_code == 200, ready.text
        health = client.get("/health").json()
        assert health["ready"] is True
        assert health["checks"]["mlflow"]["status"] == "degraded"
        assert f"MLflow at {url}" in health["checks"]["mlflow"]["message"]
        # The forecast this pod served is still served: the serving model is kept in memory.
        again = client.post("/predict-child", json={"ticker": TICKER})
        assert again.status_code == 200, again.text
        assert again.json()["model"] == served.json()["model"]

    # A pod started while MLflow is down (the new pods of a release) is ready at once, and a
    # ticker it has not served yet gets a prompt 503 naming MLflow, not a hung request.
    with TestClient(create_app(settings)) as cold:
        assert cold.get("/health/ready").status_code == 200
        started = time.monotonic()
        missing = cold.post("/predict-child", json={"ticker": TICKER})
        waited = time.monotonic() - started
        assert missing.status_code == 503, missing.text
        assert missing.json()["error"]["code"] == "mlflow_unavailable"
        assert waited < 60, f"a request waited {waited:.0f} s for MLflow"
