"""Reports on disk: ``<outputs>/reports/<slug>/latest.json``, written atomically.

Shape: ``{"ticker", "as_of", "created_at", "report", "evaluation", ...}``; the extra keys
(``model_id``, ``question``, ``facts``) say what the report was made from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stock_assets.domain import layout
from stock_assets.domain.storage import atomic_write_text
from stock_assets.domain.symbols import ticker_from_slug
from stock_assets.settings import Settings


def reports_dir(settings: Settings) -> Path:
    return layout.reports_dir(settings.resolved_outputs_dir)


def report_path(settings: Settings, ticker: str) -> Path:
    return layout.agent_report_path(settings.resolved_outputs_dir, ticker)


def write_report(settings: Settings, record: dict[str, Any]) -> Path:
    return atomic_write_text(json.dumps(record, indent=1), report_path(settings, record["ticker"]))


def read_report(settings: Settings, ticker: str) -> dict[str, Any] | None:
    try:
        return json.loads(report_path(settings, ticker).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def read_all(folder: Path) -> dict[str, dict[str, Any]]:
    """Every stored report under ``folder`` (``reports/``) by ticker; unreadable ones skipped."""
    out: dict[str, dict[str, Any]] = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob(f"*/{layout.LATEST_JSON}")):
        try:
            out[ticker_from_slug(path.parent.name)] = json.loads(path.read_text("utf-8"))
        except (ValueError, OSError):
            continue
    return out
