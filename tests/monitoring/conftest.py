"""Helpers for the monitoring tests: the repo's monitoring folder, promtool, a scraped app."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip(
            "promtool is not installed (Debian package 'prometheus'; `make test` installs it)"
        )
    return path


@pytest.fixture(scope="session")
def prometheus() -> str:
    path = shutil.which("prometheus")
    if path is None:
        pytest.skip(
            "prometheus is not installed (Debian package 'prometheus'; `make test` installs it)"
        )
    return path


@pytest.fixture(scope="module")
def monitoring_dir() -> Iterator[Path]:
    yield MONITORING
