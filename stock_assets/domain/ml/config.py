"""Hyper-parameters of the forecaster and the transfer-learning strategies.

``ModelConfig`` is frozen and JSON-serialisable, so the exact configuration travels with every model
bundle (``config.json``) and every MLflow run, and a bundle can be rebuilt from it alone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from stock_assets.domain.indicators import MODEL_FEATURE_COLUMNS


class Strategy(StrEnum):
    """How a child model starts from the parent.

    A ``StrEnum`` so plain strings from Dagster config or an API request compare equal to members
    and ``Strategy("freeze")`` validates them.
    """

    FREEZE = "freeze"  # parent LSTM weights frozen, only the head is trained
    FINE_TUNE = "fine_tune"  # all weights trained, at learning_rate * fine_tune_lr_factor
    SCRATCH = "scratch"  # fresh random init, the baseline transfer must beat


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild, train and evaluate a forecaster.

    ``quantiles`` must contain 0.5 (the point forecast is the median); the outermost pair defines
    the prediction interval, whose nominal coverage is ``quantiles[-1] - quantiles[0]``.
    """

    # Small on purpose. Daily returns are mostly noise: on synthetic series with a known optimal
    # forecast, a 60-day window into a 64x2 LSTM fit the noise (relative MAE 0.99 at h=1 and 1.07
    # at h=7 on an AR(1) whose optimum is 0.97 and 0.99), while a 20-day window into 16 units
    # reached the optimum at h=1 on every seed tried (bench/bench_signal.py).
    lookback: int = 20
    horizon: int = 7
    hidden_size: int = 16
    num_layers: int = 1
    dropout: float = 0.0
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    epochs: int = 40
    batch_size: int = 128
    learning_rate: float = 1e-3
    fine_tune_lr_factor: float = 0.1
    patience: int = 5
    seed: int = 42
    val_fraction: float = 0.2
    test_fraction: float = 0.15
    grad_clip_norm: float = 1.0
    feature_columns: tuple[str, ...] = field(default=MODEL_FEATURE_COLUMNS)

    def __post_init__(self) -> None:
        # Normalise sequences (e.g. lists from JSON) to tuples so the dataclass stays hashable.
        object.__setattr__(self, "quantiles", tuple(float(q) for q in self.quantiles))
        object.__setattr__(self, "feature_columns", tuple(str(c) for c in self.feature_columns))
        positive_ints = ("lookback", "horizon", "hidden_size", "num_layers", "epochs", "batch_size")
        for name in positive_ints:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.patience < 1:
            raise ValueError("patience must be >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("dropout must be in [0, 1)")
        qs = self.quantiles
        if len(qs) < 3 or any(not 0.0 < q < 1.0 for q in qs) or list(qs) != sorted(set(qs)):
            raise ValueError(f"quantiles must be >= 3 distinct sorted values in (0, 1), got {qs}")
        if 0.5 not in qs:
            raise ValueError("quantiles must include 0.5 (the median is the point forecast)")
        if not 0.0 < self.val_fraction < 1.0 or not 0.0 <= self.test_fraction < 1.0:
            raise ValueError("val_fraction must be in (0, 1) and test_fraction in [0, 1)")
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ValueError("val_fraction + test_fraction leaves too little training data")
        if self.learning_rate <= 0 or self.fine_tune_lr_factor <= 0:
            raise ValueError("learning_rate and fine_tune_lr_factor must be positive")
        if not self.feature_columns:
            raise ValueError("feature_columns must not be empty")

    @property
    def n_features(self) -> int:
        return len(self.feature_columns)

    @property
    def n_quantiles(self) -> int:
        return len(self.quantiles)

    @property
    def median_index(self) -> int:
        return self.quantiles.index(0.5)

    @property
    def nominal_coverage(self) -> float:
        """Nominal coverage of the outermost quantile interval (0.8 for (0.1, ..., 0.9))."""
        return round(self.quantiles[-1] - self.quantiles[0], 10)

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["quantiles"] = list(self.quantiles)
        out["feature_columns"] = list(self.feature_columns)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of ``to_dict``. Missing keys take defaults; unknown keys are an error.

        Unknown keys fail loudly because a silently ignored typo (``learning_rte``) would train
        with a default nobody asked for.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown ModelConfig keys: {sorted(unknown)}")
        return cls(**data)


# A deliberately small configuration for unit tests and quick benchmarks: seconds on 2 CPU cores.
TINY = ModelConfig(
    lookback=20,
    horizon=7,
    hidden_size=8,
    num_layers=1,
    dropout=0.0,
    epochs=4,
    batch_size=64,
    learning_rate=5e-3,
    patience=2,
)
