"""Signal recovery: does the forecaster learn what is learnable, and nothing else?

Usage::

    .venv/bin/python -m bench.bench_signal [--quick] [--seeds 1 2 3]

Synthetic daily series with a known optimal forecast (``stock_assets.domain.ml.synthetic``) run
through the real walk-forward backtest (default model configuration, 4 folds over 2 years) and the
real promotion policy. Per process, seed and horizon: the oracle and every candidate (naive,
drift, linear, the LSTM), relative MAE, direction, coverage and pinball loss, and what the policy
served.

Targets: where signal exists (``ar_returns`` and the nonlinear processes: threshold,
sign-asymmetric, volatility-in-mean, regime-switching) the served model is within 0.01 relative
MAE and 2 points of direction of the oracle at h=1; where none exists (``random_walk``,
``garch_returns``) no learned model is promoted and nothing but naive or drift serves. Beside
them, per process: the seeds where the oracle itself does not beat naive at h=1 by the policy's
own test (there, not even the optimum passes the test a challenger must pass against naive, and
where naive serves, its gap to the oracle is what the gate costs); and the ``specified`` yardstick
(``stock_assets.domain.ml.specified``): the process's own form with its parameters fitted on each
fold's training anchors. Its gap to the oracle is what this much data costs a model that knows the
form; a learner's gap beyond it is the learner's own shortfall. Coverage is read two ways: the
worst gap to 80% in points (the target), and in standard errors of overlapping h-step windows,
beside the bound that many tests could reach by chance.
``--test-years``: the same with more (or fewer) years of test windows, the same four folds, into
``signal_recovery_<N>y``: what the policy's test can tell with more windows (the backtest's
default is two years).
``--quick``: one seed at the tiny model sizes on shorter series (seconds; not a measurement).
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import numpy as np
import torch
from scipy.stats import norm

from bench.bench_models import results_extra
from bench.common import write_results
from devkit.sizes import TINY_PARENT
from stock_assets.domain.indicators import compute_indicators
from stock_assets.domain.ml.backtest import CandidateSpec, WalkForwardResult, run_walk_forward
from stock_assets.domain.ml.candidates import baseline_specs, lstm_spec
from stock_assets.domain.ml.config import ModelConfig
from stock_assets.domain.ml.policy import compare, decide, plan_summary
from stock_assets.domain.ml.significance import long_run_variance
from stock_assets.domain.ml.specified import SpecifiedForecaster
from stock_assets.domain.ml.synthetic import NONLINEAR, PROCESSES, make_series

ROWS = 3000
QUICK_ROWS = 1200  # enough for four folds over the two years the backtest tests
SIGNAL = ("ar_returns", *NONLINEAR)
NOMINAL = 0.8
NO_SIGNAL = ("random_walk", "garch_returns")
TEST_YEARS = 2.0  # the backtest's default


def coverage_z(result: WalkForwardResult, plan: tuple[str, ...] | list[str]) -> list[float]:
    """Per horizon, the served interval's coverage gap to nominal in standard errors.

    The hits of h-step intervals made on consecutive days overlap like their errors do, so the
    standard error is the long-run one up to lag h-1 (as in the Diebold-Mariano test): with
    about 500 windows, one standard error is about 2 points at h=1 and 4 at h=7.
    """
    p = result.predictions
    out = []
    for h, name in enumerate(plan, 1):
        sel = p[(p["candidate"] == name) & (p["horizon"] == h)]
        hits = (
            (sel["actual_lr"] >= sel["lower_lr"]) & (sel["actual_lr"] <= sel["upper_lr"])
        ).to_numpy(dtype=float)
        var = long_run_variance(hits, h - 1)
        out.append(abs(float(hits.mean()) - NOMINAL) / math.sqrt(var) if var > 0 else 0.0)
    return out


def gap_from_top_fifth(result: WalkForwardResult, candidate: str) -> float:
    """The part of ``candidate``'s h=1 relative-MAE gap to the oracle that comes from the fifth of
    windows where the oracle forecasts the largest rise: where a volatile spell is followed by a
    rebound, a tree can forecast no more than the largest rebound of its training windows."""
    p = result.predictions
    forecast = p[(p["candidate"] == "oracle") & (p["horizon"] == 1)].set_index("anchor")
    rise = forecast["median_lr"]
    oracle = result.abs_errors("oracle", 1).reindex(rise.index)
    excess = result.abs_errors(candidate, 1).reindex(rise.index) - oracle
    top = rise >= rise.quantile(0.8)
    return float(excess[top].sum() / result.abs_errors("naive", 1).reindex(rise.index).sum())


def evaluate(
    process: str, seed: int, config: ModelConfig, rows: int, test_years: float = TEST_YEARS
) -> dict[str, Any]:
    series = make_series(process, n=rows, seed=seed)
    oracle = CandidateSpec(
        "oracle", "oracle", lambda fold, progress: series.oracle(config.horizon, config.quantiles)
    )
    # The process's own form with fitted parameters: how close this much data lets any model get.
    specified = CandidateSpec(
        "specified",
        "oracle",
        lambda fold, progress: SpecifiedForecaster(process, config.horizon, config.quantiles),
    )
    specs = [
        *baseline_specs(config),
        lstm_spec("lstm", config, "scratch", None),
        specified,
        oracle,
    ]
    started = time.perf_counter()
    result = run_walk_forward(
        compute_indicators(series.ohlcv),
        specs,
        config,
        timestamp_column="date",
        test_years=test_years,
    )
    decision = decide(result)
    # The policy's own test, asked of the true conditional mean: where even the oracle does not
    # beat naive at h=1, a served gap to it is the price of never promoting on a random walk, not
    # a model's shortfall (a baseline may still serve there, having beaten a simpler one).
    oracle_verdict = compare(result, "oracle", "naive")
    oracle_h1 = next(c for c in oracle_verdict.comparisons if c.horizon == 1)
    # The same test of the fitted form: where even it fails, no learner can pass either.
    specified_verdict = compare(result, "specified", "naive")
    metrics = result.metrics.copy()
    metrics.insert(0, "seed", seed)
    metrics.insert(0, "process", process)
    h1 = metrics[metrics["horizon"] == 1].set_index("candidate")
    # The policy serves each horizon from the model that earned it: h=1 is the headline.
    served, orc = h1.loc[decision.plan[0]], h1.loc["oracle"]
    by_horizon = metrics.set_index(["candidate", "horizon"])
    served_rows = [by_horizon.loc[(name, h)] for h, name in enumerate(decision.plan, 1)]
    oracle_rows = [by_horizon.loc[("oracle", h)] for h in range(1, len(decision.plan) + 1)]
    return {
        "process": process,
        "seed": seed,
        "wall_s": round(time.perf_counter() - started, 1),
        "served": decision.plan[0],
        "plan": plan_summary(decision.plan),
        "plan_models": sorted(set(decision.plan)),
        "served_worst_gap_any_h": max(
            float(s["relative_mae"] - o["relative_mae"])
            for s, o in zip(served_rows, oracle_rows, strict=True)
        ),
        "outcome": decision.outcome,
        "promoted": decision.promoted,
        "reason": decision.reason,
        "oracle_rel_mae_h1": float(orc["relative_mae"]),
        "oracle_beats_naive_h1": 1 in oracle_verdict.beats_at,
        "oracle_p_vs_naive_h1": float(oracle_h1.p_adjusted),
        "specified_beats_naive_h1": 1 in specified_verdict.beats_at,
        "lstm_rel_mae_h1": float(h1.loc["lstm", "relative_mae"]),
        "linear_rel_mae_h1": float(h1.loc["linear", "relative_mae"]),
        "additive_rel_mae_h1": float(h1.loc["additive", "relative_mae"]),
        "boosted_rel_mae_h1": float(h1.loc["boosted", "relative_mae"]),
        "specified_rel_mae_h1": float(h1.loc["specified", "relative_mae"]),
        "served_rel_mae_h1": float(served["relative_mae"]),
        "oracle_direction_h1": float(orc["directional_accuracy"]),
        "lstm_direction_h1": float(h1.loc["lstm", "directional_accuracy"]),
        "served_direction_h1": float(served["directional_accuracy"]),
        "served_max_coverage_gap": max(abs(float(r["coverage"]) - NOMINAL) for r in served_rows),
        "served_coverage_z": coverage_z(result, decision.plan),
        "boosted_gap_top_fifth": gap_from_top_fifth(result, "boosted"),
        "metrics": metrics,
    }


def markdown(runs: list[dict[str, Any]]) -> str:
    lines = [
        "## Per process and seed, at h=1",
        "",
        "| process | seed | oracle rel MAE | oracle beats naive (adj. p) | specified (fitted) | "
        "linear | additive | boosted | LSTM | served (model) | oracle dir | LSTM dir | "
        "served dir | served max coverage gap | decision |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: "
        "| ---: | --- |",
    ]
    for r in runs:
        lines.append(
            f"| {r['process']} | {r['seed']} | {r['oracle_rel_mae_h1']:.3f} | "
            f"{'yes' if r['oracle_beats_naive_h1'] else 'no'} ({r['oracle_p_vs_naive_h1']:.3g}) | "
            f"{r['specified_rel_mae_h1']:.3f} | {r['linear_rel_mae_h1']:.3f} | "
            f"{r['additive_rel_mae_h1']:.3f} | "
            f"{r['boosted_rel_mae_h1']:.3f} | "
            f"{r['lstm_rel_mae_h1']:.3f} | {r['served_rel_mae_h1']:.3f} ({r['served']}) | "
            f"{r['oracle_direction_h1']:.1%} | {r['lstm_direction_h1']:.1%} | "
            f"{r['served_direction_h1']:.1%} | {r['served_max_coverage_gap'] * 100:.1f} pts | "
            f"{r['outcome']}: {r['plan']} |"
        )
    lines += ["", "## Every candidate and horizon (first seed)", ""]
    first_seed = runs[0]["seed"]
    for r in runs:
        if r["seed"] != first_seed:
            continue
        table = r["metrics"][
            [
                "candidate",
                "horizon",
                "relative_mae",
                "directional_accuracy",
                "up_rate",
                "coverage",
                "pinball_pct",
                "interval_score_pct",
            ]
        ]
        lines += [f"### {r['process']}", "", table.round(4).to_markdown(index=False), ""]
    return "\n".join(lines)


def coverage_figures(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Is any served interval miscalibrated beyond chance? Over every run and horizon, the worst
    gap in standard errors against the Bonferroni bound of that many two-sided 5% tests, and how
    many gaps exceed 1.96 (about 5% of them would by chance alone)."""
    z = np.array([v for r in runs for v in r["served_coverage_z"]])
    bound = float(norm.ppf(1 - 0.05 / (2 * len(z))))
    return [
        {
            "figure": "served coverage: worst gap to 80% in standard errors (long-run, lag h-1), "
            f"any horizon, any run (Bonferroni bound for {len(z)} tests: {bound:.2f})",
            "value": round(float(z.max()), 2),
            "target": "-",
            "met": None,
        },
        {
            "figure": "served coverage: run-horizons more than 1.96 standard errors from 80% "
            "(about 5% expected by chance)",
            "value": f"{int(np.sum(z > 1.96))} of {len(z)}",
            "target": "-",
            "met": None,
        },
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, tiny sizes")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument(
        "--test-years",
        type=float,
        default=TEST_YEARS,
        help="years of walk-forward test windows (another value writes its own results file)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.quick:
        seeds, config, rows = args.seeds[:1], ModelConfig(**TINY_PARENT), QUICK_ROWS
    else:
        seeds, config, rows = args.seeds, ModelConfig(), ROWS
    runs = []
    for process in PROCESSES:
        for seed in seeds:
            run = evaluate(process, seed, config, rows, args.test_years)
            runs.append(run)
            print(
                f"{process:14s} seed {seed}: oracle {run['oracle_rel_mae_h1']:.3f} additive "
                f"{run['additive_rel_mae_h1']:.3f} boosted {run['boosted_rel_mae_h1']:.3f} lstm "
                f"{run['lstm_rel_mae_h1']:.3f} served {run['served']} "
                f"{run['served_rel_mae_h1']:.3f} ({run['outcome']}: {run['plan']}, "
                f"{run['wall_s']}s)",
                flush=True,
            )
    none = [r for r in runs if r["process"] in NO_SIGNAL]
    false_promotions = sum(r["promoted"] for r in none)
    figures: list[dict[str, Any]] = []
    for process in SIGNAL:
        signal = [r for r in runs if r["process"] == process]
        gap = max(r["served_rel_mae_h1"] - r["oracle_rel_mae_h1"] for r in signal)
        direction = max(r["oracle_direction_h1"] - r["served_direction_h1"] for r in signal)
        lstm_gap = max(r["lstm_rel_mae_h1"] - r["oracle_rel_mae_h1"] for r in signal)
        additive_gap = max(r["additive_rel_mae_h1"] - r["oracle_rel_mae_h1"] for r in signal)
        boosted_gap = max(r["boosted_rel_mae_h1"] - r["oracle_rel_mae_h1"] for r in signal)
        specified_gap = max(r["specified_rel_mae_h1"] - r["oracle_rel_mae_h1"] for r in signal)
        unreachable = [r["seed"] for r in signal if not r["oracle_beats_naive_h1"]]
        form_fails = [r["seed"] for r in signal if not r["specified_beats_naive_h1"]]
        figures += [
            {
                "figure": f"{process}: served minus oracle rel. MAE at h=1 (worst seed)",
                "value": round(gap, 4),
                "target": "<= 0.01",
                "met": gap <= 0.01,
            },
            {
                "figure": f"{process}: oracle minus served direction at h=1 (worst seed)",
                "value": round(direction * 100, 1),
                "unit": "pts",
                "target": "<= 2",
                "met": direction <= 0.02,
            },
            {
                "figure": f"{process}: served minus oracle rel. MAE, worst seed and horizon",
                "value": round(max(r["served_worst_gap_any_h"] for r in signal), 4),
                "target": "-",
                "met": None,
            },
            {
                "figure": f"{process}: seeds where the oracle itself does not beat naive at h=1 "
                "(the policy's test)",
                "value": ", ".join(map(str, unreachable)) or "none",
                "target": "-",
                "met": None,
            },
            {
                "figure": f"{process}: seeds where the fitted form does not beat naive at h=1 "
                "(the policy's test)",
                "value": ", ".join(map(str, form_fails)) or "none",
                "target": "-",
                "met": None,
            },
            {
                "figure": f"{process}: LSTM minus oracle rel. MAE at h=1 (worst seed)",
                "value": round(lstm_gap, 4),
                "target": "-",
                "met": None,
            },
            {
                "figure": f"{process}: additive splines minus oracle rel. MAE at h=1 (worst seed)",
                "value": round(additive_gap, 4),
                "target": "-",
                "met": None,
            },
            {
                "figure": f"{process}: boosted trees minus oracle rel. MAE at h=1 (worst seed)",
                "value": round(boosted_gap, 4),
                "target": "-",
                "met": None,
            },
            {
                "figure": f"{process}: boosted trees' gap to the oracle at h=1 from the fifth of "
                "windows with the largest forecast rise, per seed",
                "value": ", ".join(f"{r['boosted_gap_top_fifth']:.4f}" for r in signal),
                "target": "-",
                "met": None,
            },
            {
                "figure": f"{process}: the process's own form, fitted, minus oracle rel. MAE at "
                "h=1 (worst seed)",
                "value": round(specified_gap, 4),
                "target": "-",
                "met": None,
            },
        ]
    figures += [
        {
            "figure": "random walk + GARCH: learned models promoted",
            "value": f"{false_promotions} of {len(none)}",
            "target": "0",
            "met": false_promotions == 0,
        },
        {
            "figure": "random walk + GARCH: runs with any horizon served by other than naive or "
            "drift",
            "value": sum(not set(r["plan_models"]) <= {"naive", "drift"} for r in none),
            "target": "0",
            "met": all(set(r["plan_models"]) <= {"naive", "drift"} for r in none),
        },
        {
            "figure": "served coverage: worst gap to 80% at any horizon, any run",
            "value": round(max(r["served_max_coverage_gap"] for r in runs) * 100, 1),
            "unit": "pts",
            "target": "<= 3",
            "met": max(r["served_max_coverage_gap"] for r in runs) <= 0.03,
        },
        *coverage_figures(runs),
    ]
    extra = results_extra(config, runs, rows=rows, test_years=args.test_years)
    name = "signal_recovery"
    if args.test_years != TEST_YEARS:
        name += f"_{args.test_years:g}y"
    write_results(name, figures, extra, markdown(runs), quick=args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
