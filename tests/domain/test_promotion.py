"""The promotion gate and the leakage alarm on hand-made metric tables."""

from __future__ import annotations

import pandas as pd

from stock_assets.domain.ml.promotion import evaluate_promotion, leakage_signs


def _metrics(rel_mae: list[float], coverage: float = 0.8, direction: float = 0.52) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "horizon": range(1, len(rel_mae) + 1),
            "relative_mae": rel_mae,
            "relative_mae_drift": rel_mae,
            "coverage": coverage,
            "nominal_coverage": 0.8,
            "directional_accuracy": direction,
        }
    )


def test_gate_passes_at_naive_level_within_tolerance() -> None:
    decision = evaluate_promotion(_metrics([1.005, 1.02]), relative_mae_tolerance=0.01)
    assert decision.passed and decision.description.startswith("Promoted")
    assert decision.details["relative_mae_limit"] == 1.01


def test_gate_fails_worse_than_naive_and_says_why() -> None:
    decision = evaluate_promotion(_metrics([1.03, 1.0]), relative_mae_tolerance=0.01)
    assert not decision.passed
    assert "relative MAE at h=1 is 1.030 > 1.010" in decision.description


def test_gate_fails_on_miscalibrated_intervals() -> None:
    decision = evaluate_promotion(_metrics([0.99], coverage=0.55))
    assert not decision.passed and "coverage 55.0%" in decision.description


def test_leakage_alarm_on_too_good_results_only() -> None:
    assert leakage_signs(_metrics([1.0, 0.99])) == []
    assert leakage_signs(_metrics([0.90])) == ["h=1: relative MAE 0.900"]
    assert leakage_signs(_metrics([1.0], direction=0.65)) == ["h=1: directional accuracy 65.0%"]
    trend = _metrics([0.95])
    trend["relative_mae_drift"] = 1.0  # a plain drift forecast is as good: trend, not leakage
    assert leakage_signs(trend) == []
