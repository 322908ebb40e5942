"""The real API on loopback for the front-end tests, and one sample ticker trained through it.

One API process serves every test here (starting it and training a ticker are the expensive
parts); it has its own data dir, Dagster home and Redis key prefix, and tiny model sizes.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from streamlit.testing.v1 import AppTest

from bench.bench_api import stop, wait_until_up

REPO = Path(__file__).resolve().parents[2]
PAGES = REPO / "streamlit_app" / "views"
APP = REPO / "streamlit_app" / "app.py"
REDIS_URL = "redis://127.0.0.1:6379/0"
ADMIN_TOKEN = "ui-test-admin-token"
SAMPLE_TICKER = "IBM"
# Smaller still than the API tests' sizes (one epoch per model; four folds is the backtest's
# minimum): the front end needs a served model with a backtest table, not a good one. The
# promotion policy is the real one (the champion is then the naive baseline).
UI_RUNS = {
    "parent_training": {
        "ops": {
            "parent_model": {
                "config": {"lookback": 20, "hidden_size": 8, "num_layers": 1, "epochs": 1,
                           "patience": 1}
            }
        }
    },
    "ticker_training": {
        "ops": {
            "child_model": {"config": {"epochs": 1, "patience": 1}},
            "backtest": {
                "config": {"n_folds": 4, "test_years": 0.5}
            },
        }
    },
}  # fmt: skip
# Generous: training on a busy two-core machine; a page run normally takes seconds.
PAGE_TIMEOUT_S = 600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class ApiServer:
    url: str
    admin_token: str
    log: Path

    def has_route(self, path: str) -> bool:
        """Whether the running API offers ``path`` (some routes arrive in later releases)."""
        paths = httpx.get(self.url + "/openapi.json", timeout=10).json()["paths"]
        return path in paths


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """``uvicorn --factory serving_api.app:create_app`` on a free port, on an empty data dir."""
    root = tmp_path_factory.mktemp("ui-api")
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    prefix = f"stockops-test:{uuid.uuid4().hex[:8]}:"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKOPS_")}
    env.update({
        "STOCKOPS_DATA_DIR": str(root / "data"),
        "DAGSTER_HOME": str(home),
        "STOCKOPS_REDIS_URL": REDIS_URL,
        "STOCKOPS_REDIS_KEY_PREFIX": prefix,
        "STOCKOPS_ADMIN_TOKEN": ADMIN_TOKEN,
        "STOCKOPS_RUN_CONFIG_OVERRIDES": json.dumps(UI_RUNS),
        "STOCKOPS_TORCH_THREADS": "1",
        # The real local LLM writes the report, in one pass of short calls: the pages only
        # need a report to show, and every second here is paid by the whole suite.
        "STOCKOPS_AGENT_MAX_REVISIONS": "0",
        "STOCKOPS_LLM_MAX_TOKENS": "48",
    })  # fmt: skip
    port = free_port()
    log = root / "api.log"
    uvicorn = Path(sys.executable).parent / "uvicorn"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(uvicorn), "--factory", "serving_api.app:create_app",
             "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url + "/health", proc, log, timeout_s=180)
        yield ApiServer(url, ADMIN_TOKEN, log)
    finally:
        stop(proc)
        with contextlib.suppress(redis.RedisError):
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(match=prefix + "*"))
            if keys:
                client.delete(*keys)
            client.close()


@pytest.fixture
def ui_env(api_server: ApiServer, monkeypatch: pytest.MonkeyPatch) -> ApiServer:
    """Point the pages (which read their settings on every run) at the test API."""
    for name in list(os.environ):
        if name.startswith(("STOCKOPS_API_", "STOCKOPS_UI_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("STOCKOPS_API_URL", api_server.url)
    monkeypatch.setenv("STOCKOPS_UI_POLL_INTERVAL_S", "0.5")
    return api_server


def page(name: str) -> AppTest:
    return AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=PAGE_TIMEOUT_S)


@pytest.fixture(scope="session")
def first_analysis(api_server: ApiServer) -> AppTest:
    """The Analyze page run for a ticker the API has never seen: it trains the sample ticker
    (202, progress bar fed by /status), then shows its forecast and report. Every later test
    sees that trained model."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STOCKOPS_API_URL", api_server.url)
        patch.setenv("STOCKOPS_UI_POLL_INTERVAL_S", "0.5")
        at = page("analyze").run()
        at.text_input(key="analyze_ticker").input(SAMPLE_TICKER.lower())
        at.button[0].click().run()
    return at
