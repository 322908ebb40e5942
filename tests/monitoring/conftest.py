"""Helpers for the monitoring tests: the repo's monitoring folder, promtool, a scraped app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.required_tools import require_tool

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_tool("promtool", hint="Debian package 'prometheus'; `make test` installs it")


@pytest.fixture(scope="session")
def prometheus() -> str:
    return require_tool("prometheus", hint="Debian package 'prometheus'; `make test` installs it")


@pytest.fixture(scope="module")
def monitoring_dir() -> Iterator[Path]:
    yield MONITORING
