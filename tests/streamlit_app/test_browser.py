"""End to end in a real browser: the API and Streamlit as servers, headless Chromium driving the
Analyze page for the sample ticker until the forecast chart and the report are on screen."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from devkit.servers import BIN, REPO, free_port, start, stop, wait_until_up
from tests.required_tools import require_tool
from tests.streamlit_app.pages import APP, SAMPLE_TICKER, ApiServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCREENSHOTS = REPO / "test-output"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Training happened in the shared fixture; what is left is a report (a local LLM on a busy
# machine at worst) and drawing.
RESULT_TIMEOUT_MS = 300_000


@pytest.fixture
def streamlit_url(api_server: ApiServer, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "STOCKOPS_API_URL": api_server.url}
    log = tmp_path / "streamlit.log"
    flags = [
        "--server.headless=true",
        "--server.address=127.0.0.1",
        f"--server.port={port}",
        "--server.fileWatcherType=none",
        "--browser.gatherUsageStats=false",
        "--client.toolbarMode=minimal",
    ]
    proc = start([str(BIN / "streamlit"), "run", str(APP), *flags], env, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url + "/_stcore/health", proc, log, timeout_s=60)
        yield url
    finally:
        stop(proc)


def test_analyze_in_a_browser_shows_chart_and_report(
    streamlit_url: str, api_server: ApiServer, first_analysis: AppTest
) -> None:
    chromium = require_tool("chromium", hint="Debian chromium (scripts/install-system-packages.sh)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    SCREENSHOTS.mkdir(exist_ok=True)
    shot = SCREENSHOTS / "streamlit_analyze.png"
    shot.unlink(missing_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(streamlit_url, wait_until="domcontentloaded")
            ticker = page.get_by_label("Ticker", exact=True)
            ticker.wait_for(timeout=60_000)
            ticker.fill(SAMPLE_TICKER)
            page.get_by_role("button", name="Analyze").click()

            chart = page.locator("[data-testid='stPlotlyChart'] .js-plotly-plot")
            chart.first.wait_for(timeout=RESULT_TIMEOUT_MS)
            # Plotly drew the traces: the close history and the forecast band and median.
            assert chart.first.locator("g.scatterlayer g.trace").count() >= 3
            page.get_by_role("heading", name="Report", exact=True).wait_for(
                timeout=RESULT_TIMEOUT_MS
            )
            stance = page.get_by_test_id("stMetric").filter(has_text="Stance")
            stance.wait_for(timeout=RESULT_TIMEOUT_MS)
            assert re.search(r"bullish|bearish|neutral", stance.inner_text())
            texts = page.get_by_test_id("stMarkdownContainer").all_inner_texts()
            assert any(SAMPLE_TICKER in t and len(t) > 300 for t in texts), texts
            assert page.get_by_test_id("stException").count() == 0
            # Streamlit scrolls inside its own container: a tall window shows the whole page.
            page.set_viewport_size({"width": 1400, "height": 3200})
            page.wait_for_timeout(1000)  # the chart re-lays out to the new size
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
