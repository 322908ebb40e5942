"""Test-wide set-up: every test run gets its own data directory and Dagster home.

The environment is set before anything of ours is imported, because settings are read once.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="stockops-tests-"))
os.environ["STOCKOPS_DATA_DIR"] = str(_SESSION_DIR / "data")
os.environ["DAGSTER_HOME"] = str(_SESSION_DIR / "dagster_home")
os.environ.setdefault("FEAST_USAGE", "False")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
Path(os.environ["DAGSTER_HOME"], "dagster.yaml").write_text("telemetry:\n  enabled: false\n")

from stock_assets.settings import Settings  # noqa: E402


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose every path is under this test's temporary folder."""
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def dagster_instance(tmp_path: Path) -> Iterator[object]:
    import dagster as dg

    home = tmp_path / "dagster"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        yield instance
