"""What the front-end tests share besides their fixtures: the app's files, the sample ticker the
API trains for them, and a page under ``AppTest``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streamlit.testing.v1 import AppTest

from devkit.servers import REPO
from devkit.sizes import run_configs, tiny

PAGES = REPO / "streamlit_app" / "views"
APP = REPO / "streamlit_app" / "app.py"
SAMPLE_TICKER = "IBM"
# One epoch per model, smaller still than the API tests' sizes: the front end needs a served
# model with a backtest table, not a good one.
UI_RUNS = run_configs(tiny(epochs=1))
# Generous: training on a busy two-core machine; a page run normally takes seconds.
PAGE_TIMEOUT_S = 600


@dataclass(frozen=True)
class ApiServer:
    url: str
    admin_token: str
    log: Path


def page(file: str) -> AppTest:
    """The page ``streamlit_app/views/<file>``, not yet run."""
    return AppTest.from_file(str(PAGES / file), default_timeout=PAGE_TIMEOUT_S)
