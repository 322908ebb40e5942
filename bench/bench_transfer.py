"""Does transfer learning earn its place? freeze vs fine_tune vs scratch on the offline stocks.

Usage::

    .venv/bin/python -m bench.bench_transfer [--quick] [--tickers AAPL MSFT]

Protocol (nothing is tuned on the test windows):

1. Per stock, the parent is trained on ^GSPC rows dated before the stock's first test input row,
   so the index's future cannot reach the child's backtest through the parent's weights.
2. Training comparison on the rows before the test period (train/validation split with a gap):
   ``scratch`` trains first; its best validation loss is the target. ``freeze`` and ``fine_tune``
   start from the parent and record the wall time at which their validation loss first reaches
   it (never: did not within the epoch budget). Scratch's time is the time to its own best epoch.
3. Backtest: the three strategies and the naive forecast on the same walk-forward windows;
   relative MAE at h=1 and the Diebold-Mariano p-value of fine_tune against scratch.

Target (the forecasting issue): fine_tune reaches scratch's best validation loss in <= 1/3 of
scratch's time, with equal or better backtest error (not significantly worse than scratch).
``--quick``: AAPL alone at the tiny model sizes (seconds; not a measurement).
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from bench.bench_models import index_parent, stock_runs
from bench.common import write_results
from stock_assets.domain.ml.backtest import first_test_input_date, run_walk_forward
from stock_assets.domain.ml.candidates import baseline_specs, lstm_spec
from stock_assets.domain.ml.config import ModelConfig, Strategy
from stock_assets.domain.ml.dataset import prepare_data
from stock_assets.domain.ml.model import init_child_from_parent
from stock_assets.domain.ml.policy import POLICY, compare
from stock_assets.domain.ml.trainer import train

STRATEGIES = (Strategy.SCRATCH, Strategy.FINE_TUNE, Strategy.FREEZE)


def evaluate(
    ticker: str, frame: pd.DataFrame, index: pd.DataFrame, config: ModelConfig, test_years: float
) -> dict[str, Any]:
    cutoff = first_test_input_date(frame, config, test_years=test_years)
    parent, _ = index_parent(index, config, cutoff)
    history = frame[pd.to_datetime(frame["date"]) < cutoff]
    data = prepare_data(history, config, test_fraction=0.0)
    training: dict[str, dict[str, Any]] = {}
    target: float | None = None
    for strategy in STRATEGIES:
        model = init_child_from_parent(
            None if strategy is Strategy.SCRATCH else parent, config, strategy
        )
        result = train(model, data, config, strategy, target_val_loss=target)
        own_best = result.history[result.best_epoch - 1].elapsed_s
        if strategy is Strategy.SCRATCH:
            target = result.best_val_loss
        training[strategy.value] = {
            "best_val_loss": result.best_val_loss,
            "epochs_run": result.epochs_run,
            "wall_time_s": round(result.wall_time_s, 3),
            "time_to_target_s": own_best
            if strategy is Strategy.SCRATCH
            else result.time_to_target_s,
            # Epochs are the deterministic companion of wall times on a shared machine.
            "epochs_to_target": result.best_epoch
            if strategy is Strategy.SCRATCH
            else result.epoch_to_target,
        }
    naive = baseline_specs(config)[:1]
    specs = [*naive, *(lstm_spec(s.value, config, s, parent) for s in STRATEGIES)]
    started = time.perf_counter()
    result = run_walk_forward(frame, specs, config, test_years=test_years)
    backtest_s = time.perf_counter() - started
    fine_vs_scratch = compare(result, "fine_tune", "scratch").comparisons[0].dm
    scratch_t = training["scratch"]["time_to_target_s"]
    fine_t = training["fine_tune"]["time_to_target_s"]
    return {
        "ticker": ticker,
        "training": training,
        "relative_mae_h1": {
            s.value: float(result.candidate_metrics(s.value)["relative_mae"].iloc[0])
            for s in STRATEGIES
        },
        "fine_tune_vs_scratch_p_worse": fine_vs_scratch.p_worse,
        "fine_tune_faster": fine_t is not None and fine_t <= scratch_t / 3,
        "fine_tune_fewer_epochs": training["fine_tune"]["epochs_to_target"] is not None
        and training["fine_tune"]["epochs_to_target"]
        <= training["scratch"]["epochs_to_target"] / 3,
        "fine_tune_not_worse": fine_vs_scratch.p_worse >= POLICY.alpha,
        "backtest_s": round(backtest_s, 1),
    }


def _s(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


def markdown(runs: list[dict[str, Any]]) -> str:
    lines = [
        "| ticker | strategy | best val loss | time to target | epochs to target | epochs | "
        "rel. MAE h1 |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        for name, t in r["training"].items():
            lines.append(
                f"| {r['ticker']} | {name} | {t['best_val_loss']:.4f} | "
                f"{_s(t['time_to_target_s'])} | {t['epochs_to_target'] or 'never'} | "
                f"{t['epochs_run']} | "
                f"{r['relative_mae_h1'][name]:.3f} |"
            )
    lines += [
        "",
        "Time to target: scratch's own best epoch for scratch; for freeze and fine_tune, when "
        "their validation loss first reached scratch's best. Backtest: the three strategies on "
        "the same walk-forward windows.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    runs, config, quick = stock_runs(__doc__.splitlines()[0], argv, evaluate)
    for run in runs:
        ticker, tr = run["ticker"], run["training"]
        print(
            f"{ticker}: time to target scratch {_s(tr['scratch']['time_to_target_s'])}, "
            f"fine_tune {_s(tr['fine_tune']['time_to_target_s'])}, freeze "
            f"{_s(tr['freeze']['time_to_target_s'])}; rel MAE h1 {run['relative_mae_h1']}"
        )
    both = [r["ticker"] for r in runs if r["fine_tune_faster"] and r["fine_tune_not_worse"]]
    figures = [
        {
            "figure": "fine_tune at scratch's best val loss in <= 1/3 of its time, not worse",
            "value": f"{len(both)} of {len(runs)} ({', '.join(both) or 'none'})",
            "target": f"{len(runs)} of {len(runs)}",
            "met": len(both) == len(runs),
        },
        {
            "figure": "fine_tune at scratch's best val loss in <= 1/3 of its epochs",
            "value": f"{sum(r['fine_tune_fewer_epochs'] for r in runs)} of {len(runs)}",
            "target": "-",
            "met": None,
        },
        {
            "figure": "fine_tune significantly worse than scratch in the backtest",
            "value": sum(not r["fine_tune_not_worse"] for r in runs),
            "target": "0",
            "met": all(r["fine_tune_not_worse"] for r in runs),
        },
    ]
    extra = {"config": config.to_dict(), "runs": runs}
    write_results("transfer", figures, extra, markdown(runs), quick=quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
