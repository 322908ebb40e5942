"""Fixtures for API tests: temp data dirs, a Dagster test instance, a unique Redis key prefix."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from fastapi.testclient import TestClient

from serving_api.app import create_app
from stock_assets.settings import Settings
from tests.support.servers import delete_redis_keys, redis_prefix

REDIS_URL = "redis://127.0.0.1:6379/0"
TINY_PARENT = {"lookback": 20, "hidden_size": 8, "num_layers": 1, "epochs": 2, "patience": 1}
# Tiny sizes for every run the API launches. The promotion policy is the real one: on the offline
# stocks it makes the naive baseline the champion, which is what the API then serves.
TINY_CHILD_RUN = {
    "ops": {
        "child_model": {"config": {"epochs": 2, "patience": 1}},
        "backtest": {"config": {"n_folds": 4, "test_years": 0.5}},
    }
}
TINY_RUNS: dict[str, dict[str, Any]] = {
    "platform_bootstrap": {"ops": {"parent_model": {"config": TINY_PARENT}}},
    "parent_training": {"ops": {"parent_model": {"config": TINY_PARENT}}},
    "onboard_ticker": TINY_CHILD_RUN,
    "ticker_training": TINY_CHILD_RUN,
}


@pytest.fixture
def prefix() -> Iterator[str]:
    """A unique Redis key prefix; every key under it is deleted afterwards."""
    value = redis_prefix()
    yield value
    delete_redis_keys(value)


def make_settings(root: Path, prefix: str, **overrides: Any) -> Settings:
    return Settings(
        data_dir=root / "data",
        redis_url=overrides.pop("redis_url", REDIS_URL),
        redis_key_prefix=prefix,
        **overrides,
    )


@pytest.fixture
def make_client(tmp_path: Path, prefix: str) -> Iterator[Callable[..., TestClient]]:
    """Build a started TestClient over a fresh app (own data dir and Dagster instance)."""
    stack: list[Any] = []

    def build(
        *, launcher: Any = None, instance: dg.DagsterInstance | None = None, **overrides: Any
    ) -> TestClient:
        if instance is None:
            home = tmp_path / f"dagster{len(stack)}"
            home.mkdir()
            ctx = dg.instance_for_test(temp_dir=str(home))
            instance = ctx.__enter__()
            stack.append(ctx)
        settings = make_settings(tmp_path, prefix, **overrides)
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
