"""Test-wide set-up and fixtures: every test run gets its own data directory and Dagster home.

The environment is set before anything of ours is imported, because settings are read once.
Helpers come from ``devkit`` (imported by tests and benchmarks alike), fixtures from here and
from the conftest of each folder; no test imports a conftest module.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with the most slow tests first. ``make test`` hands whole files to two workers
    (``--dist loadfile``) in this order: a long file handed out last keeps one worker busy while
    the other idles, so the longest go first (the order within a file is kept)."""
    slow = Counter(item.path for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow[item.path])


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


@pytest.fixture(scope="session")
def trained() -> Any:
    """``devkit.platform.TRAINED_TICKER`` onboarded on a tiny platform (a ``TinyPlatform``), the
    same one for every test of the process that only reads what it serves."""
    from devkit.platform import trained_platform

    return trained_platform()


@pytest.fixture
def prefix() -> Iterator[str]:
    """A unique Redis key prefix; every key under it is deleted afterwards."""
    from devkit.servers import delete_redis_keys, redis_prefix

    value = redis_prefix()
    yield value
    delete_redis_keys(value)


@pytest.fixture
def make_client(tmp_path: Path, prefix: str) -> Iterator[Callable[..., Any]]:
    """Build a started ``TestClient`` over a fresh app (own data dir and Dagster instance), whose
    runs train with the tiny sizes."""
    import dagster as dg
    from fastapi.testclient import TestClient

    from devkit.api import api_settings
    from devkit.sizes import TINY_RUNS
    from serving_api.app import create_app

    stack: list[Any] = []

    def build(*, launcher: Any = None, instance: Any = None, **overrides: Any) -> TestClient:
        if instance is None:
            home = tmp_path / f"dagster{len(stack)}"
            home.mkdir()
            ctx = dg.instance_for_test(temp_dir=str(home))
            instance = ctx.__enter__()
            stack.append(ctx)
        settings = api_settings(tmp_path, prefix, **overrides)
        app = create_app(
            settings, instance=instance, launcher=launcher, run_config_overrides=TINY_RUNS
        )
        client = TestClient(app)
        client.__enter__()
        stack.append(client)
        return client

    yield build
    for item in reversed(stack):
        item.__exit__(None, None, None)
