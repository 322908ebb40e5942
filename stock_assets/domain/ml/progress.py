"""What a training loop reports as it goes: a plain record, importable without torch (the
backtest and the code location read it; only training needs torch)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EpochProgress:
    """What a progress callback receives after each epoch (``epoch`` is 1-based)."""

    epoch: int
    total_epochs: int
    train_loss: float
    val_loss: float
