"""False serves: how often the policy serves a baseline's skill where there is none.

Usage::

    .venv/bin/python -m bench.bench_null [--quick] [--seeds N]

A random walk and GARCH(1,1) returns hold no signal in the level: the best forecast of the close
is the last close. For ``N`` seeds of each (seeds 101 onwards, never used to build a model or the
policy), the baselines run through the real walk-forward (default configuration, two years of
test windows) and the policy picks a baseline per horizon (``policy.best_baselines``). Anything
but ``naive`` serving a horizon is a false claim of skill to the user. Each baseline is tested
against naive at the policy's alpha with its horizons adjusted, so with several baselines the
chance that one of them passes by luck is more than alpha: this measures it, and what the
``additive`` rung adds to it (the same runs, the policy without it). The LSTM is left out: it
serves only where it beats the best baseline, which these figures bound from below.
``--quick``: one seed of each at the tiny sizes on shorter series (seconds; not a measurement).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from typing import Any

from bench.common import write_results
from devkit.sizes import TINY_PARENT
from stock_assets.domain.indicators import compute_indicators
from stock_assets.domain.ml.backtest import run_walk_forward
from stock_assets.domain.ml.candidates import baseline_specs
from stock_assets.domain.ml.config import ModelConfig
from stock_assets.domain.ml.forecasters import BASELINES
from stock_assets.domain.ml.policy import POLICY, best_baselines, plan_summary
from stock_assets.domain.ml.synthetic import make_series

PROCESSES = ("random_walk", "garch_returns")
FIRST_SEED = 101
ROWS = 3000
QUICK_ROWS = 1200
WITHOUT_ADDITIVE = dataclasses.replace(
    POLICY, baseline_order=tuple(b for b in BASELINES if b != "additive")
)


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of a binomial share."""
    if n == 0:
        return 0.0, 1.0
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def evaluate(process: str, seed: int, config: ModelConfig, rows: int) -> dict[str, Any]:
    series = make_series(process, n=rows, seed=seed)
    started = time.perf_counter()
    result = run_walk_forward(
        compute_indicators(series.ohlcv), baseline_specs(config), config, timestamp_column="date"
    )
    plan, _ = best_baselines(result)
    plan_without, _ = best_baselines(result, WITHOUT_ADDITIVE)
    return {
        "process": process,
        "seed": seed,
        "wall_s": round(time.perf_counter() - started, 1),
        "plan": list(plan),
        "summary": plan_summary(plan),
        "plan_without_additive": list(plan_without),
    }


def share(runs: list[dict[str, Any]], key: str, horizons: slice) -> dict[str, Any]:
    hits = sum(any(name != "naive" for name in r[key][horizons]) for r in runs)
    low, high = wilson(hits, len(runs))
    return {"hits": hits, "n": len(runs), "low": low, "high": high}


def figure(
    text: str, counted: dict[str, Any], target: str = "-", met: bool | None = None
) -> dict[str, Any]:
    return {
        "figure": text,
        "value": f"{counted['hits']} of {counted['n']} "
        f"(95% interval {counted['low']:.1%}-{counted['high']:.1%})",
        "target": target,
        "met": met,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed of each, tiny sizes")
    parser.add_argument("--seeds", type=int, default=30, help="seeds per process")
    args = parser.parse_args(argv)
    if args.quick:
        seeds, config, rows = 1, ModelConfig(**TINY_PARENT), QUICK_ROWS
    else:
        seeds, config, rows = args.seeds, ModelConfig(), ROWS
    runs = []
    for process in PROCESSES:
        for seed in range(FIRST_SEED, FIRST_SEED + seeds):
            run = evaluate(process, seed, config, rows)
            runs.append(run)
            print(f"{process:14s} seed {seed}: {run['summary']} ({run['wall_s']}s)", flush=True)
    everywhere, first = slice(None), slice(0, 1)
    any_h = share(runs, "plan", everywhere)
    figures = [
        figure(
            "runs where a baseline other than naive serves any horizon",
            any_h,
            target=f"<= {POLICY.alpha:.0%} (the policy's alpha)",
            met=any_h["hits"] <= POLICY.alpha * any_h["n"],
        ),
        figure("runs where a baseline other than naive serves h=1", share(runs, "plan", first)),
        figure(
            "the same runs, the policy without the additive rung: any horizon",
            share(runs, "plan_without_additive", everywhere),
        ),
        figure(
            "the same runs, the policy without the additive rung: h=1",
            share(runs, "plan_without_additive", first),
        ),
    ]
    for process in PROCESSES:
        figures.append(
            figure(
                f"{process}: runs where a baseline other than naive serves any horizon",
                share([r for r in runs if r["process"] == process], "plan", everywhere),
            )
        )
    served = sorted({name for r in runs for name in r["plan"] if name != "naive"})
    figures.append(
        {
            "figure": "baselines that served a horizon in some run",
            "value": ", ".join(served) or "none",
            "target": "-",
            "met": None,
        }
    )
    lines = ["## Per run", "", "| process | seed | served per horizon | without additive |"]
    lines.append("| --- | ---: | --- | --- |")
    lines += [
        f"| {r['process']} | {r['seed']} | {r['summary']} | "
        f"{plan_summary(tuple(r['plan_without_additive']))} |"
        for r in runs
    ]
    extra = {"config": config.to_dict(), "rows": rows, "runs": runs}
    write_results("null_serves", figures, extra, "\n".join(lines), quick=args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
