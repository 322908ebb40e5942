"""ModelConfig validation and JSON round trip; Strategy parsing."""

from __future__ import annotations

import json

import pytest

from stock_assets.domain.ml.config import TINY, ModelConfig, Strategy


def test_defaults_match_the_design() -> None:
    cfg = ModelConfig()
    assert (cfg.lookback, cfg.horizon, cfg.quantiles) == (20, 7, (0.1, 0.5, 0.9))
    assert (cfg.hidden_size, cfg.num_layers) == (16, 1)  # small on purpose: see ModelConfig
    assert cfg.nominal_coverage == pytest.approx(0.8)
    assert cfg.median_index == 1


def test_round_trip_through_json() -> None:
    restored = ModelConfig.from_dict(json.loads(json.dumps(TINY.to_dict())))
    assert restored == TINY
    assert isinstance(restored.quantiles, tuple)


def test_unknown_keys_and_bad_values_fail() -> None:
    with pytest.raises(ValueError, match="unknown"):
        ModelConfig.from_dict({"learning_rte": 0.1})
    with pytest.raises(ValueError, match=r"0\.5"):
        ModelConfig(quantiles=(0.1, 0.4, 0.9))
    with pytest.raises(ValueError):
        ModelConfig(quantiles=(0.9, 0.5, 0.1))
    with pytest.raises(ValueError):
        ModelConfig(lookback=0)


def test_strategy_accepts_plain_strings() -> None:
    assert Strategy("freeze") is Strategy.FREEZE
    assert Strategy.FINE_TUNE == "fine_tune"
    with pytest.raises(ValueError):
        Strategy("thaw")
