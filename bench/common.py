"""What every benchmark shares: the machine and commit it measured, and writing results.

Full runs write ``bench/results/<name>.json`` and ``.md`` (committed: what the README quotes).
Quick runs (``--quick``: seconds, the sizes the test suite runs) write the same files under
``STOCKOPS_BENCH_QUICK_DIR`` (default ``bench/results/quick/``, ignored by git), so a smoke run
never overwrites a measurement.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "bench" / "results"
QUICK_DIR_ENV = "STOCKOPS_BENCH_QUICK_DIR"


def results_dir(quick: bool = False) -> Path:
    """Where results of a full (or quick) run are written and read."""
    if not quick:
        return RESULTS_DIR
    return Path(os.environ.get(QUICK_DIR_ENV) or RESULTS_DIR / "quick")


def revision() -> dict[str, Any]:
    """The commit the measured code is at, and whether the working tree's code differed from it:
    a figure is quoted with its commit only when ``dirty`` is false."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False, timeout=30
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    # Results and prose (Markdown) are not the measured code.
    changes = git("status", "--porcelain", "--", ".", ":(exclude)bench/results", ":(exclude)*.md")
    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(changes)}


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        first = meminfo.read_text().splitlines()[0].split()
        mem_gib = round(int(first[1]) / 1024 / 1024, 1)
    # Other work on the machine moves the figures: the load averages (1, 5, 15 min) at the end of
    # the run say how busy it was.
    load = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    return {
        "platform": platform.platform(),
        "load_average": load,
        "python": platform.python_version(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "memory_gib": mem_gib,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def run_revision() -> dict[str, Any]:
    """The revision of this run: the code as it was when the benchmark started (this module is
    imported first), dirty as well if the code changed before it wrote its results."""
    now = revision()
    changed = now["commit"] != _STARTED["commit"] or now["dirty"]
    return {**_STARTED, "dirty": _STARTED["dirty"] or changed}


def describe_revision(rev: dict[str, Any]) -> str:
    commit = (rev.get("commit") or "unknown")[:12]
    return f"{commit} with uncommitted changes" if rev.get("dirty") else commit


def write_results(
    name: str,
    figures: list[dict[str, Any]],
    extra: dict[str, Any] | None = None,
    markdown: str | None = None,
    *,
    quick: bool = False,
) -> Path:
    """``figures``: dicts with figure, value, unit, target (text) and met (bool or None);
    ``markdown``: detailed tables appended to ``<name>.md`` below the figures; ``quick``: a
    quick run's (see the module docstring)."""
    folder = results_dir(quick)
    folder.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "mode": "quick" if quick else "full",
        "machine": machine(),
        "revision": run_revision(),
        "figures": figures,
        **(extra or {}),
    }
    path = folder / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    lines = [
        f"# {name}",
        "",
        f"Machine: {payload['machine']['cpu']} x{payload['machine']['cpu_count']}, "
        f"{payload['machine']['memory_gib']} GiB, {payload['machine']['platform']}; "
        f"{payload['machine']['date']}; load average {payload['machine']['load_average']}",
        "",
        f"Commit: {describe_revision(payload['revision'])}"
        + ("; a quick run (smoke sizes), not a measurement" if quick else ""),
        "",
        "| figure | value | target | met |",
        "| --- | --- | --- | --- |",
    ]
    for f in figures:
        met = {True: "yes", False: "no", None: "-"}[f.get("met")]
        lines.append(
            f"| {f['figure']} | {f['value']} {f.get('unit', '')} | {f.get('target', '-')} | {met} |"
        )
    if markdown:
        lines += ["", markdown.rstrip()]
    (folder / f"{name}.md").write_text("\n".join(lines) + "\n")
    for f in figures:
        value = f"{f['value']!s} {f.get('unit', '')}"
        print(f"{f['figure']:<58} {value:>14}   target {f.get('target', '-')}")
    return path


# What the benchmark runs on: read when it starts, not when it writes (a commit in between
# would otherwise take the credit).
_STARTED = revision()
