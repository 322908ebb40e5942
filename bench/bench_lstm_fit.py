"""Why the LSTM misses a nonlinearity: how much of the oracle's conditional mean its median learns.

Usage::

    .venv/bin/python -m bench.bench_lstm_fit [--quick] [--process threshold_ar] [--seeds 1 2]

On a synthetic process whose optimal h=1 forecast is known (``stock_assets.domain.ml.synthetic``),
the LSTM is trained by the project's own trainer on one production split (training anchors, then
the most recent fifth as validation), every epoch to the end (no early stopping), in variants:

- ``as served``: the default configuration;
- ``h=1 only``: one horizon instead of seven (does the multi-horizon loss crowd the signal out?);
- ``nonlinear head``: a ReLU layer of 32 units beside the linear head (is the head too plain?);
- ``learning rate x5``: more movement per step (is it simply under-trained?);
- ``nonlinear head, returns only`` and ``nonlinear head, returns and volatility``: the same head
  on fewer inputs (the daily log return, and its 20-day volatility) instead of the seven model
  features (are the indicators, smooth functions of the same returns, in the way?).

After every epoch: the validation pinball loss, and the correlation of the h=1 median with the
oracle's conditional mean on the training windows (what it has fitted) and on the validation
windows (what generalises). ``early stop`` is the epoch the trainer's early stopping
(``ModelConfig.patience``) would restore. For contrast, the project's ``boosted`` baseline is
fitted on the same anchors, with the same correlations.

The reading that matters: a variant that learns the nonlinearity shows the validation correlation
rising while the validation loss falls. One whose training correlation rises only as its
validation loss rises is fitting noise, not the signal.
``--quick``: a shorter series, the tiny model, few epochs (seconds; not a measurement).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from bench.common import write_results
from stock_assets.domain.indicators import compute_indicators
from stock_assets.domain.ml.candidates import production_splits
from stock_assets.domain.ml.config import TINY, ModelConfig
from stock_assets.domain.ml.dataset import PreparedData, clean_frame, prepare_splits
from stock_assets.domain.ml.forecasters import make_baseline
from stock_assets.domain.ml.model import LSTMForecaster, build_model, predict_scaled
from stock_assets.domain.ml.progress import EpochProgress
from stock_assets.domain.ml.synthetic import make_series
from stock_assets.domain.ml.trainer import train

ROWS, QUICK_ROWS = 3000, 1200
EPOCHS, QUICK_EPOCHS = 60, 4
HEAD_UNITS = 32
VARIANTS = (
    "as served",
    "h=1 only",
    "nonlinear head",
    "learning rate x5",
    "nonlinear head, returns only",
    "nonlinear head, returns and volatility",
)
# The inputs of the variants that change them (the others keep the model's seven features).
INPUTS = {
    "nonlinear head, returns only": ("log_return",),
    "nonlinear head, returns and volatility": ("log_return", "volatility_20"),
}


class NonlinearHead(nn.Module):
    """The linear head plus a ReLU layer on the same inputs (the LSTM state and the last row)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.hidden = nn.Sequential(
            nn.Linear(in_features, HEAD_UNITS), nn.ReLU(), nn.Linear(HEAD_UNITS, out_features)
        )

    def forward(self, encoded: torch.Tensor) -> torch.Tensor:
        return self.linear(encoded) + self.hidden(encoded)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) == 0 or np.std(b) == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _variant(name: str, base: ModelConfig, epochs: int) -> tuple[ModelConfig, LSTMForecaster]:
    # patience = epochs: every epoch runs; where early stopping would have stopped is read after.
    config = base.replace(epochs=epochs, patience=epochs)
    if name == "h=1 only":
        config = config.replace(horizon=1)
    if name == "learning rate x5":
        config = config.replace(learning_rate=base.learning_rate * 5)
    if name in INPUTS:
        config = config.replace(feature_columns=INPUTS[name])
    model = build_model(config)
    if name.startswith("nonlinear head"):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            head = NonlinearHead(model.head.in_features, model.head.out_features)
            model.head = head  # type: ignore[assignment]  # same call signature as nn.Linear
    return config, model


def early_stop_epoch(val_losses: list[float], patience: int) -> int:
    """The epoch the trainer would restore: the best one before ``patience`` epochs without a
    strictly lower validation loss."""
    best, best_epoch = float("inf"), 0
    for epoch, loss in enumerate(val_losses, 1):
        if loss < best:
            best, best_epoch = loss, epoch
        elif epoch - best_epoch >= patience:
            break
    return best_epoch


def fit_variant(
    name: str, cleaned: pd.DataFrame, oracle_mean: np.ndarray, base: ModelConfig, epochs: int
) -> dict[str, Any]:
    config, model = _variant(name, base, epochs)
    data: PreparedData = prepare_splits(cleaned, config, production_splits(cleaned, config))
    truth = {"train": oracle_mean[data.train.anchors], "val": oracle_mean[data.val.anchors]}
    history: list[dict[str, float]] = []

    def record(progress: EpochProgress) -> None:
        row: dict[str, float] = {"epoch": progress.epoch, "val_loss": progress.val_loss}
        for split in ("train", "val"):
            median = predict_scaled(model, getattr(data, split).x)[:, 0, config.median_index]
            row[f"corr_{split}"] = _corr(median, truth[split])
            row[f"sd_{split}"] = float(np.std(median))
        history.append(row)

    started = time.perf_counter()
    train(model, data, config, "scratch", progress_callback=record)
    stop = early_stop_epoch([r["val_loss"] for r in history], base.patience)
    at_stop, last = history[stop - 1], history[-1]
    return {
        "variant": name,
        "wall_s": round(time.perf_counter() - started, 1),
        "early_stop_epoch": stop,
        "val_corr_at_early_stop": round(at_stop["corr_val"], 3),
        "train_corr_at_early_stop": round(at_stop["corr_train"], 3),
        "val_corr_last": round(last["corr_val"], 3),
        "train_corr_last": round(last["corr_train"], 3),
        "val_loss_best": round(min(r["val_loss"] for r in history), 4),
        "val_loss_last": round(last["val_loss"], 4),
        "history": history,
    }


def fit_boosted(
    cleaned: pd.DataFrame, oracle_mean: np.ndarray, config: ModelConfig
) -> dict[str, Any]:
    splits = production_splits(cleaned, config)
    boosted = make_baseline("boosted", config.horizon, config.quantiles)
    started = time.perf_counter()
    boosted.fit(cleaned, splits.train, splits.val)
    out: dict[str, Any] = {"variant": "boosted baseline (contrast)"}
    for split in ("train", "val"):
        anchors = getattr(splits, split)
        median = boosted.predict(cleaned, anchors).median[:, 0]
        out[f"{split}_corr_last"] = round(_corr(median, oracle_mean[anchors]), 3)
    out["wall_s"] = round(time.perf_counter() - started, 1)
    return out


def evaluate(process: str, seed: int, config: ModelConfig, rows: int, epochs: int) -> list[dict]:
    series = make_series(process, n=rows, seed=seed)
    cleaned = clean_frame(compute_indicators(series.ohlcv), config.feature_columns, "date")
    # The oracle's h=1 median of each cleaned row: the process's conditional mean (its shocks
    # are Gaussian). The oracle finds each row's hidden state by date.
    oracle = series.oracle(1, (0.5,))
    oracle_mean = oracle.predict(cleaned, np.arange(len(cleaned))).median[:, 0]
    runs = [fit_variant(v, cleaned, oracle_mean, config, epochs) for v in VARIANTS]
    runs.append(fit_boosted(cleaned, oracle_mean, config))
    for run in runs:
        run["process"], run["seed"] = process, seed
        print(
            f"{process} seed {seed} {run['variant']:28s} val corr at early stop "
            f"{run.get('val_corr_at_early_stop', '-')!s:>6} last {run['val_corr_last']:+.3f} "
            f"(train {run['train_corr_last']:+.3f}), {run['wall_s']} s",
            flush=True,
        )
    return runs


def markdown(runs: list[dict[str, Any]]) -> str:
    lines = [
        "Correlation of the h=1 median with the oracle's conditional mean (1 = all of the "
        "learnable signal, 0 = none of it).",
        "",
        "| process | seed | variant | early stop (epoch) | val corr at early stop | "
        "train corr at early stop | train corr, last epoch | val corr, last epoch | "
        "val loss best / last |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in runs:
        stop = r.get("early_stop_epoch", "-")
        loss = f"{r['val_loss_best']} / {r['val_loss_last']}" if "val_loss_best" in r else "-"
        lines.append(
            f"| {r['process']} | {r['seed']} | {r['variant']} | {stop} | "
            f"{r.get('val_corr_at_early_stop', '-')} | {r.get('train_corr_at_early_stop', '-')} | "
            f"{r['train_corr_last']} | {r['val_corr_last']} | {loss} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short series, tiny sizes")
    parser.add_argument("--process", default="threshold_ar")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.quick:
        config, rows, epochs, seeds = TINY, QUICK_ROWS, QUICK_EPOCHS, args.seeds[:1]
    else:
        config, rows, epochs, seeds = ModelConfig(), ROWS, EPOCHS, args.seeds
    runs = [run for seed in seeds for run in evaluate(args.process, seed, config, rows, epochs)]
    lstm = [r for r in runs if r["variant"] in VARIANTS]
    boosted = [r for r in runs if r["variant"] not in VARIANTS]
    figures: list[dict[str, Any]] = [
        {
            "figure": f"{variant}: val corr with the oracle at early stop (mean over seeds)",
            "value": round(float(np.mean([r["val_corr_at_early_stop"] for r in of])), 3),
            "target": "-",
            "met": None,
        }
        for variant in VARIANTS
        if (of := [r for r in lstm if r["variant"] == variant])
    ]
    figures.append(
        {
            "figure": "boosted baseline: val corr with the oracle (mean over seeds)",
            "value": round(float(np.mean([r["val_corr_last"] for r in boosted])), 3),
            "target": "-",
            "met": None,
        }
    )
    extra = {
        "process": args.process,
        "seeds": seeds,
        "epochs": epochs,
        "runs": [{k: v for k, v in r.items() if k != "history"} for r in runs],
        "histories": {f"{r['variant']} seed {r['seed']}": r["history"] for r in lstm},
    }
    write_results("lstm_fit", figures, extra, markdown(runs), quick=args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
