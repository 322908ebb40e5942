"""Agents: ``/analyze`` latency cold (local LLM writes the report) and warm (semantic-cache hit),
and the share of numbers in the final reports that the critic verified, over every offline
ticker that gets a model (AAPL, MSFT, IBM, GOOG).

    .venv/bin/python -m bench.bench_agents [--quick] [--cores 2] [--runtime transformers]

Builds a temporary data dir and Dagster home, materializes (tiny model sizes, gate passing)
data, parent, and per ticker child, backtest, champion and forecast; then serves the API with
uvicorn (one worker, the production entry point) pinned to ``--cores`` CPUs and calls it over
HTTP from this process. Cold: ``refresh: true`` (the semantic cache is skipped, the whole graph
runs and the LLM writes); the first request of the process also loads the LLM and the embedder,
reported apart. Warm: the same request without ``refresh`` (a cache hit). Also the claims the
evaluator read in the final reports (none may be unsupported) and the critic's recall and
precision per claim kind on its regression set (``bench_claims``). Targets (2 cores): cold <=
15 s, cache hit <= 100 ms, 100% of numbers verified, no unsupported claim.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from bench.bench_api import (
    BACKTEST,
    REDIS_URL,
    TINY_CHILD,
    TINY_PARENT,
    free_port,
    start,
    stop,
    wait_until_up,
)
from bench.bench_claims import measure as claim_measure
from bench.bench_claims import table as claim_table
from bench.common import write_results

os.environ.setdefault("FEAST_USAGE", "False")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

VENV_BIN = Path(sys.executable).parent
TICKERS = ("AAPL", "MSFT", "IBM", "GOOG")
COLD_S, HIT_MS = 15.0, 100.0


def prepare(data_dir: Path, dagster_home: Path, tickers: tuple[str, ...]) -> float:
    """Materialize what a report needs for every ticker; returns the seconds it took."""
    import dagster as dg

    from stock_assets.defs.assets.evaluation import backtest, champion_model
    from stock_assets.defs.assets.features import feature_definitions, online_features
    from stock_assets.defs.assets.forecasting import forecast
    from stock_assets.defs.assets.market import indicators, ohlcv
    from stock_assets.defs.assets.models import child_model, parent_model
    from stock_assets.defs.partitions import TICKERS_PARTITION
    from stock_assets.defs.resources import resources_from_settings
    from stock_assets.settings import Settings

    assets = [ohlcv, indicators, feature_definitions, online_features, parent_model, child_model,
              backtest, champion_model, forecast]  # fmt: skip
    started = time.perf_counter()
    resources = resources_from_settings(Settings(data_dir=data_dir))
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:

        def run(selection: list, config: dict | None = None, partition: str | None = None) -> None:
            result = dg.materialize(
                assets, selection=selection, partition_key=partition, instance=instance,
                resources=resources, run_config={"ops": config or {}}, raise_on_error=False,
            )  # fmt: skip
            assert result.success, f"materializing {selection} ({partition}) failed"

        instance.add_dynamic_partitions(TICKERS_PARTITION, ["^GSPC", *tickers])
        run([feature_definitions])
        for ticker in ("^GSPC", *tickers):
            run([ohlcv, indicators, online_features], partition=ticker)
        run([parent_model], {"parent_model": {"config": TINY_PARENT}})
        for ticker in tickers:
            run(
                [child_model, backtest, champion_model, forecast],
                {"child_model": {"config": TINY_CHILD},
                 "backtest": {"config": BACKTEST}},
                ticker,
            )  # fmt: skip
    finally:
        instance.dispose()
    return round(time.perf_counter() - started, 1)


def peak_rss_mib(pid: int) -> float | None:
    """The process's peak resident memory (VmHWM), from /proc."""
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def pinned(cores: int) -> str:
    """CPUs for the server: the first ``cores`` this process may use (taskset list)."""
    allowed = sorted(os.sched_getaffinity(0))
    return ",".join(str(c) for c in allowed[:cores])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="AAPL only, fewer warm requests")
    parser.add_argument("--cores", type=int, default=2, help="CPUs the API server may use")
    parser.add_argument(
        "--runtime",
        choices=["transformers", "llama-cpp"],
        default="transformers",
        help="local LLM runtime (llama-cpp needs the llamacpp extra); results of a runtime "
        "other than the default go to agents_<runtime>.json",
    )
    args = parser.parse_args()
    import httpx

    tickers = ("AAPL",) if args.quick else TICKERS
    warm_n = 20 if args.quick else 50
    root = Path(tempfile.mkdtemp(prefix="stockops-bench-agents-"))
    data_dir, home = root / "data", root / "dagster"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    prepare_s = prepare(data_dir, home, tickers)
    print(f"prepared {tickers} in {prepare_s} s under {root}")

    port = free_port()
    cpus = pinned(args.cores)
    env = {
        **os.environ,
        "STOCKOPS_DATA_DIR": str(data_dir),
        "DAGSTER_HOME": str(home),
        "STOCKOPS_REDIS_URL": REDIS_URL,
        "STOCKOPS_REDIS_KEY_PREFIX": f"stockops-bench:{uuid.uuid4().hex[:8]}:",
        "STOCKOPS_RATE_LIMIT_ENABLED": "false",
        "STOCKOPS_LLM_RUNTIME": args.runtime,
    }
    cmd = ["taskset", "-c", cpus, str(VENV_BIN / "uvicorn"), "--factory",
           "serving_api.app:create_app", "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning"]  # fmt: skip
    log = root / "uvicorn.log"
    server = start(cmd, env, log)
    url = f"http://127.0.0.1:{port}"
    reports: list[dict[str, Any]] = []
    cold: dict[str, float] = {}
    try:
        wait_until_up(url + "/health", server, log, 180)
        with httpx.Client(base_url=url, timeout=120) as client:

            def analyze(ticker: str, refresh: bool) -> tuple[float, dict[str, Any]]:
                t0 = time.perf_counter()
                answer = client.post("/analyze", json={"ticker": ticker, "refresh": refresh})
                elapsed = time.perf_counter() - t0
                assert answer.status_code == 200, answer.text
                return elapsed, answer.json()

            first_s, _ = analyze(tickers[0], True)  # loads the LLM and the embedder
            for ticker in tickers:
                cold[ticker], body = analyze(ticker, True)
                assert body["cache_hit"] is False, body["cache_status"]
                reports.append(body)
            warm: list[float] = []
            for i in range(warm_n):
                elapsed, body = analyze(tickers[i % len(tickers)], False)
                assert body["cache_hit"] is True
                warm.append(elapsed)
        peak_mib = peak_rss_mib(server.pid)
    finally:
        stop(server)

    claims = sum(r["evaluation"]["claims"] for r in reports)
    wrong_claims = [c for r in reports for c in r["evaluation"]["unsupported_claims"]]
    tuned, held_out, _ = claim_measure()
    print(claim_table(tuned, "Regression cases") + "\n\n" + claim_table(held_out, "Held-out cases"))
    kinds = [row for row in tuned.rows() if row["kind"] != "topic"]  # the claim kinds
    worst = min(min(row["recall"], row["precision"]) for row in kinds)
    by_llm = sum(r["report"]["writer"] == "llm" for r in reports)
    coverage = statistics.mean(r["evaluation"]["section_coverage"] for r in reports)
    verified = sum(r["report"]["verified_numbers"] for r in reports)
    total = verified + sum(r["report"]["unverified_numbers"] for r in reports)
    share = 100.0 * verified / total if total else 100.0
    cold_values = list(cold.values())
    warm_ms = np.asarray(warm) * 1000
    figures = [
        {"figure": f"/analyze cold, local LLM: median over {len(cold)} tickers",
         "value": round(statistics.median(cold_values), 2), "unit": "s",
         "target": f"<= {COLD_S:.0f} s", "met": statistics.median(cold_values) <= COLD_S},
        {"figure": "/analyze cold, local LLM: slowest ticker", "value": round(max(cold_values), 2),
         "unit": "s", "target": f"<= {COLD_S:.0f} s", "met": max(cold_values) <= COLD_S},
        {"figure": "/analyze first request of the process (loads LLM + embedder)",
         "value": round(first_s, 2), "unit": "s", "target": "-", "met": None},
        {"figure": f"/analyze semantic-cache hit p50 ({warm_n} requests)",
         "value": round(float(np.percentile(warm_ms, 50)), 1), "unit": "ms",
         "target": f"<= {HIT_MS:.0f} ms", "met": float(np.percentile(warm_ms, 50)) <= HIT_MS},
        {"figure": "/analyze semantic-cache hit p95",
         "value": round(float(np.percentile(warm_ms, 95)), 1), "unit": "ms",
         "target": f"<= {HIT_MS:.0f} ms", "met": float(np.percentile(warm_ms, 95)) <= HIT_MS},
        {"figure": f"numbers verified by the critic ({verified}/{total}, {len(reports)} reports)",
         "value": round(share, 2), "unit": "%", "target": "100 %", "met": share == 100.0},
        {"figure": f"claims the facts do not allow, in the final reports ({claims} claims read)",
         "value": len(wrong_claims), "unit": "", "target": "0", "met": not wrong_claims},
        {"figure": "critic on the claim regression set: lowest recall or precision of any kind",
         "value": worst, "unit": "", "target": ">= 0.95 recall, >= 0.90 precision",
         "met": all(r["recall"] >= 0.95 and r["precision"] >= 0.90 for r in kinds)},
        {"figure": "reports written by the LLM (not the deterministic fallback)",
         "value": f"{by_llm}/{len(reports)}", "unit": "", "target": "all",
         "met": by_llm == len(reports)},
        {"figure": "section coverage (evaluator, mean)", "value": round(coverage, 3), "unit": "",
         "target": "1.0", "met": coverage == 1.0},
        {"figure": "API server peak resident memory", "value": peak_mib, "unit": "MiB",
         "target": "-", "met": None},
    ]  # fmt: skip
    extra = {
        "runtime": args.runtime,
        "cores": args.cores,
        "server_cpus": cpus,
        "prepare_s": prepare_s,
        "cold_s": {t: round(v, 2) for t, v in cold.items()},
        "claim_regression": tuned.rows(),
        "claim_held_out": held_out.rows(),
        "reports": {
            r["ticker"]: {
                "writer": r["report"]["writer"],
                "revisions": r["report"]["revisions"],
                "verified": r["report"]["verified_numbers"],
                "unverified": r["report"]["unverified_numbers"],
                "stance": r["report"]["stance"],
                "score": r["evaluation"]["score"],
                "claims": r["evaluation"]["claims"],
                "unsupported_claims": r["evaluation"]["unsupported_claims"],
                "model": r["forecast"]["model"],
                "skill": r["forecast"]["skill"],
            }
            for r in reports
        },
    }
    name = (
        "agents" if args.runtime == "transformers" else f"agents_{args.runtime.replace('-', '_')}"
    )
    write_results(name, figures, extra)
    with contextlib.suppress(OSError):
        print(f"server log: {log}")


if __name__ == "__main__":
    main()
