"""Training loop: Adam on the pinball loss, early stopping that restores the best weights."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from stock_assets.domain.ml.config import ModelConfig, Strategy
from stock_assets.domain.ml.dataset import FeatureScaler, PreparedData, Split
from stock_assets.domain.ml.losses import pinball_loss
from stock_assets.domain.ml.model import LSTMForecaster, sort_quantiles
from stock_assets.domain.ml.progress import EpochProgress

EVAL_BATCH_SIZE = 1024


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float
    elapsed_s: float  # since the start of ``train``


@dataclass
class TrainResult:
    """Outcome of one ``train`` call; the model itself is updated in place."""

    strategy: str
    best_val_loss: float
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    wall_time_s: float
    samples_per_s: float
    learning_rate: float
    device: str
    train_samples: int
    val_samples: int
    trainable_params: int
    history: list[EpochRecord] = field(default_factory=list)
    target_val_loss: float | None = None
    time_to_target_s: float | None = None  # wall time when val loss first reached the target
    epoch_to_target: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


ProgressCallback = Callable[[EpochProgress], None]


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The forced ``device`` if given, else CUDA when available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA) RNGs; dropout draws from torch's global RNG."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def learning_rate_for(config: ModelConfig, strategy: Strategy | str) -> float:
    """The encoder's rate: ``fine_tune``: ``learning_rate * fine_tune_lr_factor``; else the base."""
    if Strategy(strategy) is Strategy.FINE_TUNE:
        return config.learning_rate * config.fine_tune_lr_factor
    return config.learning_rate


def parameter_groups(
    model: LSTMForecaster, config: ModelConfig, strategy: Strategy | str
) -> list[dict[str, Any]]:
    """Trainable parameters with their learning rates (discriminative fine-tuning).

    ``fine_tune`` keeps the parent's LSTM close to where it was (``fine_tune_lr_factor``) but
    trains the head at the full rate: the head is what is specific to the ticker (its own
    autocorrelation, its volatility level), and at a tenth of the rate it barely moved before
    early stopping ended training, so the child kept the parent's view of the index.
    """
    encoder_lr = learning_rate_for(config, strategy)
    groups = [
        {"params": [p for p in model.lstm.parameters() if p.requires_grad], "lr": encoder_lr},
        {
            "params": [p for p in model.head.parameters() if p.requires_grad],
            "lr": config.learning_rate,
        },
    ]
    return [g for g in groups if g["params"]]


def _as_tensors(
    split: Split, scaler: FeatureScaler, device: torch.device, *, training: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets; training targets are centred (``FeatureScaler.training_targets``),
    validation targets are not: the validation loss scores forecasts as they are served."""
    x = torch.as_tensor(split.x, dtype=torch.float32, device=device)
    targets = scaler.training_targets(split.y) if training else scaler.scale_targets(split.y)
    y = torch.as_tensor(targets, dtype=torch.float32, device=device)
    return x, y


@torch.no_grad()
def _mean_loss(
    forward: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    targets: torch.Tensor,
    quantiles: tuple[float, ...],
) -> float:
    """Exact mean pinball loss over all samples of sorted outputs (batched to bound memory)."""
    total = 0.0
    for i in range(0, len(inputs), EVAL_BATCH_SIZE):
        out = sort_quantiles(forward(inputs[i : i + EVAL_BATCH_SIZE]))
        batch_targets = targets[i : i + EVAL_BATCH_SIZE]
        total += float(pinball_loss(out, batch_targets, quantiles)) * len(batch_targets)
    return total / max(len(inputs), 1)


def evaluate_loss(
    model: LSTMForecaster,
    split: Split,
    scaler: FeatureScaler,
    quantiles: tuple[float, ...],
    device: str | torch.device | None = None,
) -> float:
    """Mean pinball loss (scaled target units) of ``model`` on ``split``, eval mode, sorted."""
    dev = resolve_device(device) if device is not None else next(model.parameters()).device
    model.to(dev)
    was_training = model.training
    model.eval()
    try:
        x, y = _as_tensors(split, scaler, dev)
        return _mean_loss(model, x, y, quantiles)
    finally:
        model.train(was_training)


@torch.no_grad()
def _encode_all(model: LSTMForecaster, x: torch.Tensor) -> torch.Tensor:
    return (
        torch.cat(
            [model.encode(x[i : i + EVAL_BATCH_SIZE]) for i in range(0, len(x), EVAL_BATCH_SIZE)]
        )
        if len(x)
        else torch.zeros((0, model.head.in_features), device=x.device)
    )


def train(
    model: LSTMForecaster,
    data: PreparedData,
    config: ModelConfig,
    strategy: Strategy | str,
    *,
    progress_callback: ProgressCallback | None = None,
    device: str | torch.device | None = None,
    target_val_loss: float | None = None,
) -> TrainResult:
    """Train ``model`` in place on ``data.train``; early-stop on ``data.val``.

    - Up to ``config.epochs`` epochs; stops after ``config.patience`` epochs without a strictly
      lower validation loss and restores the weights of the best epoch.
    - ``strategy`` sets the learning rate (``fine_tune`` uses ``fine_tune_lr_factor``) and, for
      ``freeze``, makes sure the LSTM is frozen. ``scratch`` initialisation is the caller's job
      (``init_child_from_parent``/``build_model``).
    - ``freeze`` fast path: with the encoder frozen (and in eval mode, so no dropout noise), its
      outputs are fixed, so they are computed once and only the head is trained on them.
    - Seeds Python/numpy/torch from ``config.seed``: same inputs -> same losses on the same device.
    - ``target_val_loss``: records when the validation loss first reached ``<=`` the target.
    - ``progress_callback(EpochProgress)`` runs after every epoch; an exception it raises aborts
      training (a way to cancel).
    - The model is returned to the CPU at the end so its state dict is portable.
    """
    strategy = Strategy(strategy)
    if len(data.train) == 0 or len(data.val) == 0:
        raise ValueError("training needs non-empty train and validation splits")
    dev = resolve_device(device)
    seed_everything(config.seed)
    shuffle_gen = torch.Generator().manual_seed(config.seed)
    start = time.perf_counter()

    if strategy is Strategy.FREEZE:
        for param in model.lstm.parameters():
            param.requires_grad_(False)
    model.to(dev)
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("model has no trainable parameters")
    lr = learning_rate_for(config, strategy)
    optimizer = torch.optim.Adam(parameter_groups(model, config, strategy), lr=lr)

    x_train, y_train = _as_tensors(data.train, data.scaler, dev, training=True)
    x_val, y_val = _as_tensors(data.val, data.scaler, dev)
    forward: Callable[[torch.Tensor], torch.Tensor]
    if strategy is Strategy.FREEZE:
        model.eval()
        x_train, x_val = _encode_all(model, x_train), _encode_all(model, x_val)
        forward = model.decode
    else:
        forward = model

    history: list[EpochRecord] = []
    best_loss = float("inf")
    best_epoch = 0
    best_state: dict[str, torch.Tensor] = {}
    since_best = 0
    time_to_target: float | None = None
    epoch_to_target: int | None = None
    n_train = len(x_train)

    for epoch in range(1, config.epochs + 1):
        if strategy is not Strategy.FREEZE:
            model.train()
        perm = torch.randperm(n_train, generator=shuffle_gen).to(dev)
        # Accumulated on the device: a float() per batch would force a GPU sync every step.
        running = torch.zeros((), device=dev)
        for i in range(0, n_train, config.batch_size):
            idx = perm[i : i + config.batch_size]
            loss = pinball_loss(forward(x_train[idx]), y_train[idx], config.quantiles)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip_norm > 0:
                torch.nn.utils.clip_grad_norm_(trainable, config.grad_clip_norm)
            optimizer.step()
            running += loss.detach() * len(idx)
        train_loss = float(running) / n_train
        if not np.isfinite(train_loss):
            raise FloatingPointError(f"training loss became {train_loss} at epoch {epoch}")

        model.eval()
        val_loss = _mean_loss(forward, x_val, y_val, config.quantiles)
        if not np.isfinite(val_loss):
            raise FloatingPointError(f"validation loss became {val_loss} at epoch {epoch}")
        elapsed = time.perf_counter() - start
        history.append(EpochRecord(epoch, train_loss, val_loss, elapsed))
        if target_val_loss is not None and time_to_target is None and val_loss <= target_val_loss:
            time_to_target, epoch_to_target = elapsed, epoch
        if val_loss < best_loss:
            best_loss, best_epoch, since_best = val_loss, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            since_best += 1
        if progress_callback is not None:
            progress_callback(EpochProgress(epoch, config.epochs, train_loss, val_loss))
        if since_best >= config.patience:
            break

    model.load_state_dict(best_state)
    model.to("cpu")
    model.eval()
    wall = time.perf_counter() - start
    epochs_run = len(history)
    return TrainResult(
        strategy=strategy.value,
        best_val_loss=best_loss,
        best_epoch=best_epoch,
        epochs_run=epochs_run,
        stopped_early=epochs_run < config.epochs,
        wall_time_s=wall,
        samples_per_s=epochs_run * n_train / wall if wall > 0 else float("nan"),
        learning_rate=lr,
        device=str(dev),
        train_samples=n_train,
        val_samples=len(x_val),
        trainable_params=sum(p.numel() for p in trainable),
        history=history,
        target_val_loss=target_val_loss,
        time_to_target_s=time_to_target,
        epoch_to_target=epoch_to_target,
    )
