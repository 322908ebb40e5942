"""How far a training task is, from a ``GET /status/{task_id}`` answer (pure functions)."""

from __future__ import annotations

from typing import Any

FINISHED = ("succeeded", "failed")


def task_fraction(status: dict[str, Any]) -> float:
    """0..1 over the whole task: finished runs, plus the current run's epochs (or folds) done.

    A task is a chain of Dagster runs (data, parent, child training), so the current run's own
    progress only fills its share of the bar.
    """
    if status.get("state") == "succeeded":
        return 1.0
    total = max(int(status.get("steps_total") or 0), 1)
    done = min(max(int(status.get("steps_done") or 0), 0), total)
    within = 0.0
    progress = status.get("progress") or {}
    try:
        units_done = float(progress.get("done", 0))
        units_total = float(progress.get("total", 0))
    except (TypeError, ValueError):
        units_done = units_total = 0.0
    if units_total > 0 and done < total:
        within = min(max(units_done / units_total, 0.0), 1.0)
    return min((done + within) / total, 0.99)  # never "full" before the task says succeeded


def task_caption(status: dict[str, Any]) -> str:
    """One line: state, run k of n and its job, then phase and epochs (or folds) done/total."""
    state = str(status.get("state", "unknown"))
    total = int(status.get("steps_total") or 0)
    done = int(status.get("steps_done") or 0)
    parts = [state.capitalize()]
    if total and state not in FINISHED:
        parts.append(f"run {min(done + 1, total)} of {total}")
    if status.get("job") and state not in FINISHED:
        parts.append(str(status["job"]))
    progress = status.get("progress") or {}
    if progress and state not in FINISHED and progress.get("total"):
        unit = str(progress.get("unit") or "step")
        phase = f"{progress['phase']}: " if progress.get("phase") else ""
        parts.append(f"{phase}{unit} {progress.get('done', 0)}/{progress['total']}")
    return " · ".join(parts)
