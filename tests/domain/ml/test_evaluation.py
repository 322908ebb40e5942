"""The served model's skill, stated from the backtest decision, and only about what serves."""

from __future__ import annotations

import pandas as pd

from stock_assets.domain.ml.evaluation import evaluation_from_table


def _table(served: str, outcome: str, p_h1: float, fva_h1: float) -> pd.DataFrame:
    rows = []
    for candidate in ("naive", "lstm", "linear"):
        for h in (1, 2):
            rows.append(
                {
                    "ticker": "SYN",
                    "candidate": candidate,
                    "horizon": h,
                    "relative_mae": 1.0 - fva_h1 if candidate == served else 1.0,
                    "fva": fva_h1 if candidate == served else 0.0,
                    "p_vs_naive": None if candidate == "naive" else (p_h1 if h == 1 else 0.5),
                    "directional_accuracy": 0.55,
                    "up_rate": 0.52,
                    "coverage": 0.8,
                    "nominal_coverage": 0.8,
                    "served": served,
                    "served_kind": "learned",
                    "outcome": outcome,
                    "decision_reason": "why",
                    "policy_version": "v",
                    "best_baseline": "naive",
                    "challenger_bundle": "b2",
                }
            )
    return pd.DataFrame(rows)


def test_skill_is_claimed_only_with_significance() -> None:
    skilled = evaluation_from_table(_table("linear", "serve_baseline", 0.001, 0.03))
    assert skilled.skilled_horizons == [1]
    assert "beat the naive forecast" in skilled.statement() and "p=0.001" in skilled.statement()
    lucky = evaluation_from_table(_table("linear", "serve_baseline", 0.3, 0.001))
    assert lucky.skilled_horizons == []
    assert "no skill over naive is claimed" in lucky.statement()
    naive = evaluation_from_table(_table("naive", "serve_baseline", 0.3, 0.0))
    assert "no model beat it" in naive.statement()


def _serving(model: str, bundle: str) -> list[tuple[str, str]]:
    return [(model, bundle)] * 2


def test_the_statement_is_about_what_serves_now() -> None:
    promoted = evaluation_from_table(_table("lstm", "promote", 0.001, 0.03))
    assert promoted.describes(_serving("lstm", "b2"))
    # The alias still points at the old naive baseline: the decision is not carried out yet.
    assert not promoted.describes(_serving("naive", "b1"))
    assert "not what serves yet" in promoted.statement_for(_serving("naive", "b1"))
    kept = evaluation_from_table(_table("champion", "keep", 0.001, 0.03))
    assert kept.describes(_serving("lstm", "b0")) and not kept.describes(_serving("lstm", "b2"))


def _mixed_table() -> pd.DataFrame:
    """The LSTM serves h=1 (significant), the linear baseline h=2 (not significant)."""
    table = _table("lstm", "promote", 0.001, 0.03)
    table["served"] = "mix"
    table["served_kind"] = "mixed"
    plan = {1: "lstm", 2: "linear"}
    table["is_served"] = [
        plan[h] == c for c, h in zip(table["candidate"], table["horizon"], strict=True)
    ]
    return table


def test_a_mix_is_stated_per_horizon() -> None:
    mixed = evaluation_from_table(_mixed_table())
    assert mixed.plan == ("lstm", "linear")
    assert [(h.horizon, h.model) for h in mixed.horizons] == [(1, "lstm"), (2, "linear")]
    assert mixed.skilled_horizons == [1]
    said = mixed.statement()
    assert said.startswith("Per horizon, the LSTM serves h=1: it beat the naive forecast")
    assert (
        "the linear baseline (ridge on lagged returns and indicators) serves h=2: its edge" in said
    )
    # What serves now must match per horizon: the LSTM at h=1 and linear at h=2.
    assert mixed.describes([("lstm", "b2"), ("linear", "m1-linear")])
    assert not mixed.describes([("lstm", "b2"), ("lstm", "b2")])
    assert not mixed.describes([("naive", "b1"), ("linear", "m1-linear")])


def test_the_adjusted_p_value_decides_significance() -> None:
    table = _table("linear", "serve_baseline", 0.03, 0.03)
    assert evaluation_from_table(table).skilled_horizons == [1]
    table["p_vs_naive_adjusted"] = table["p_vs_naive"].map(lambda p: None if p is None else 2 * p)
    adjusted = evaluation_from_table(table)
    assert adjusted.skilled_horizons == []
    assert adjusted.horizon(1).p_vs_naive == 0.06
