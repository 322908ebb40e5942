"""The offline stocks: every candidate against naive, with significance, and what gets served.

Usage::

    .venv/bin/python -m bench.bench_models [--quick] [--tickers AAPL MSFT]

``--quick``: AAPL alone at the tiny model sizes, half a year of test (seconds; not a
measurement).

For each stock of the offline sample (AAPL, MSFT, IBM, GOOG): the parent is trained on ^GSPC rows
dated before the stock's first test input row; the walk-forward backtest (4 folds over the last two
years) runs the baselines and the fine-tuned LSTM on the same windows; the promotion policy decides.
Per horizon: relative MAE with the one-sided Diebold-Mariano p-value against naive, direction
beside the always-up rate, coverage; the decision and its reason.

Targets (the forecasting issue): coverage within 3 points of nominal at every horizon for what is
served; never a served model significantly worse than the best baseline.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import torch

from bench.common import write_results
from devkit.sizes import TINY_PARENT
from stock_assets.domain.indicators import compute_indicators
from stock_assets.domain.market_data.sample import OfflineSampleProvider
from stock_assets.domain.ml.backtest import first_test_input_date, run_walk_forward
from stock_assets.domain.ml.candidates import baseline_specs, lstm_spec
from stock_assets.domain.ml.config import ModelConfig
from stock_assets.domain.ml.dataset import prepare_data
from stock_assets.domain.ml.model import build_model
from stock_assets.domain.ml.policy import POLICY, against, compare, decide, plan_summary
from stock_assets.domain.ml.trainer import train

INDEX = "^GSPC"
STOCKS = ("AAPL", "MSFT", "IBM", "GOOG")


def index_parent(
    index: pd.DataFrame, config: ModelConfig, cutoff: pd.Timestamp
) -> tuple[dict, pd.Timestamp]:
    """A parent trained on index rows strictly before ``cutoff`` (never the test period), and
    the date of the last row it read (what the backtest checks against its test inputs)."""
    history = index[pd.to_datetime(index["date"]) < cutoff]
    parent = build_model(config)
    prepared = prepare_data(history, config, test_fraction=0.0)
    train(parent, prepared, config, "scratch")
    state = {k: v.clone() for k, v in parent.state_dict().items()}
    return state, pd.Timestamp(prepared.frame["date"].iloc[-1])


def evaluate(
    ticker: str, frame: pd.DataFrame, index: pd.DataFrame, config: ModelConfig, test_years: float
) -> dict[str, Any]:
    started = time.perf_counter()
    cutoff = first_test_input_date(frame, config, test_years=test_years)
    parent, parent_end = index_parent(index, config, cutoff)
    specs = [*baseline_specs(config), lstm_spec("lstm", config, "fine_tune", parent)]
    result = run_walk_forward(
        frame, specs, config, test_years=test_years, parent_train_end=parent_end
    )
    decision = decide(result)
    metrics = result.metrics.copy()
    metrics["p_vs_naive"] = against(result, "naive")[1]
    metrics.insert(0, "ticker", ticker)
    # The model serving each horizon, and whether any is significantly worse there than that
    # horizon's best baseline (the policy should never allow it).
    served = result.plan_metrics(decision.plan)
    worse_than_best = any(
        name != best and compare(result, name, best).comparisons[h - 1].dm.p_worse < POLICY.alpha
        for h, (name, best) in enumerate(
            zip(decision.plan, decision.best_baselines, strict=True), 1
        )
    )
    return {
        "ticker": ticker,
        "test_years": test_years,
        "wall_s": round(time.perf_counter() - started, 1),
        "decision": decision.to_dict(),
        "served": plan_summary(decision.plan),
        "outcome": decision.outcome,
        "reason": decision.reason,
        "served_coverage": served["coverage"].round(4).tolist(),
        "served_max_coverage_gap": float((served["coverage"] - 0.8).abs().max()),
        "served_worse_than_best_baseline": bool(worse_than_best),
        "parent_overlaps_test": result.parent_overlaps_test,
        "metrics": metrics,
    }


def markdown(runs: list[dict[str, Any]]) -> str:
    lines = [
        "## Decisions",
        "",
        "| ticker | served | outcome | served coverage h1..h7 | reason |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in runs:
        cov = " ".join(f"{c:.3f}" for c in r["served_coverage"])
        lines.append(f"| {r['ticker']} | {r['served']} | {r['outcome']} | {cov} | {r['reason']} |")
    for r in runs:
        m = r["metrics"]
        wide = m.pivot(index="candidate", columns="horizon", values="relative_mae").round(3)
        pval = m.pivot(index="candidate", columns="horizon", values="p_vs_naive").round(3)
        cov = m.pivot(index="candidate", columns="horizon", values="coverage").round(3)
        lines += [
            "",
            f"## {r['ticker']}",
            "",
            "Relative MAE (MAE / naive MAE) per horizon:",
            "",
            wide.to_markdown(),
            "",
            "One-sided Diebold-Mariano p-value of 'better than naive':",
            "",
            pval.to_markdown(),
            "",
            "Interval coverage (nominal 0.80):",
            "",
            cov.to_markdown(),
        ]
    return "\n".join(lines)


def stock_runs(
    description: str, argv: list[str] | None, evaluate: Callable[..., dict[str, Any]]
) -> tuple[list[dict[str, Any]], ModelConfig, bool]:
    """The shared command line (``--quick``: AAPL at the tiny sizes; ``--tickers``) and one
    ``evaluate(ticker, frame, index, config, test_years)`` per offline stock; returns the runs,
    the model configuration and whether the run was quick."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="AAPL, tiny sizes")
    parser.add_argument("--tickers", nargs="+", default=list(STOCKS))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.quick:
        config, test_years, tickers = ModelConfig(**TINY_PARENT), 0.5, ["AAPL"]
    else:
        config, test_years, tickers = ModelConfig(), 2.0, args.tickers
    provider = OfflineSampleProvider()
    index = compute_indicators(provider.fetch(INDEX))
    runs = []
    for ticker in tickers:
        frame = compute_indicators(provider.fetch(ticker))
        runs.append(evaluate(ticker, frame, index, config, test_years))
        print(f"{ticker}: done", flush=True)
    return runs, config, args.quick


def results_extra(config: ModelConfig, runs: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    """What a run-per-series benchmark keeps beside its figures: the configuration, each run
    without its metrics table, and every metrics row."""
    return {
        "config": config.to_dict(),
        **more,
        "runs": [{k: v for k, v in r.items() if k != "metrics"} for r in runs],
        "metrics": pd.concat([r["metrics"] for r in runs]).to_dict(orient="records"),
    }


def main(argv: list[str] | None = None) -> int:
    runs, config, quick = stock_runs(__doc__.splitlines()[0], argv, evaluate)
    test_years = runs[0]["test_years"]
    for run in runs:
        print(
            f"{run['ticker']}: {run['outcome']} -> {run['served']} ({run['wall_s']}s): "
            f"{run['reason']}"
        )
    worst_cov = max(r["served_max_coverage_gap"] for r in runs)
    worse = [r["ticker"] for r in runs if r["served_worse_than_best_baseline"]]
    figures = [
        {
            "figure": "served coverage: worst gap to 80% at any horizon, any stock",
            "value": round(worst_cov * 100, 1),
            "unit": "pts",
            "target": "<= 3",
            "met": worst_cov <= 0.03,
        },
        {
            "figure": "served models significantly worse than the best baseline",
            "value": len(worse),
            "target": "0",
            "met": not worse,
        },
        {
            "figure": "stocks where the LSTM was promoted",
            "value": f"{sum(r['outcome'] == 'promote' for r in runs)} of {len(runs)}",
            "target": "-",
            "met": None,
        },
        {
            "figure": "backtest parents that saw a test period",
            "value": sum(bool(r["parent_overlaps_test"]) for r in runs),
            "target": "0",
            "met": not any(r["parent_overlaps_test"] for r in runs),
        },
    ]
    extra = results_extra(config, runs, test_years=test_years)
    write_results("offline_stocks", figures, extra, markdown(runs), quick=quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
