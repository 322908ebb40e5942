"""Run configuration of the model assets (editable in the Dagster launchpad).

Defaults are the full sizes; tests and quick runs pass smaller values. A child takes its
architecture from the parent bundle it starts from, so only training knobs are configurable there.
"""

from typing import Literal

import dagster as dg
from pydantic import Field

from stock_assets.domain.ml.backtest import MIN_FOLDS
from stock_assets.domain.ml.config import ModelConfig


class TrainingKnobs(dg.Config):
    epochs: int = 40
    patience: int = 5
    batch_size: int = 128
    learning_rate: float = 1e-3
    fine_tune_lr_factor: float = 0.1
    seed: int = 42

    def apply(self, base: ModelConfig) -> ModelConfig:
        return base.replace(
            epochs=self.epochs,
            patience=self.patience,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            fine_tune_lr_factor=self.fine_tune_lr_factor,
            seed=self.seed,
        )


class ParentModelConfig(TrainingKnobs):
    # Defaults from ``ModelConfig`` (why they are small: see there).
    lookback: int = 20
    hidden_size: int = 16
    num_layers: int = 1
    dropout: float = 0.0

    def to_model_config(self) -> ModelConfig:
        base = ModelConfig(
            lookback=self.lookback,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            dropout=self.dropout,
        )
        return self.apply(base)


class ChildModelConfig(TrainingKnobs):
    strategy: Literal["freeze", "fine_tune", "scratch"] = "fine_tune"


class BacktestConfig(dg.Config):
    """How much evidence the walk-forward gathers. The promotion policy that judges it is not
    configurable here: it lives, versioned, in ``stock_assets.domain.ml.policy``."""

    # Bad values are refused with a message when the run is launched, not deep inside the step.
    n_folds: int = Field(default=4, ge=MIN_FOLDS, le=52, description="Walk-forward folds.")
    test_years: float = Field(default=2.0, gt=0, le=20, description="Years of test sessions.")
