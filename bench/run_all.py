"""Run every benchmark, then write ``bench/results/summary.md``: one table of every figure.

    .venv/bin/python bench/run_all.py [--quick] [--only api agents ...] [--summary-only]

Each benchmark runs in its own process (a clean interpreter, so one's memory or threads never
colour another's figures) and writes ``bench/results/<name>.json`` with the machine and commit it
ran on. The summary is rebuilt from every result file present, so a partial run (``--only``)
keeps the figures of the others and each row says when, where and on which commit it was
measured. ``--quick`` runs each benchmark at its smoke sizes (seconds; what the test suite runs)
into ``bench/results/quick/``, never over the measurements.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: make ``bench.common`` importable
    sys.path.insert(0, str(REPO))

from bench.common import describe_revision, machine, results_dir  # noqa: E402

# name -> (module, arguments for --quick). Order: cheap first, so a failure shows early.
BENCHMARKS: dict[str, tuple[str, list[str]]] = {
    "claims": ("bench.bench_claims", ["--quick"]),
    "grounding": ("bench.bench_grounding", ["--quick"]),
    "data": ("bench.bench_data", ["--quick"]),
    "api": ("bench.bench_api", ["--quick"]),
    "agents": ("bench.bench_agents", ["--quick"]),
    "soak": ("bench.bench_soak", ["--quick"]),
    "drift": ("bench.bench_drift", ["--quick"]),
    "request_id": ("bench.bench_request_id", ["--quick"]),
    "graph": ("bench.bench_graph", ["--quick"]),
    "signal": ("bench.bench_signal", ["--quick"]),
    "null": ("bench.bench_null", ["--quick"]),
    "lstm_fit": ("bench.bench_lstm_fit", ["--quick"]),
    "models": ("bench.bench_models", ["--quick"]),
    "transfer": ("bench.bench_transfer", ["--quick"]),
    "transfer_history": ("bench.bench_transfer_history", ["--quick"]),
    "replay": ("bench.bench_replay", ["--quick"]),
    "scale": ("bench.bench_scale", ["--quick"]),
    "refresh": ("bench.bench_refresh", ["--quick"]),
    # After graph and refresh: it reads their results.
    "cost_model": ("bench.cost_model", ["--quick"]),
    # Last: it runs `make up` (on the default ports; on free ones with --quick).
    "onboarding": ("bench.bench_onboarding", ["--quick"]),
}


def _present(module: str) -> bool:
    return (REPO / (module.replace(".", "/") + ".py")).exists()


def run(names: list[str], quick: bool) -> dict[str, int]:
    """Run the named benchmarks in order; return each one's exit code."""
    codes: dict[str, int] = {}
    for name in names:
        module, quick_args = BENCHMARKS[name]
        if not _present(module):
            print(f"== {name}: {module} not present, skipped")
            continue
        args = [sys.executable, "-m", module, *(quick_args if quick else [])]
        print(f"== {name}: {' '.join(args[1:])}", flush=True)
        started = time.perf_counter()
        codes[name] = subprocess.call(args, cwd=REPO)
        print(f"== {name}: exit {codes[name]} after {time.perf_counter() - started:.0f} s")
    return codes


def _met(value: Any) -> str:
    return {True: "yes", False: "**no**", None: "-"}.get(value, "-")


def summary(codes: dict[str, int] | None = None, quick: bool = False) -> str:
    """The Markdown summary of every result file of full (or quick) runs."""
    here = machine()
    lines = [
        "# Benchmark summary" + (" (quick runs: smoke sizes, not measurements)" if quick else ""),
        "",
        f"Written {here['date']} on {here['cpu']} x{here['cpu_count']}, "
        f"{here['memory_gib']} GiB. Each row keeps the machine, date and commit of its own run "
        "(`make bench` reruns them all; `bench/<name>.py` documents each).",
        "",
        "| benchmark | figure | value | target | met | machine | date | commit |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for path in sorted(results_dir(quick).glob("*.json")):
        data = json.loads(path.read_text())
        if "figures" not in data:
            continue
        ran_on = data.get("machine", {})
        where = f"{ran_on.get('cpu', '?')} x{ran_on.get('cpu_count', '?')}"
        commit = describe_revision(data["revision"]) if "revision" in data else "not recorded"
        for fig in data["figures"]:
            value = f"{fig['value']} {fig.get('unit', '')}".strip()
            lines.append(
                f"| {data.get('benchmark', path.stem)} | {fig['figure']} | {value} "
                f"| {fig.get('target', '-')} | {_met(fig.get('met'))} | {where} "
                f"| {ran_on.get('date', '?')} | {commit} |"
            )
    if codes:
        failed = [name for name, code in codes.items() if code != 0]
        lines += ["", f"Last run: {', '.join(codes)}; failed: {', '.join(failed) or 'none'}."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke sizes, seconds each")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these")
    parser.add_argument("--summary-only", action="store_true", help="rebuild summary.md only")
    parser.add_argument("--list", action="store_true", help="print the benchmarks as JSON")
    args = parser.parse_args()
    if args.list:  # what the test suite runs, in this order, without importing bench/
        print(json.dumps({name: [module, *quick] for name, (module, quick) in BENCHMARKS.items()}))
        return 0
    codes = {} if args.summary_only else run(args.only or list(BENCHMARKS), args.quick)
    folder = results_dir(args.quick)
    folder.mkdir(parents=True, exist_ok=True)
    text = summary(codes, args.quick)
    (folder / "summary.md").write_text(text)
    print(text)
    return 1 if any(codes.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
