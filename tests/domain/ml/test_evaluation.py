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


def test_the_statement_is_about_what_serves_now() -> None:
    promoted = evaluation_from_table(_table("lstm", "promote", 0.001, 0.03))
    assert promoted.describes("lstm", "b2")
    # The alias still points at the old naive baseline: the decision is not carried out yet.
    assert not promoted.describes("naive", "b1")
    assert "not what serves yet" in promoted.statement_for("naive", "b1")
    kept = evaluation_from_table(_table("champion", "keep", 0.001, 0.03))
    assert kept.describes("lstm", "b0") and not kept.describes("lstm", "b2")
