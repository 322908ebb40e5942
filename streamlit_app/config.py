"""Front-end configuration from environment variables.

The front end is a pure API client: it shares no code with the platform, so it reads its few
``STOCKOPS_*`` variables here instead of through the platform's settings module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_API_URL = "http://127.0.0.1:8000"


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}.") from exc
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {raw!r}.")
    return value


@dataclass(frozen=True)
class UiConfig:
    api_url: str
    api_key: str | None
    request_timeout_s: float
    analyze_timeout_s: float
    task_timeout_s: float
    poll_interval_s: float


def load_config() -> UiConfig:
    """Read on every script run, so a changed environment needs no restart of the code."""
    return UiConfig(
        api_url=(os.environ.get("STOCKOPS_API_URL", "").strip() or DEFAULT_API_URL).rstrip("/"),
        api_key=os.environ.get("STOCKOPS_API_KEY", "").strip() or None,
        request_timeout_s=_float("STOCKOPS_UI_REQUEST_TIMEOUT_S", 30.0),
        # Writing a report runs a local language model: allow it much longer than a forecast.
        analyze_timeout_s=_float("STOCKOPS_UI_ANALYZE_TIMEOUT_S", 300.0),
        task_timeout_s=_float("STOCKOPS_UI_TASK_TIMEOUT_S", 1800.0),
        poll_interval_s=_float("STOCKOPS_UI_POLL_INTERVAL_S", 1.0),
    )
