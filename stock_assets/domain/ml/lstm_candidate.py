"""The LSTM as a candidate forecaster: the same interface as the baselines.

``fit`` builds the windows of the given training and validation anchors (scaler fit on training
rows only), starts from the parent's weights (``freeze`` / ``fine_tune``) or from scratch, and
trains with early stopping on the validation anchors. ``predict`` windows rows ``<= anchor``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
import torch

from stock_assets.domain.ml.config import ModelConfig, Strategy
from stock_assets.domain.ml.dataset import (
    FeatureScaler,
    PreparedData,
    SplitAnchors,
    make_windows,
    prepare_splits,
)
from stock_assets.domain.ml.forecasters import Forecaster, IntArray, QuantileForecast
from stock_assets.domain.ml.model import (
    LSTMForecaster,
    build_model,
    init_child_from_parent,
    predict_log_returns,
)
from stock_assets.domain.ml.trainer import EpochProgress, TrainResult, train


class LSTMCandidate(Forecaster):
    """A trained (or to-be-trained) LSTM with its scaler, behind the ``Forecaster`` interface."""

    name = "lstm"
    family = "learned"

    def __init__(
        self,
        config: ModelConfig,
        strategy: Strategy | str = Strategy.SCRATCH,
        parent_state: Mapping[str, torch.Tensor] | None = None,
        *,
        model: LSTMForecaster | None = None,
        scaler: FeatureScaler | None = None,
        device: str | torch.device | None = None,
        progress_callback: Callable[[EpochProgress], None] | None = None,
    ) -> None:
        self.config = config
        self.strategy = Strategy(strategy)
        self.parent_state = parent_state
        self.model = model
        self.scaler = scaler
        self.device = device
        self.progress_callback = progress_callback
        self.result: TrainResult | None = None
        self.prepared: PreparedData | None = None

    def fit(self, frame: pd.DataFrame, train_anchors: IntArray, val: IntArray) -> None:
        cfg = self.config
        # Folds are planned with the challenger's lookback; a longer one (a champion's recipe)
        # needs its first windows to start later.
        train_anchors = train_anchors[train_anchors >= cfg.lookback - 1]
        splits = SplitAnchors(train_anchors, val, val[:0], cfg.lookback + cfg.horizon)
        self.prepared = prepare_splits(frame, cfg, splits)
        if self.strategy is Strategy.SCRATCH and self.parent_state is None:
            self.model = build_model(cfg)
        else:
            self.model = init_child_from_parent(self.parent_state, cfg, self.strategy)
        self.result = train(
            self.model,
            self.prepared,
            cfg,
            self.strategy,
            progress_callback=self.progress_callback,
            device=self.device,
        )
        self.scaler = self.prepared.scaler

    def predict(self, frame: pd.DataFrame, anchors: IntArray) -> QuantileForecast:
        if self.model is None or self.scaler is None:
            raise RuntimeError("the LSTM candidate is not fitted")
        cfg = self.config
        if len(anchors) == 0:
            return QuantileForecast(np.zeros((0, cfg.horizon, cfg.n_quantiles)), cfg.quantiles)
        # Only the rows the windows read: nothing after the last anchor is even scaled.
        last = int(np.max(anchors)) + 1
        raw = frame[list(cfg.feature_columns)].to_numpy(dtype=float)[:last]
        x = make_windows(self.scaler.transform(raw), np.asarray(anchors), cfg.lookback)
        values = predict_log_returns(self.model, self.scaler, x)
        return QuantileForecast(values, cfg.quantiles)
