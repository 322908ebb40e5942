"""Where does the parent help? Accuracy against history length for scratch, freeze and fine_tune.

Usage::

    .venv/bin/python -m bench.bench_transfer_history [--quick] [--seeds 1 2 3]

Protocol (synthetic series, so how much signal there is is known):

1. A parent is trained from scratch on a long "index": AR(1) returns with ``phi = 0.3``.
2. Children of several history lengths, in two families: ``shared`` (AR(1) with the parent's
   ``phi = 0.3``, other seeds) and ``other`` (``phi = -0.3``: the opposite dynamics, which the
   parent's weights get wrong).
3. Every child runs the real walk-forward backtest (4 folds; the last two years, or half of a
   shorter history) with the baselines, the oracle and the LSTM by each strategy, from the same
   parent. Per cell: relative MAE at h=1 (mean over seeds), and per seed the Diebold-Mariano test
   of fine_tune against scratch and against the best baseline (the policy's own ``compare``).

What it answers: whether fine_tune beats scratch (and the baselines) with significance, and at
which lengths; the default transfer strategy should be the one this table supports.
``--quick``: one seed, two short lengths, tiny model sizes (seconds; not a measurement).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import pandas as pd
import torch

from bench.common import write_results
from devkit.sizes import TINY_PARENT
from stock_assets.domain.indicators import compute_indicators
from stock_assets.domain.ml.backtest import CandidateSpec, run_walk_forward
from stock_assets.domain.ml.candidates import baseline_specs, lstm_spec
from stock_assets.domain.ml.config import ModelConfig, Strategy
from stock_assets.domain.ml.dataset import prepare_data
from stock_assets.domain.ml.model import build_model
from stock_assets.domain.ml.policy import POLICY, best_baseline, compare
from stock_assets.domain.ml.synthetic import ar_returns
from stock_assets.domain.ml.trainer import train

PARENT_ROWS = 4000
PARENT_PHI = 0.3
FAMILIES = {"shared": PARENT_PHI, "other": -PARENT_PHI}
LENGTHS = (250, 500, 1000, 3000)
QUICK_LENGTHS = (250, 500)
STRATEGIES = (Strategy.SCRATCH, Strategy.FREEZE, Strategy.FINE_TUNE)


def parent_state(config: ModelConfig) -> dict[str, torch.Tensor]:
    series = ar_returns(PARENT_ROWS, phi=PARENT_PHI, seed=1000)
    model = build_model(config)
    prepared = prepare_data(
        compute_indicators(series.ohlcv), config, timestamp_column="date", test_fraction=0.0
    )
    train(model, prepared, config, Strategy.SCRATCH)
    return model.state_dict()


def evaluate(
    family: str, rows: int, seed: int, config: ModelConfig, parent: dict[str, torch.Tensor]
) -> dict[str, Any]:
    series = ar_returns(rows, phi=FAMILIES[family], seed=seed)
    oracle = CandidateSpec(
        "oracle", "oracle", lambda fold, progress: series.oracle(config.horizon, config.quantiles)
    )
    specs = [
        *baseline_specs(config),
        *(
            lstm_spec(s.value, config, s, None if s is Strategy.SCRATCH else parent)
            for s in STRATEGIES
        ),
        oracle,
    ]
    started = time.perf_counter()
    result = run_walk_forward(
        compute_indicators(series.ohlcv), specs, config, timestamp_column="date"
    )
    best, _ = best_baseline(result)
    h1 = result.metrics[result.metrics["horizon"] == 1].set_index("candidate")
    fine_vs_scratch = compare(result, Strategy.FINE_TUNE.value, Strategy.SCRATCH.value)
    fine_vs_best = compare(result, Strategy.FINE_TUNE.value, best)
    return {
        "family": family,
        "rows": rows,
        "seed": seed,
        "wall_s": round(time.perf_counter() - started, 1),
        "test_anchors": int(h1.loc["naive", "n"]) if "n" in h1.columns else None,
        "best_baseline": best,
        "relative_mae_h1": {
            name: float(h1.loc[name, "relative_mae"])
            for name in (*(s.value for s in STRATEGIES), best, "oracle")
        },
        "fine_tune_vs_scratch_p_better": fine_vs_scratch.p_better(1),
        "fine_tune_vs_scratch_p_worse": fine_vs_scratch.comparisons[0].dm.p_worse,
        "fine_tune_beats_scratch": fine_vs_scratch.beats,
        "scratch_beats_fine_tune": compare(
            result, Strategy.SCRATCH.value, Strategy.FINE_TUNE.value
        ).beats,
        "fine_tune_vs_best_baseline_p_better": fine_vs_best.p_better(1),
        "fine_tune_beats_best_baseline": fine_vs_best.beats,
        "scratch_beats_best_baseline": compare(result, Strategy.SCRATCH.value, best).beats,
    }


def cells(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (family, history length): means over seeds and counts of significant wins."""
    rows = []
    for (family, length), group in pd.DataFrame(runs).groupby(["family", "rows"], sort=False):
        mae = pd.DataFrame(list(group["relative_mae_h1"]))
        rows.append(
            {
                "family": family,
                "sessions": length,
                "seeds": len(group),
                "oracle": mae["oracle"].mean(),
                "best baseline": mae[list(group["best_baseline"])].to_numpy().diagonal().mean(),
                **{s.value: mae[s.value].mean() for s in STRATEGIES},
                "fine_tune beats scratch": int(group["fine_tune_beats_scratch"].sum()),
                "scratch beats fine_tune": int(group["scratch_beats_fine_tune"].sum()),
                "fine_tune beats best baseline": int(group["fine_tune_beats_best_baseline"].sum()),
                "scratch beats best baseline": int(group["scratch_beats_best_baseline"].sum()),
            }
        )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, short series, tiny sizes")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.quick:
        seeds, config, lengths = args.seeds[:1], ModelConfig(**TINY_PARENT), QUICK_LENGTHS
    else:
        seeds, config, lengths = args.seeds, ModelConfig(), LENGTHS
    parent = parent_state(config)
    runs = []
    for family in FAMILIES:
        for rows in lengths:
            for seed in seeds:
                run = evaluate(family, rows, seed, config, parent)
                runs.append(run)
                mae = run["relative_mae_h1"]
                print(
                    f"{family:6s} {rows:5d} seed {seed}: oracle {mae['oracle']:.3f} "
                    f"{run['best_baseline']} {mae[run['best_baseline']]:.3f} scratch "
                    f"{mae['scratch']:.3f} freeze {mae['freeze']:.3f} fine_tune "
                    f"{mae['fine_tune']:.3f} (p vs scratch "
                    f"{run['fine_tune_vs_scratch_p_better']:.3f}, {run['wall_s']}s)",
                    flush=True,
                )
    table = cells(runs)
    wins = int(table["fine_tune beats scratch"].sum())
    losses = int(table["scratch beats fine_tune"].sum())
    shared_short = table[(table["family"] == "shared") & (table["sessions"] <= 500)]
    figures = [
        {
            "figure": "runs where fine_tune beats scratch (DM, policy's rule)",
            "value": f"{wins} of {len(runs)}",
            "target": "-",
            "met": None,
        },
        {
            "figure": "runs where scratch beats fine_tune",
            "value": f"{losses} of {len(runs)}",
            "target": "-",
            "met": None,
        },
        {
            "figure": "shared dynamics, <= 500 sessions: fine_tune minus scratch rel. MAE h=1",
            "value": round(float((shared_short["fine_tune"] - shared_short["scratch"]).mean()), 4),
            "target": "-",
            "met": None,
        },
        {
            "figure": "runs where fine_tune beats the best baseline",
            "value": f"{int(table['fine_tune beats best baseline'].sum())} of {len(runs)}",
            "target": "-",
            "met": None,
        },
        {
            "figure": "runs where scratch beats the best baseline",
            "value": f"{int(table['scratch beats best baseline'].sum())} of {len(runs)}",
            "target": "-",
            "met": None,
        },
    ]
    body = "\n".join(
        [
            "## Relative MAE at h=1 (mean over seeds) and significant wins (count of seeds)",
            "",
            table.round(4).to_markdown(index=False),
            "",
            f"Parent: AR(1) phi={PARENT_PHI}, {PARENT_ROWS} sessions, trained from scratch. "
            "`shared`: children with the parent's dynamics; `other`: phi="
            f"{-PARENT_PHI}. A win is the promotion policy's `beats` (Diebold-Mariano, "
            f"p < {POLICY.alpha} at h=1, significantly worse at no horizon).",
        ]
    )
    extra = {"config": config.to_dict(), "runs": runs, "cells": table.to_dict(orient="records")}
    write_results("transfer_history", figures, extra, body, quick=args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
