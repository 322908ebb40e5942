"""Does transfer learning earn its place? freeze vs fine_tune vs scratch on the offline sample.

Usage::

    .venv/bin/python bench/bench_transfer.py [--quick] [--tickers AAPL MSFT] [--out bench/results]

Protocol (nothing is tuned on the test windows):

1. For every child ticker, the walk-forward backtest's test period is the last ``test_years`` of
   anchors. The parent is trained on ``^GSPC`` rows dated strictly before the EARLIEST child test
   window, so the index's future cannot leak into a child's backtest through the parent weights.
2. Training comparison: per child, on the rows before its test period (train/val split with a
   gap), ``scratch`` trains first; its best validation loss is the target. ``freeze`` and
   ``fine_tune`` start from the parent and record the wall time at which their validation loss
   first reaches that target (None: never, within the epoch budget).
3. Backtest: ``run_backtest`` per strategy (child retrained from the parent per fold; scratch from
   a fresh init), metrics per horizon: relative MAE vs the naive last-close forecast, directional
   accuracy vs the always-up base rate of the same windows, interval coverage vs nominal.

Results go to ``<out>/transfer.json`` and ``<out>/transfer.md`` with the machine and date.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import torch

# Runnable as a plain script from the repo root without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stock_assets.domain.indicators import compute_indicators
from stock_assets.domain.market_data.sample import OfflineSampleProvider
from stock_assets.domain.ml.backtest import first_test_input_date, run_backtest
from stock_assets.domain.ml.config import ModelConfig, Strategy
from stock_assets.domain.ml.dataset import prepare_data
from stock_assets.domain.ml.model import build_model, init_child_from_parent
from stock_assets.domain.ml.trainer import resolve_device, train

PARENT = "^GSPC"
CHILDREN = ("AAPL", "MSFT", "IBM", "GOOG")
STRATEGIES = (Strategy.FREEZE, Strategy.FINE_TUNE, Strategy.SCRATCH)
N_FOLDS = 4
# DESIGN.md: numbers this good mean leakage until proven otherwise (e.g. by the drift baseline).
SUSPICIOUS_REL_MAE = 0.97
SUSPICIOUS_DIRECTION = 0.60

FULL = {"config": ModelConfig(), "test_years": 2.0}
QUICK = {
    "config": ModelConfig(
        lookback=30, hidden_size=16, num_layers=1, dropout=0.0, epochs=5, patience=2
    ),
    "test_years": 1.0,
}


def machine_info(device: torch.device) -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "cuda_device": torch.cuda.get_device_name(0) if device.type == "cuda" else None,
    }


def load_indicators(tickers: list[str]) -> dict[str, pd.DataFrame]:
    provider = OfflineSampleProvider()
    return {t: compute_indicators(provider.fetch(t)) for t in tickers}


def train_summary(result: Any) -> dict[str, Any]:
    best_time = result.history[result.best_epoch - 1].elapsed_s if result.best_epoch else None
    return {
        "best_val_loss": result.best_val_loss,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "stopped_early": result.stopped_early,
        "wall_time_s": result.wall_time_s,
        "time_to_own_best_s": best_time,
        "samples_per_s": result.samples_per_s,
        "learning_rate": result.learning_rate,
        "trainable_params": result.trainable_params,
        "train_samples": result.train_samples,
        "val_samples": result.val_samples,
        "time_to_target_s": result.time_to_target_s,
        "epoch_to_target": result.epoch_to_target,
    }


def run(quick: bool, tickers: list[str], out_dir: Path) -> dict[str, Any]:
    sizes = QUICK if quick else FULL
    cfg: ModelConfig = sizes["config"]  # type: ignore[assignment]
    test_years = float(sizes["test_years"])  # type: ignore[arg-type]
    device = resolve_device()
    started = time.perf_counter()
    frames = load_indicators([PARENT, *tickers])

    # 1. Parent: ^GSPC strictly before the earliest child test window.
    test_starts = {t: first_test_input_date(frames[t], cfg, test_years=test_years) for t in tickers}
    cutoff = min(test_starts.values())
    gspc = frames[PARENT]
    parent_frame = gspc[pd.to_datetime(gspc["date"]) < cutoff]
    parent_end = pd.Timestamp(parent_frame["date"].iloc[-1])
    print(f"parent: {PARENT} rows before {cutoff.date()} (last {parent_end.date()}), {device}")
    parent_data = prepare_data(parent_frame, cfg)
    parent = build_model(cfg)
    parent_result = train(parent, parent_data, cfg, Strategy.SCRATCH, device=device)
    parent_state = {k: v.clone() for k, v in parent.state_dict().items()}
    print(
        f"  best val {parent_result.best_val_loss:.4f} in {parent_result.epochs_run} epochs, "
        f"{parent_result.wall_time_s:.1f}s"
    )

    children: dict[str, Any] = {}
    for ticker in tickers:
        frame = frames[ticker]
        history = frame[pd.to_datetime(frame["date"]) < test_starts[ticker]]
        data = prepare_data(history, cfg, test_fraction=0.0)
        entry: dict[str, Any] = {"test_start": str(test_starts[ticker].date()), "strategies": {}}
        print(f"{ticker}: {len(data.train)} train / {len(data.val)} val samples before the test")

        # 2. Training comparison; scratch first, its best val loss is the target.
        scratch = init_child_from_parent(None, cfg, Strategy.SCRATCH)
        scratch_result = train(scratch, data, cfg, Strategy.SCRATCH, device=device)
        target = scratch_result.best_val_loss
        results = {Strategy.SCRATCH: train_summary(scratch_result)}
        results[Strategy.SCRATCH]["time_to_target_s"] = results[Strategy.SCRATCH][
            "time_to_own_best_s"
        ]
        results[Strategy.SCRATCH]["epoch_to_target"] = scratch_result.best_epoch
        for strategy in (Strategy.FREEZE, Strategy.FINE_TUNE):
            child = init_child_from_parent(parent_state, cfg, strategy)
            res = train(child, data, cfg, strategy, device=device, target_val_loss=target)
            results[strategy] = train_summary(res)

        # 3. Walk-forward backtest per strategy.
        for strategy in STRATEGIES:
            bt = run_backtest(
                frame,
                parent_state,
                cfg,
                strategy,
                n_folds=N_FOLDS,
                test_years=test_years,
                device=device,
                parent_train_end=parent_end,
            )
            entry["strategies"][strategy.value] = {
                "train": results[strategy],
                "backtest": {
                    "metrics": bt.metrics.to_dict(orient="records"),
                    "parent_overlaps_test": bt.parent_overlaps_test,
                    "fold_wall_time_s": [f.wall_time_s for f in bt.folds],
                    "fold_epochs": [f.epochs_run for f in bt.folds],
                    "test_range": [bt.folds[0].test_start, bt.folds[-1].test_end],
                    "flags": leakage_flags(bt.metrics),
                },
            }
            m = bt.metrics
            print(
                f"  {strategy.value:9s} val {results[strategy]['best_val_loss']:.4f} "
                f"t->target {fmt_s(results[strategy]['time_to_target_s'])} | "
                f"relMAE h1 {m['relative_mae'].iloc[0]:.3f} h{cfg.horizon} "
                f"{m['relative_mae'].iloc[-1]:.3f} | dir h1 {m['directional_accuracy'].iloc[0]:.3f}"
                f" vs up {m['up_rate'].iloc[0]:.3f} | cov {m['coverage'].mean():.3f}"
                f" | vs drift h{cfg.horizon} {m['relative_mae_drift'].iloc[-1]:.3f}"
                f" {' '.join(leakage_flags(m))}"
            )
        children[ticker] = entry

    report = {
        "benchmark": "transfer",
        "mode": "quick" if quick else "full",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(device),
        "config": cfg.to_dict(),
        "test_years": test_years,
        "n_folds": N_FOLDS,
        "parent": {
            "ticker": PARENT,
            "train_end": str(parent_end.date()),
            "cutoff": str(cutoff.date()),
            **train_summary(parent_result),
        },
        "children": children,
        "total_wall_time_s": time.perf_counter() - started,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "transfer.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out_dir / "transfer.md").write_text(markdown(report))
    return report


def fmt_s(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f}s"


def leakage_flags(metrics: pd.DataFrame) -> list[str]:
    """Horizons whose numbers DESIGN.md calls suspicious; the drift columns help explain them."""
    flags = [
        f"relMAE<={SUSPICIOUS_REL_MAE}@h{int(r.horizon)}"
        for r in metrics.itertuples()
        if r.relative_mae <= SUSPICIOUS_REL_MAE
    ]
    flags += [
        f"dir>={SUSPICIOUS_DIRECTION}@h{int(r.horizon)}"
        for r in metrics.itertuples()
        if r.directional_accuracy >= SUSPICIOUS_DIRECTION
    ]
    return flags


def markdown(report: dict[str, Any]) -> str:
    machine, cfg = report["machine"], report["config"]
    horizon = cfg["horizon"]
    lines = [
        f"# Transfer-learning benchmark ({report['mode']})",
        "",
        f"- date: {report['date']}",
        f"- machine: {machine['platform']}, {machine['cpu_count']} CPUs, torch "
        f"{machine['torch']} ({machine['torch_threads']} threads), device {machine['device']}",
        f"- config: lookback {cfg['lookback']}, horizon {horizon}, hidden {cfg['hidden_size']} x "
        f"{cfg['num_layers']} layers, epochs <= {cfg['epochs']}, patience {cfg['patience']}, "
        f"lr {cfg['learning_rate']} (fine_tune x{cfg['fine_tune_lr_factor']}), "
        f"quantiles {cfg['quantiles']}",
        f"- parent: {report['parent']['ticker']} up to {report['parent']['train_end']} (before "
        f"every child's test period), best val loss {report['parent']['best_val_loss']:.4f}, "
        f"{report['parent']['wall_time_s']:.1f}s",
        f"- backtest: walk-forward, {report['n_folds']} folds over the last "
        f"{report['test_years']:g} years, child retrained from the parent per fold",
        f"- total wall time: {report['total_wall_time_s']:.0f}s",
        "",
        "Time to target = wall time until the validation loss first reaches scratch's best "
        "validation loss (scratch: time to its own best epoch); freeze's time includes its one "
        "encoder pass. Wall times on a shared machine are noisy: epochs to target is the "
        "deterministic companion. Relative MAE < 1 beats the naive "
        "last-close forecast; direction is compared with the always-up base rate of the same "
        "windows; coverage with the nominal "
        f"{cfg['quantiles'][-1] - cfg['quantiles'][0]:.0%}. "
        "vs drift = model MAE / MAE of a constant-drift forecast (mean training log return): "
        "~1 means any edge over naive is the trend, not skill or leakage. Flags mark "
        f"rel MAE <= {SUSPICIOUS_REL_MAE} or direction >= {SUSPICIOUS_DIRECTION:.0%} "
        "(DESIGN.md: leakage until proven otherwise).",
        "",
        "| ticker | strategy | best val loss | time to target | epochs to target | epochs | "
        "train wall | "
        f"rel MAE h1 | rel MAE h{horizon} | rel MAE mean | dir h1 | up h1 | "
        f"dir h{horizon} | up h{horizon} | coverage mean | vs drift h{horizon} | "
        "parent overlaps test | flags |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | ---: | --- | --- |",
    ]
    for ticker, entry in report["children"].items():
        for strategy, res in entry["strategies"].items():
            tr, metrics = res["train"], res["backtest"]["metrics"]
            first, last = metrics[0], metrics[-1]
            rel_mean = sum(m["relative_mae"] for m in metrics) / len(metrics)
            cov_mean = sum(m["coverage"] for m in metrics) / len(metrics)
            lines.append(
                f"| {ticker} | {strategy} | {tr['best_val_loss']:.4f} | "
                f"{fmt_s(tr['time_to_target_s'])} | {tr['epoch_to_target'] or 'never'} | "
                f"{tr['epochs_run']} | "
                f"{tr['wall_time_s']:.1f}s | {first['relative_mae']:.3f} | "
                f"{last['relative_mae']:.3f} | {rel_mean:.3f} | "
                f"{first['directional_accuracy']:.3f} | {first['up_rate']:.3f} | "
                f"{last['directional_accuracy']:.3f} | {last['up_rate']:.3f} | {cov_mean:.3f} | "
                f"{last['relative_mae_drift']:.3f} | {res['backtest']['parent_overlaps_test']} | "
                f"{' '.join(res['backtest']['flags']) or '-'} |"
            )
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small model, few epochs, 1 test year")
    parser.add_argument("--tickers", nargs="+", default=list(CHILDREN), help="child tickers")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent / "results", help="output dir"
    )
    args = parser.parse_args(argv)
    run(args.quick, [t.upper() for t in args.tickers], args.out)
    print(f"wrote {args.out / 'transfer.json'} and {args.out / 'transfer.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
