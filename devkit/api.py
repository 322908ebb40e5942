"""An API in process under test: its settings over a folder of its own, and following a task to
its end through ``/status`` (the way a client does)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import dagster as dg
import httpx

from devkit.servers import REDIS_URL
from stock_assets.defs.assets.forecasting import FORECAST_KEY
from stock_assets.defs.run_state import materialized
from stock_assets.settings import Settings

TERMINAL = {"succeeded", "failed"}


def api_settings(root: Path, prefix: str, **overrides: Any) -> Settings:
    """Settings over ``root / "data"``, Redis keys under ``prefix``."""
    return Settings(
        data_dir=root / "data",
        redis_url=overrides.pop("redis_url", REDIS_URL),
        redis_key_prefix=prefix,
        **overrides,
    )


def wait_for_task(
    client: httpx.Client,
    status_url: str,
    instance: dg.DagsterInstance | None = None,
    timeout_s: float = 400,
) -> dict[str, Any]:
    """Poll ``status_url`` (``/status/{task_id}``) to the end. With ``instance``, every answer is
    checked against it: never ``succeeded`` while the ticker has no forecast. Returns the last
    answer, with the states (``seen``) and progress events (``progress_seen``) on the way."""
    deadline = time.monotonic() + timeout_s
    seen: list[str] = []
    progress: list[dict[str, Any]] = []
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = client.get(status_url).json()
        if body["state"] == "succeeded" and instance is not None:
            assert materialized(instance, FORECAST_KEY, body["ticker"]), body
        seen.append(body["state"])
        if body["progress"]:
            progress.append(body["progress"])
        if body["state"] in TERMINAL:
            return {**body, "seen": seen, "progress_seen": progress}
        time.sleep(0.3)
    raise AssertionError(f"{status_url} still {body} after {timeout_s} s")
