"""What onboarding and the daily refresh cost on Kubernetes, from measured per-ticker times.

    .venv/bin/python -m bench.cost_model [--price-per-node-hour 0.384] [--node-vcpus 8]

Inputs, all measured on this kind of machine (two cores) and read from ``bench/results``:

- ``full_graph.json`` (``bench.bench_graph``): one ticker's data + features, the parent, and one
  stock's child + backtest + promotion + forecast, in process at default sizes;
- ``refresh_postgres_pod.json`` (``bench.bench_refresh --storage postgres --workers 2
  --concurrency 1``; else ``refresh.json``): the daily refresh of many tickers in batch runs,
  each batch a fresh interpreter: a ticker's own refresh run inside its batch (median, tickers
  with a model) and what each ticker pays besides (batch start-ups, bookkeeping), amortized;
- the start-up every run pays before its first step, measured here: a fresh interpreter that
  imports the code location (``stock_assets.definitions``), what a run pod does first.

``--quick`` reads the quick runs' results instead (``bench/results/quick/``) and times one
start-up (seconds; not a measurement).

The model: the K8s run launcher starts one pod per run (production values: 2 vCPU requested,
the measurement machine's size). Onboarding a ticker is one data run and one training run; the
daily refresh one run per batch of ``STOCKOPS_RUN_BATCH_SIZE`` tickers. At most ``C`` runs at
once (``maxConcurrentRuns``) and ``P`` training runs (``trainingPoolLimit``), so

    onboarding wall ~= parent + N * (data + start) / C + N * (training + start) / min(C, P)
    refresh wall    ~= N * (pod-seconds per ticker) / C

an upper bound (the two onboarding phases overlap in practice). Nodes: enough
``--node-vcpus`` machines for C pods of 2 vCPU with one vCPU per node kept for the system; cost:
node-hours at ``--price-per-node-hour`` (default: an m6i.2xlarge on demand in us-east-1, a
list price to replace with your own). Pod scheduling and image pulls are not in the model: on
a warm node with the image cached they add seconds per run; on a cold autoscaled node, minutes.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import results_dir, write_results

REPO = Path(__file__).resolve().parent.parent
POD_VCPUS = 2
SIZES = (500, 5000)
CONCURRENCY = (8, 32, 128)


def _figure(results: dict[str, Any], prefix: str) -> list[float]:
    return [f["value"] for f in results["figures"] if f["figure"].startswith(prefix)]


def _result(name: str, quick: bool) -> dict[str, Any]:
    path = results_dir(quick) / f"{name}.json"
    if not path.exists():
        raise SystemExit(
            f"{path} is missing: run its benchmark first (bench/run_all.py orders them)"
        )
    return json.loads(path.read_text())


def measured_inputs(quick: bool = False) -> tuple[dict[str, float], dict[str, Any]]:
    """The per-ticker times, and the revision of the results they come from."""
    graph = _result("full_graph", quick)
    # Production's refresh (PostgreSQL storage, each batch a 2-vCPU pod of two processes) when
    # it was measured; else the local default's.
    pod = results_dir(quick) / "refresh_postgres_pod.json"
    refresh = json.loads(pod.read_text()) if pod.exists() else _result("refresh", quick)
    data_all = _figure(graph, "stage: data + features")[0]
    tickers = len(graph["tickers"])  # the stage covers every ticker of the graph run
    children = [
        f["value"]
        for f in graph["figures"]
        if f["figure"].startswith("stage: ") and "child + backtest" in f["figure"]
    ]
    # The batched refresh as bench_refresh ran it: pod-seconds per ticker (wall x concurrent
    # batch runs / tickers), for that run's mix of tickers with and without a model. In
    # production every ticker has a model: each one costs its extra run time (median with a
    # model less the mix's mean), shared by the W processes of its pod.
    n, with_model = refresh["tickers"], refresh["with_model"]
    workers = max(int(refresh.get("workers", 1)), 1)
    plain = _figure(refresh, "work per ticker without a model")[0]
    modelled = _figure(refresh, "work per ticker with a model")[0]
    pod_s = _figure(refresh, "wall per ticker x concurrency")[0]
    own = ((n - with_model) * plain + with_model * modelled) / n
    refresh_pod_s = pod_s + (modelled - own) / workers
    inputs = {
        "data_s": data_all / tickers,
        "parent_s": _figure(graph, "stage: parent model")[0],
        "training_s": statistics.mean(children),
        "training_max_s": max(children),
        "refresh_s": modelled,
        "refresh_workers": float(workers),
        # What a ticker pays besides its own run (its run's creation, batch start-ups, idle
        # slots at the tail), per process: pod time per ticker x W, less the mix's own runs.
        "refresh_overhead_s": max(pod_s * workers - own, 0.0),
        "refresh_pod_s": refresh_pod_s,
        "refresh_batch_size": float(refresh["batch_size"]),
    }
    return inputs, {
        "full_graph": graph.get("revision"),
        "refresh": refresh.get("revision"),
        "refresh_storage": refresh.get("storage", "sqlite"),
        "refresh_workers": refresh.get("workers", 1),
    }


def run_start_s(repeats: int = 3) -> float:
    """Median time for a fresh interpreter to import the code location (a run's first cost)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import stock_assets.definitions"],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def plan(  # noqa: PLR0917  (one figure per argument; the call site names them)
    n: int, c: int, p: int, inputs: dict[str, float], start: float, node_vcpus: int, price: float
) -> dict[str, Any]:
    onboard_s = (
        inputs["parent_s"]
        + start
        + n * (inputs["data_s"] + start) / c
        + n * (inputs["training_s"] + start) / min(c, p)
    )
    per_ticker = inputs["refresh_pod_s"]
    refresh_s = n * per_ticker / c
    nodes = math.ceil(c * POD_VCPUS / (node_vcpus - 1))
    pod_hours_onboard = n * (inputs["data_s"] + inputs["training_s"] + 2 * start) / 3600
    pod_hours_refresh = n * per_ticker / 3600
    return {
        "tickers": n,
        "max concurrent runs (C)": c,
        "training pool (P)": min(c, p),
        "run pods, onboarding": 2 * n + 1,
        "onboarding wall (h)": round(onboard_s / 3600, 2),
        "run pods per daily refresh": math.ceil(n / inputs["refresh_batch_size"]),
        "daily refresh wall (min)": round(refresh_s / 60, 1),
        "nodes for C pods": nodes,
        "pod-hours, onboarding": round(pod_hours_onboard, 1),
        "pod-hours per daily refresh": round(pod_hours_refresh, 1),
        "cost, onboarding ($)": round(nodes * onboard_s / 3600 * price, 2),
        "cost per daily refresh ($)": round(nodes * refresh_s / 3600 * price, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--price-per-node-hour", type=float, default=0.384)
    parser.add_argument("--node-vcpus", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="the quick runs' inputs, one start")
    args = parser.parse_args()

    import pandas as pd

    inputs, sources = measured_inputs(args.quick)
    start = run_start_s(1 if args.quick else 3)
    rows = [
        plan(n, c, round(0.75 * c), inputs, start, args.node_vcpus, args.price_per_node_hour)
        for n in SIZES
        for c in CONCURRENCY
    ]
    per_ticker = inputs["refresh_pod_s"]
    # Concurrent runs for the refresh to finish within an hour of the close.
    needed = {n: math.ceil(n * per_ticker / 3600) for n in SIZES}
    figures = [
        {
            "figure": "run start-up (fresh interpreter imports the code location)",
            "value": round(start, 2),
            "unit": "s",
            "target": "-",
            "met": None,
        },
        {
            "figure": "per ticker: data + features run",
            "value": round(inputs["data_s"], 1),
            "unit": "s",
            "target": "-",
            "met": None,
        },
        {
            "figure": "per stock: child + backtest + promotion + forecast (mean)",
            "value": round(inputs["training_s"], 1),
            "unit": "s",
            "target": "-",
            "met": None,
        },
        {
            "figure": "per ticker with a model: its refresh run inside a batch (median)",
            "value": round(inputs["refresh_s"], 2),
            "unit": "s",
            "target": "-",
            "met": None,
        },
        {
            "figure": "per ticker: its run's creation, batch start-ups, idle tail, per process",
            "value": round(inputs["refresh_overhead_s"], 2),
            "unit": "s",
            "target": "-",
            "met": None,
        },
        {
            "figure": f"per ticker with a model: pod-seconds ({inputs['refresh_workers']:.0f} "
            "processes per pod)",
            "value": round(inputs["refresh_pod_s"], 2),
            "unit": "s",
            "target": "<= 0.72 (1 pod-hour for 5,000)",
            "met": inputs["refresh_pod_s"] <= 0.72,
        },
    ]
    for row in rows:
        if row["max concurrent runs (C)"] == CONCURRENCY[0] and row["tickers"] == max(SIZES):
            figures.append(
                {
                    "figure": f"{row['tickers']}-ticker daily refresh: pod-hours",
                    "value": row["pod-hours per daily refresh"],
                    "unit": "pod-h",
                    "target": "<= 1",
                    "met": row["pod-hours per daily refresh"] <= 1,
                }
            )
    for row in rows:
        if row["max concurrent runs (C)"] == 32:
            figures.append(
                {
                    "figure": f"{row['tickers']} tickers at C=32: onboarding wall / daily refresh "
                    "wall",
                    "value": f"{row['onboarding wall (h)']} h / "
                    f"{row['daily refresh wall (min)']} min",
                    "unit": "",
                    "target": "-",
                    "met": None,
                }
            )
    for n, c in needed.items():
        figures.append(
            {
                "figure": f"concurrent runs for a {n}-ticker refresh within an hour",
                "value": c,
                "unit": "",
                "target": "-",
                "met": None,
            }
        )
    markdown = "\n".join(
        [
            "## Plans",
            "",
            pd.DataFrame(rows).to_markdown(index=False),
            "",
            f"Inputs (seconds on a 2-vCPU machine): {json.dumps({k: round(v, 2) for k, v in inputs.items()})}; "  # noqa: E501
            f"run start-up {start:.2f} s. Nodes: {args.node_vcpus} vCPU, "
            f"${args.price_per_node_hour}/h. Upper bounds: scheduling and image pulls excluded.",
        ]
    )
    write_results(
        "cost_model",
        figures,
        extra={
            "inputs": inputs,
            "run_start_s": start,
            "plans": rows,
            "refresh_within_hour": needed,
            "inputs_from": sources,
        },
        markdown=markdown,
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
