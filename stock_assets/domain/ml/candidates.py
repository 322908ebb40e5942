"""The standard candidate recipes of a backtest: the baselines, an LSTM, and their identities.

A recipe's identity (``recipe_id``) is a digest of what determines its forecasts given the data:
for the LSTM its configuration, transfer strategy and parent; for a baseline its name. Two
candidates with the same identity produce the same walk-forward forecasts, so the policy treats a
retrain of the champion's own recipe as a refresh, not as a rival.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from stock_assets.domain.ml.backtest import CandidateSpec, Fold
from stock_assets.domain.ml.config import ModelConfig, Strategy
from stock_assets.domain.ml.dataset import SplitAnchors, clean_frame, split_anchors, valid_anchors
from stock_assets.domain.ml.forecasters import (
    BASELINES,
    BaselineForecaster,
    Forecaster,
    make_baseline,
)
from stock_assets.domain.ml.progress import EpochProgress

if TYPE_CHECKING:  # torch is imported where an LSTM is built, not with the recipes
    import torch

Builder = Callable[[Fold, Callable[[EpochProgress], None] | None], Forecaster]


def recipe_id(recipe: Mapping[str, Any]) -> str:
    """A short, stable digest of a recipe (sorted JSON)."""
    payload = json.dumps(dict(recipe), sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()[:12]


def config_digest(config: ModelConfig) -> str:
    """Identity of a model configuration (e.g. the parent's, in a child's recipe)."""
    return recipe_id(config.to_dict())


def baseline_recipe(name: str) -> dict[str, Any]:
    return {"family": "baseline", "name": name}


def lstm_recipe(
    config: ModelConfig, strategy: Strategy | str, parent: str | None
) -> dict[str, Any]:
    """``parent``: the identity of the weights the child starts from (None for scratch)."""
    strategy = Strategy(strategy)
    return {
        "family": "learned",
        "name": "lstm",
        "strategy": strategy.value,
        "parent": None if strategy is Strategy.SCRATCH else parent,
        "config": config.to_dict(),
    }


def baseline_specs(config: ModelConfig) -> list[CandidateSpec]:
    """``naive``, ``drift`` and ``linear``, forecasting ``config``'s horizons and quantiles."""

    def builder(name: str) -> Builder:
        return lambda fold, progress: make_baseline(name, config.horizon, config.quantiles)

    return [
        CandidateSpec(name, "baseline", builder(name), baseline_recipe(name)) for name in BASELINES
    ]


def lstm_spec(
    name: str,
    config: ModelConfig,
    strategy: Strategy | str,
    parent_state: Mapping[str, torch.Tensor] | None,
    *,
    parent_id: str | None = None,
    device: str | torch.device | None = None,
) -> CandidateSpec:
    """An LSTM recipe: each fold's child starts from ``parent_state`` (or scratch)."""

    def build(fold: Fold, progress: Callable[[EpochProgress], None] | None) -> Forecaster:
        from stock_assets.domain.ml.lstm_candidate import LSTMCandidate

        return LSTMCandidate(
            config, strategy, parent_state, device=device, progress_callback=progress
        )

    return CandidateSpec(name, "learned", build, lstm_recipe(config, strategy, parent_id))


def production_splits(cleaned: pd.DataFrame, config: ModelConfig) -> SplitAnchors:
    """The fit of a served model: every anchor, train then validation (the most recent), gapped.

    No test split: honest evaluation is the walk-forward backtest's job. The validation anchors
    are the model's first out-of-sample ones, where its conformal calibration starts.
    """
    anchors = valid_anchors(len(cleaned), config.lookback, config.horizon)
    return split_anchors(anchors, config.lookback, config.horizon, config.val_fraction, 0.0)


def fit_production_baseline(
    name: str, frame: pd.DataFrame, config: ModelConfig, timestamp_column: str | None = None
) -> tuple[BaselineForecaster, dict[str, str]]:
    """A baseline fitted on all of ``frame`` for serving, and its fit-window metadata."""
    cleaned = clean_frame(frame, config.feature_columns, timestamp_column)
    splits = production_splits(cleaned, config)
    baseline = make_baseline(name, config.horizon, config.quantiles)
    baseline.fit(cleaned, splits.train, splits.val)
    dates = pd.DatetimeIndex(cleaned["date"])
    return baseline, {
        "calibration_start": str(dates[splits.val[0]].date()),
        "data_end": str(dates[-1].date()),
    }
