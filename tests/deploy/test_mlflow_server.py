"""The chart's MLflow server command, run for real: the same arguments and backend store URI
(host, port and database swapped for the local Postgres and a free port), answering /health to
clients that use the Service name and refusing unknown Host headers.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.deploy.conftest import PG, RELEASE, VENV_BIN, Rendered, pod_spec

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mlflow_server_starts_with_the_charts_arguments(
    renderings: dict[str, Rendered],
    database: str,
    tmp_path: Path,
) -> None:
    container = pod_spec(renderings["default"].get("Deployment", f"{RELEASE}-mlflow"))[
        "containers"
    ][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    uri = env["MLFLOW_BACKEND_STORE_URI"]
    assert uri.startswith("postgresql+psycopg2://")
    # Same URI, pointed at the local Postgres: user, password and host/db swapped.
    local_uri = re.sub(
        r"//[^@]+@[^/]+/[^?]+", f"//{PG['user']}@{PG['host']}:{PG['port']}/{database}", uri
    )
    args = list(container["args"])
    port = free_port()
    args[args.index("--port") + 1] = str(port)
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--workers") + 1] = "1"
    args[args.index("--artifacts-destination") + 1] = str(tmp_path / "artifacts")
    allowed = args[args.index("--allowed-hosts") + 1].split(",")
    assert f"{RELEASE}-mlflow:5000" in allowed

    log = (tmp_path / "mlflow.log").open("w")
    process = subprocess.Popen(
        [str(VENV_BIN / "mlflow"), *args],
        env={
            **os.environ,
            "MLFLOW_BACKEND_STORE_URI": local_uri,
            "MLFLOW_DISABLE_TELEMETRY": "true",
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "mlflow.log").read_text()[-3000:]
            try:
                answer = httpx.get(f"{base}/health", headers={"Host": f"{RELEASE}-mlflow:5000"})
                if answer.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "mlflow.log").read_text()[-3000:]
            time.sleep(1)
        # The tracking API works on the Postgres store through the Service name...
        created = httpx.post(
            f"{base}/api/2.0/mlflow/experiments/create",
            json={"name": "deploy-smoke"},
            headers={"Host": f"{RELEASE}-mlflow:5000"},
        )
        assert created.status_code == 200, created.text
        # ...and a Host the chart did not allow is refused (DNS-rebinding protection; the
        # health routes are exempt, so the probes work whatever Host the kubelet sends).
        refused = httpx.post(
            f"{base}/api/2.0/mlflow/experiments/create",
            json={"name": "refused"},
            headers={"Host": "evil.example.com"},
        )
        assert refused.status_code in (400, 403), refused.status_code
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
