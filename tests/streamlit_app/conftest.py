"""The real API on loopback for the front-end tests, and one sample ticker trained through it.

One API process serves every test here (starting it and training a ticker are the expensive
parts); it has its own data dir, Dagster home and Redis key prefix, and tiny model sizes.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from streamlit.testing.v1 import AppTest

from tests.support.servers import (
    api_env,
    delete_redis_keys,
    free_port,
    redis_prefix,
    serving,
    uvicorn_api,
)

REPO = Path(__file__).resolve().parents[2]
PAGES = REPO / "streamlit_app" / "views"
APP = REPO / "streamlit_app" / "app.py"
REDIS_URL = "redis://127.0.0.1:6379/0"
ADMIN_TOKEN = "ui-test-admin-token"
SAMPLE_TICKER = "IBM"
# Smaller still than the API tests' sizes (one epoch per model; four folds is the backtest's
# minimum): the front end needs a served model with a backtest table, not a good one. The
# promotion policy is the real one (the champion is then the naive baseline).
_PARENT = {
    "ops": {
        "parent_model": {
            "config": {"lookback": 20, "hidden_size": 8, "num_layers": 1, "epochs": 1,
                       "patience": 1}
        }
    }
}  # fmt: skip
_CHILD = {
    "ops": {
        "child_model": {"config": {"epochs": 1, "patience": 1}},
        "backtest": {"config": {"n_folds": 4, "test_years": 0.5}},
    }
}
UI_RUNS = {
    "platform_bootstrap": _PARENT,
    "parent_training": _PARENT,
    "onboard_ticker": _CHILD,
    "ticker_training": _CHILD,
}
# Generous: training on a busy two-core machine; a page run normally takes seconds.
PAGE_TIMEOUT_S = 600


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
    prefix = redis_prefix()
    env = api_env(
        root,
        prefix,
        STOCKOPS_ADMIN_TOKEN=ADMIN_TOKEN,
        STOCKOPS_RUN_CONFIG_OVERRIDES=json.dumps(UI_RUNS),
        STOCKOPS_TORCH_THREADS="1",
        # The real local LLM writes the report, in one pass of short calls: the pages only
        # need a report to show, and every second here is paid by the whole suite.
        STOCKOPS_AGENT_MAX_REVISIONS="0",
        STOCKOPS_LLM_MAX_TOKENS="48",
    )
    port = free_port()
    log = root / "api.log"
    url = f"http://127.0.0.1:{port}"
    try:
        with serving(uvicorn_api(port), env, log, url + "/health/live"):
            yield ApiServer(url, ADMIN_TOKEN, log)
    finally:
        with contextlib.suppress(redis.RedisError):
            delete_redis_keys(prefix)


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
