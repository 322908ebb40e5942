"""Pinball (quantile) loss."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def pinball_loss(
    predictions: torch.Tensor,
    targets: torch.Tensor,
    quantiles: Sequence[float] | torch.Tensor,
) -> torch.Tensor:
    """Mean pinball loss over samples, horizons and quantiles.

    ``predictions`` is ``(B, H, Q)``, ``targets`` ``(B, H)``. For quantile ``q`` and error
    ``e = y - y_hat`` the loss is ``max(q * e, (q - 1) * e)``: under-prediction costs ``q`` per
    unit, over-prediction ``1 - q``, so its minimiser is the ``q``-quantile.
    """
    if predictions.ndim != 3 or targets.shape != predictions.shape[:2]:
        raise ValueError(
            f"expected predictions (B, H, Q) and targets (B, H), got "
            f"{tuple(predictions.shape)} and {tuple(targets.shape)}"
        )
    q = torch.as_tensor(quantiles, dtype=predictions.dtype, device=predictions.device)
    if q.numel() != predictions.shape[-1]:
        raise ValueError("number of quantiles does not match the last axis of predictions")
    errors = targets.unsqueeze(-1) - predictions
    return torch.maximum(q * errors, (q - 1.0) * errors).mean()
