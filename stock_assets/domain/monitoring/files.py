"""Where monitoring results live and how they are read back.

Per ticker slug, under the outputs dir::

    drift/<slug>/latest.json     the drift summary (written last, atomically)
    drift/<slug>/latest.html     the Evidently report it points at, when one was rendered
    drift/<slug>/reference.json  the data end the last champion decision validated
    reports/<slug>/latest.json   the agents' latest report and its evaluation (read only here)

The HTML is moved into place before the JSON that names it, so a reader that finds the summary
always finds its report; both are written to a temp file and renamed (never half-written).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stock_assets.domain.layout import (
    adopted_reference_path,
    agent_report_path,
    drift_html_path,
    drift_summary_path,
)
from stock_assets.domain.storage import atomic_write, atomic_write_text


def write_drift_report(
    outputs_dir: Path, ticker: str, summary: dict[str, Any], save_html: Any | None
) -> tuple[Path, Path | None]:
    """Write the HTML (``save_html(path)``), then the summary naming it; return both paths.

    Without ``save_html`` no report is rendered, and an older one (of other windows) is removed
    before the summary is written, so no reader finds a report that does not match it."""
    target = drift_html_path(outputs_dir, ticker)
    if save_html is None:
        target.unlink(missing_ok=True)
        html = None
        payload = dict(summary)
    else:
        html = atomic_write(target, lambda tmp: save_html(str(tmp)))
        payload = {**summary, "html_path": str(html)}
    path = atomic_write_text(
        json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n",
        drift_summary_path(outputs_dir, ticker),
    )
    return path, html


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None  # unreadable: treated as missing, the next report replaces it
    return data if isinstance(data, dict) else None


def write_adopted_reference(
    outputs_dir: Path, ticker: str, data_end: str, outcome: str, decided_at: str
) -> Path:
    """Record that a champion decision validated the data up to ``data_end``: the drift
    reference from now on (see ``drift_windows``)."""
    payload = {"data_end": data_end, "outcome": outcome, "decided_at": decided_at}
    return atomic_write_text(
        json.dumps(payload, sort_keys=True) + "\n", adopted_reference_path(outputs_dir, ticker)
    )


def read_adopted_reference(outputs_dir: Path, ticker: str) -> dict[str, Any] | None:
    return _read_json(adopted_reference_path(outputs_dir, ticker))


def read_drift_summary(outputs_dir: Path, ticker: str) -> dict[str, Any] | None:
    """The latest drift summary of a ticker, or None."""
    return _read_json(drift_summary_path(outputs_dir, ticker))


def read_agent_report(outputs_dir: Path, ticker: str) -> dict[str, Any] | None:
    """The agents' latest report file of a ticker (``{"report", "evaluation", ...}``), or None."""
    return _read_json(agent_report_path(outputs_dir, ticker))
