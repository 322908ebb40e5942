"""The LSTM quantile forecaster and the parent -> child transfer strategies."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from stock_assets.domain.ml.config import ModelConfig, Strategy
from stock_assets.domain.ml.dataset import FeatureScaler


class LSTMForecaster(nn.Module):
    """LSTM encoder + the last input row -> linear head of ``horizon x n_quantiles`` outputs.

    A direct multi-horizon head (all horizons at once) rather than a recursive one: errors do not
    compound through fed-back predictions and one forward pass gives the whole forecast. Outputs
    are in scaled target units (see ``FeatureScaler.scale_targets``).

    The head reads the last input row beside the LSTM's final hidden state (a linear skip path,
    as in LSTNet's autoregressive component). Daily returns carry little signal, and what a
    linear fit finds in the latest row (yesterday's return, the current volatility) is the part
    most worth having: through the recurrence alone, an LSTM trained on such noisy targets found
    it only sometimes (relative MAE 0.99 where an AR(1) allows 0.97). With the skip path the
    linear part is as easy to learn as for the linear baseline, and the LSTM adds what is not
    linear.
    """

    def __init__(  # noqa: PLR0917 - the constructor mirrors nn.LSTM's positional style
        self,
        n_features: int,
        hidden_size: int,
        num_layers: int,
        dropout: float,
        horizon: int,
        n_quantiles: int,
    ) -> None:
        super().__init__()
        self.horizon = horizon
        self.n_quantiles = n_quantiles
        self.lstm = nn.LSTM(
            input_size=n_features,
            hidden_size=hidden_size,
            num_layers=num_layers,
            batch_first=True,
            # nn.LSTM only applies dropout between layers and warns when there is one layer.
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.head = nn.Linear(hidden_size + n_features, horizon * n_quantiles)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, L, F)`` -> the last layer's final hidden state and the last row ``(B, H + F)``."""
        _, (h_n, _) = self.lstm(x)
        return torch.cat([h_n[-1], x[:, -1, :]], dim=1)

    def decode(self, encoded: torch.Tensor) -> torch.Tensor:
        """``(B, H + F)`` -> raw quantile outputs ``(B, horizon, n_quantiles)`` (unsorted)."""
        return self.head(encoded).view(-1, self.horizon, self.n_quantiles)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw (possibly crossing) quantiles, used by the loss during training."""
        return self.decode(self.encode(x))


def sort_quantiles(outputs: torch.Tensor) -> torch.Tensor:
    """Non-crossing quantiles: sort along the last axis.

    Sorting (monotone rearrangement) never increases the pinball loss, so it is a free fix for
    the rare crossing of independently regressed quantiles.
    """
    return torch.sort(outputs, dim=-1).values


def build_model(config: ModelConfig, n_features: int | None = None) -> LSTMForecaster:
    """A freshly initialised model, deterministic for ``config.seed``.

    The init runs under a forked RNG so building a model does not disturb the caller's RNG state.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return LSTMForecaster(
            n_features=n_features if n_features is not None else config.n_features,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout,
            horizon=config.horizon,
            n_quantiles=config.n_quantiles,
        )


def _reinitialise(model: LSTMForecaster, seed: int) -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model.lstm.reset_parameters()
        model.head.reset_parameters()


def apply_strategy(
    model: LSTMForecaster, strategy: Strategy | str, seed: int = 0
) -> LSTMForecaster:
    """Set which parameters train (in place; returns ``model`` for chaining).

    - ``freeze``: LSTM parameters ``requires_grad=False``, head trainable;
    - ``fine_tune``: everything trainable (the trainer lowers the learning rate);
    - ``scratch``: weights re-initialised (``seed``), everything trainable.
    """
    strategy = Strategy(strategy)
    if strategy is Strategy.SCRATCH:
        _reinitialise(model, seed)
    for param in model.lstm.parameters():
        param.requires_grad_(strategy is not Strategy.FREEZE)
    for param in model.head.parameters():
        param.requires_grad_(True)
    return model


def n_features_of(state_dict: Mapping[str, torch.Tensor]) -> int:
    """Input width of a saved model (``lstm.weight_ih_l0`` is ``(4*hidden, n_features)``)."""
    return int(state_dict["lstm.weight_ih_l0"].shape[1])


def init_child_from_parent(
    parent_state_dict: Mapping[str, torch.Tensor] | None,
    config: ModelConfig,
    strategy: Strategy | str,
) -> LSTMForecaster:
    """A child model for ``strategy``: parent weights (freeze / fine_tune) or fresh (scratch).

    The child must share the parent's architecture (hidden size, layers, horizon, quantiles,
    features); ``load_state_dict(strict=True)`` raises if it does not.
    """
    strategy = Strategy(strategy)
    model = build_model(config)
    if strategy is not Strategy.SCRATCH:
        if parent_state_dict is None:
            raise ValueError(f"strategy {strategy.value!r} needs a parent state dict")
        if n_features_of(parent_state_dict) != config.n_features:
            raise ValueError(
                f"parent has {n_features_of(parent_state_dict)} input features, "
                f"config has {config.n_features}"
            )
        model.load_state_dict(dict(parent_state_dict), strict=True)
    return apply_strategy(model, strategy, seed=config.seed)


@torch.no_grad()
def predict_scaled(
    model: LSTMForecaster,
    x: NDArray[np.float32] | torch.Tensor,
    batch_size: int = 1024,
) -> NDArray[np.float32]:
    """Sorted quantile outputs ``(N, horizon, Q)`` in scaled target units, eval mode, batched."""
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        x_t = torch.as_tensor(x, dtype=torch.float32)
        outs = [
            sort_quantiles(model(x_t[i : i + batch_size].to(device))).cpu()
            for i in range(0, len(x_t), batch_size)
        ]
    finally:
        model.train(was_training)
    if not outs:
        return np.zeros((0, model.horizon, model.n_quantiles), dtype=np.float32)
    return torch.cat(outs).numpy()


def predict_log_returns(
    model: LSTMForecaster,
    scaler: FeatureScaler,
    x: NDArray[np.float32] | torch.Tensor,
    batch_size: int = 1024,
) -> NDArray[np.float64]:
    """Sorted quantile forecasts ``(N, horizon, Q)`` as log returns from the anchor's close."""
    scaled = predict_scaled(model, x, batch_size=batch_size).astype(np.float64)
    return np.asarray(scaler.unscale_targets(scaled, horizon_axis=1), dtype=np.float64)
