"""The chart's MLflow server command, run for real: the same arguments and backend store URI
(host, port and database swapped for the local Postgres and a free port), answering /health to
clients that use the Service name and refusing unknown Host headers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.deploy.manifests import PG, RELEASE, VENV_BIN, Rendered, pod_spec

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
    spec = pod_spec(renderings["default"].get("Deployment", f"{RELEASE}-mlflow"))
    (upgrade,) = spec["initContainers"]
    (container,) = spec["containers"]
    # The chart's own entry point (python -c: the backend store URI from its parts, the password
    # URL-encoded), pointed at the local Postgres: host, port, user and database swapped.
    env = {e["name"]: e.get("value") for e in container["env"] if "value" in e}
    env.update(
        MLFLOW_DB_HOST=PG["host"],
        MLFLOW_DB_PORT=str(PG["port"]),
        MLFLOW_DB_USER=PG["user"],
        MLFLOW_DB_NAME=database,
        MLFLOW_DB_SSLMODE="disable",
        MLFLOW_DB_PASSWORD="p@ss/w:rd#%",  # trust auth ignores it; the URI must still parse
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        HOME=str(tmp_path),
    )
    python = str(VENV_BIN / "python")
    # The init container first: `mlflow db upgrade` creates the schema on the empty database.
    migrated = subprocess.run(
        [python, *upgrade["command"][1:], *upgrade["args"]],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr[-3000:]
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
        [python, *container["command"][1:], *args],
        env={**os.environ, **env},
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
        # The ALB's health check (the Service's healthcheck-path) sends the target's address as
        # Host: /health answers it, where / would be refused.
        for host in ("10.0.60.17:5000", "10.0.60.17"):
            probe = httpx.get(f"{base}/health", headers={"Host": host})
            assert probe.status_code == 200, (host, probe.status_code)
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
