"""What every benchmark shares: the machine description and writing results beside it."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


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
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "memory_gib": mem_gib,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def write_results(
    name: str,
    figures: list[dict[str, Any]],
    extra: dict[str, Any] | None = None,
    markdown: str | None = None,
) -> Path:
    """``figures``: dicts with figure, value, unit, target (text) and met (bool or None);
    ``markdown``: detailed tables appended to ``<name>.md`` below the figures."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "machine": machine(), "figures": figures, **(extra or {})}
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    lines = [
        f"# {name}",
        "",
        f"Machine: {payload['machine']['cpu']} x{payload['machine']['cpu_count']}, "
        f"{payload['machine']['memory_gib']} GiB, {payload['machine']['platform']}; "
        f"{payload['machine']['date']}",
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
    (RESULTS_DIR / f"{name}.md").write_text("\n".join(lines) + "\n")
    for f in figures:
        value = f"{f['value']!s} {f.get('unit', '')}"
        print(f"{f['figure']:<58} {value:>14}   target {f.get('target', '-')}")
    return path
