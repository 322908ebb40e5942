"""Model shapes, pinball loss, transfer strategies, early stopping and determinism."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from stock_assets.domain.ml.config import TINY, Strategy
from stock_assets.domain.ml.dataset import PreparedData
from stock_assets.domain.ml.losses import pinball_loss
from stock_assets.domain.ml.model import (
    apply_strategy,
    build_model,
    init_child_from_parent,
    predict_log_returns,
    predict_scaled,
)
from stock_assets.domain.ml.trainer import EpochProgress, evaluate_loss, train


@pytest.fixture
def data(prepared_data: Callable[..., PreparedData]) -> PreparedData:
    return prepared_data(500, seed=3)


@pytest.fixture
def parent_state() -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in build_model(TINY).state_dict().items()}


def test_pinball_loss_by_hand() -> None:
    # y = 1, predictions 0 (q=0.1) and 2 (q=0.9): 0.1*1 = 0.1 and (0.9-1)*(-1) = 0.1 -> mean 0.1
    pred = torch.tensor([[[0.0, 2.0]]])
    assert float(pinball_loss(pred, torch.tensor([[1.0]]), (0.1, 0.9))) == pytest.approx(0.1)


def test_output_shape_and_non_crossing_quantiles(data: PreparedData) -> None:
    model = build_model(TINY)
    with torch.no_grad():
        model.head.bias.copy_(torch.tensor([1.0, 0.0, -1.0] * TINY.horizon))  # force crossing
    out = predict_scaled(model, data.val.x)
    assert out.shape == (len(data.val), TINY.horizon, TINY.n_quantiles)
    assert np.all(np.diff(out, axis=-1) >= 0)
    log_returns = predict_log_returns(model, data.scaler, data.val.x)
    np.testing.assert_allclose(
        log_returns, out * data.scaler.target_scale_[None, :, None], rtol=1e-5
    )


def test_build_model_is_seeded_and_leaves_global_rng_alone() -> None:
    state = torch.get_rng_state()
    a, b = build_model(TINY), build_model(TINY)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))


def _changed(before: dict[str, torch.Tensor], model: torch.nn.Module, prefix: str) -> list[bool]:
    return [
        not torch.equal(before[k], v) for k, v in model.state_dict().items() if k.startswith(prefix)
    ]


def test_freeze_trains_only_the_head(
    data: PreparedData, parent_state: dict[str, torch.Tensor]
) -> None:
    child = init_child_from_parent(parent_state, TINY, Strategy.FREEZE)
    assert not any(p.requires_grad for p in child.lstm.parameters())
    result = train(child, data, TINY.replace(epochs=2), Strategy.FREEZE, device="cpu")
    assert not any(_changed(parent_state, child, "lstm."))
    assert all(_changed(parent_state, child, "head."))
    assert result.trainable_params == sum(p.numel() for p in child.head.parameters())


def test_fine_tune_changes_every_weight_at_a_lower_rate(
    data: PreparedData, parent_state: dict[str, torch.Tensor]
) -> None:
    child = init_child_from_parent(parent_state, TINY, "fine_tune")
    result = train(child, data, TINY.replace(epochs=2), "fine_tune", device="cpu")
    assert all(_changed(parent_state, child, ""))
    assert result.learning_rate == pytest.approx(TINY.learning_rate * TINY.fine_tune_lr_factor)


def test_scratch_reinitialises(parent_state: dict[str, torch.Tensor]) -> None:
    parent = build_model(TINY.replace(seed=7))
    child = init_child_from_parent(parent.state_dict(), TINY, "scratch")
    assert all(p.requires_grad for p in child.parameters())
    assert not torch.equal(child.lstm.weight_ih_l0, parent.lstm.weight_ih_l0)
    apply_strategy(child, "freeze")
    assert not child.lstm.weight_hh_l0.requires_grad and child.head.weight.requires_grad


def test_early_stopping_restores_the_best_weights(data: PreparedData) -> None:
    cfg = TINY.replace(epochs=10, patience=2)
    model = build_model(cfg)
    seen: list[EpochProgress] = []

    def sabotage(progress: EpochProgress) -> None:
        # From epoch 2 on, wreck the head after the epoch is scored: later epochs cannot recover
        # at this learning rate, so the val loss goes up whatever the platform's float noise.
        seen.append(progress)
        if progress.epoch >= 2:
            with torch.no_grad():
                model.head.bias.add_(25.0)

    result = train(model, data, cfg, "scratch", progress_callback=sabotage, device="cpu")
    vals = [r.val_loss for r in result.history]
    assert result.best_val_loss == min(vals)
    assert result.best_epoch == int(np.argmin(vals)) + 1 <= 2
    assert result.stopped_early and result.epochs_run == result.best_epoch + cfg.patience
    # The returned weights are the best epoch's, not the sabotaged last epoch's.
    restored = evaluate_loss(model, data.val, data.scaler, cfg.quantiles)
    assert restored == pytest.approx(result.best_val_loss, rel=1e-5)
    assert vals[-1] > 2 * restored
    assert [p.epoch for p in seen] == list(range(1, result.epochs_run + 1))
    assert all(p.total_epochs == cfg.epochs for p in seen)


def test_same_seed_same_losses(data: PreparedData) -> None:
    cfg = TINY.replace(epochs=2, dropout=0.2, num_layers=2)
    runs = [train(build_model(cfg), data, cfg, "scratch", device="cpu") for _ in range(2)]
    first, second = ([(r.train_loss, r.val_loss) for r in run.history] for run in runs)
    assert first == second


def test_target_val_loss_records_time_to_target(data: PreparedData) -> None:
    result = train(build_model(TINY), data, TINY, "scratch", device="cpu", target_val_loss=1e9)
    assert result.epoch_to_target == 1
    assert result.time_to_target_s is not None and result.time_to_target_s <= result.wall_time_s
    never = train(build_model(TINY), data, TINY, "scratch", device="cpu", target_val_loss=-1.0)
    assert never.time_to_target_s is None and never.epoch_to_target is None
