"""The real API on loopback for the front-end tests, and one sample ticker trained through it.

One API process serves every test here (starting it and training a ticker are the expensive
parts); it has its own data dir, Dagster home and Redis key prefix, and tiny model sizes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest

from devkit.servers import running_api
from tests.streamlit_app.pages import SAMPLE_TICKER, UI_RUNS, ApiServer, page

ADMIN_TOKEN = "ui-test-admin-token"


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """``uvicorn --factory serving_api.app:create_app`` on a free port, on an empty data dir."""
    with running_api(
        tmp_path_factory.mktemp("ui-api"),
        STOCKOPS_ADMIN_TOKEN=ADMIN_TOKEN,
        STOCKOPS_RUN_CONFIG_OVERRIDES=json.dumps(UI_RUNS),
        STOCKOPS_TORCH_THREADS="1",
        # The real local LLM restates one fact per paragraph: the pages only need a report
        # with sentences of both writers to show, and every second here is paid by the suite.
        STOCKOPS_AGENT_SENTENCE_BUDGET="1",
    ) as api:
        yield ApiServer(api.url, ADMIN_TOKEN, api.log)


@pytest.fixture
def ui_env(api_server: ApiServer, monkeypatch: pytest.MonkeyPatch) -> ApiServer:
    """Point the pages (which read their settings on every run) at the test API."""
    for name in list(os.environ):
        if name.startswith(("STOCKOPS_API_", "STOCKOPS_UI_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("STOCKOPS_API_URL", api_server.url)
    monkeypatch.setenv("STOCKOPS_UI_POLL_INTERVAL_S", "0.5")
    return api_server


@pytest.fixture(scope="session")
def first_analysis(api_server: ApiServer) -> AppTest:
    """The Analyze page run for a ticker the API has never seen: it trains the sample ticker
    (202, progress bar fed by /status), then shows its forecast and report. Every later test
    sees that trained model."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STOCKOPS_API_URL", api_server.url)
        patch.setenv("STOCKOPS_UI_POLL_INTERVAL_S", "0.5")
        at = page("analyze.py").run()
        at.text_input(key="analyze_ticker").input(SAMPLE_TICKER.lower())
        at.button[0].click().run()
    return at
