"""The promotion policy on constructed evidence: each rule, both ways, with the real thresholds."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from stock_assets import names
from stock_assets.defs.configs import BacktestConfig
from stock_assets.domain.ml.backtest import WalkForwardResult, metrics_from_predictions
from stock_assets.domain.ml.policy import (
    CHAMPION,
    MIX,
    POLICY,
    Incumbent,
    adjust,
    best_baseline,
    decide,
    holm,
)

Q = (0.1, 0.5, 0.9)
N, H, SIGMA = 1500, 3, 0.01
RNG = np.random.default_rng(11)
SIGNAL = RNG.normal(0, 0.002, (N, 1)) * np.ones((1, H))  # what a good model knows (R2 ~4%)
ACTUAL = SIGNAL + RNG.normal(0, SIGMA, (N, H))
WIDTH = 1.2816 * SIGMA  # an 80% half-width for the noise around a correct median
# A hair better than naive by luck: relative MAE just under 1, p far from significant.
HAIR = 0.05 * SIGNAL + np.random.default_rng(6).normal(0, 0.0005, (N, H))


def _result(
    medians: dict[str, np.ndarray],
    widths: dict[str, float] | None = None,
    families: dict[str, str] | None = None,
    actual: np.ndarray = ACTUAL,
) -> WalkForwardResult:
    widths = widths or {}
    families = {**{n: "baseline" for n in ("naive", "drift", "linear")}, **(families or {})}
    parts = []
    for name, med in medians.items():
        w = widths.get(name, 1.2816 * np.sqrt(SIGMA**2 + (0.002**2 if name == "naive" else 0)))
        frame = pd.DataFrame(
            {
                "candidate": name,
                "family": families.get(name, "learned"),
                "fold": 1,
                "anchor": np.repeat(np.arange(N), H),
                "horizon": np.tile(np.arange(1, H + 1), N),
                "last_close": 100.0,
                "actual_lr": actual.ravel(),
                "median_lr": med.ravel(),
                "q0.1": (med - w).ravel(),
                "q0.5": med.ravel(),
                "q0.9": (med + w).ravel(),
            }
        )
        parts.append(frame)
    predictions = pd.concat(parts, ignore_index=True)
    return WalkForwardResult(
        candidates={n: families.get(n, "learned") for n in medians},
        recipes={},
        n_folds=4,
        quantiles=Q,
        metrics=metrics_from_predictions(predictions, Q),
        predictions=predictions,
        folds=[],
        parent_overlaps_test=False,
        first_test_input_date="2010-01-04",
    )


ZERO = np.zeros((N, H))
BASELINES = {"naive": ZERO, "drift": ZERO + 0.0001, "linear": ZERO}


def test_a_model_with_real_skill_is_promoted() -> None:
    decision = decide(_result({**BASELINES, "lstm": SIGNAL}))
    assert decision.outcome == "promote" and decision.served == "lstm"
    assert decision.served_kind == "learned"
    table = decision.comparison_table()
    h1 = table[(table.candidate == "lstm") & (table.reference == "naive") & (table.horizon == 1)]
    assert h1["p_better"].iloc[0] < 0.01 and h1["mae_ratio"].iloc[0] < 0.99
    assert decision.policy_version == POLICY.version and "Promoted" in decision.reason


def test_a_hair_better_than_naive_is_not_skill() -> None:
    """What the old gate promoted (relative MAE 0.999 <= 1.01): no evidence, so naive serves."""
    decision = decide(_result({**BASELINES, "lstm": HAIR}))
    table = decision.comparison_table()
    h1 = table[(table.candidate == "lstm") & (table.reference == "naive") & (table.horizon == 1)]
    assert h1["mae_ratio"].iloc[0] < 1.0 and h1["p_better"].iloc[0] > 0.2
    assert decision.outcome == "serve_baseline" and decision.served == "naive"
    assert "does not beat naive" in decision.reason


def test_no_promotion_when_worse_than_naive() -> None:
    noise = np.random.default_rng(5).normal(0, 0.004, (N, H))
    decision = decide(_result({**BASELINES, "lstm": noise}))
    assert decision.outcome == "serve_baseline" and not decision.promoted


def test_the_best_baseline_is_the_simplest_unbeaten_one() -> None:
    result = _result({**BASELINES, "linear": SIGNAL})
    best, verdicts = best_baseline(result)
    assert best == "linear" and [v.reference for v in verdicts] == ["naive", "naive"]
    # A challenger as good as linear (not better) leaves linear serving, and says so.
    decision = decide(_result({**BASELINES, "linear": SIGNAL, "lstm": SIGNAL * 1.01}))
    assert decision.outcome == "serve_baseline" and decision.served == "linear"
    assert "Serving the best baseline: linear" in decision.reason


def test_a_challenger_worse_than_the_champion_never_replaces_it() -> None:
    medians = {**BASELINES, CHAMPION: SIGNAL, "lstm": SIGNAL * 0.5}
    incumbent = Incumbent("learned", CHAMPION, model_version="1")
    decision = decide(_result(medians), incumbent=incumbent)
    assert decision.outcome == "keep" and decision.served == CHAMPION
    assert "does not beat champion" in decision.reason and "keeps serving" in decision.reason


def test_a_challenger_significantly_better_than_the_champion_replaces_it() -> None:
    medians = {**BASELINES, CHAMPION: SIGNAL * 0.4, "lstm": SIGNAL}
    decision = decide(_result(medians), incumbent=Incumbent("learned", CHAMPION, "1"))
    assert decision.outcome == "promote" and "beats champion" in decision.reason


def test_a_champion_that_no_longer_beats_the_baseline_is_retired() -> None:
    medians = {**BASELINES, CHAMPION: HAIR, "lstm": HAIR * 0.9}
    decision = decide(_result(medians), incumbent=Incumbent("learned", CHAMPION, "1"))
    assert decision.outcome == "serve_baseline" and decision.served == "naive"
    assert "no longer holds" in decision.reason


def test_a_retrain_of_the_champion_recipe_is_a_refresh() -> None:
    decision = decide(
        _result({**BASELINES, "lstm": SIGNAL}), incumbent=Incumbent("learned", "lstm")
    )
    assert decision.outcome == "promote" and "refresh" in decision.reason


def test_a_baseline_champion_keeps_serving_when_nothing_beats_it() -> None:
    decision = decide(
        _result({**BASELINES, "lstm": HAIR}), incumbent=Incumbent("baseline", "naive")
    )
    assert decision.outcome == "keep" and decision.served == "naive"


def test_too_good_to_be_true_blocks_promotion() -> None:
    leak = ACTUAL + np.random.default_rng(3).normal(0, 0.001, (N, H))
    decision = decide(_result({**BASELINES, "lstm": leak}))
    assert decision.outcome == "blocked" and decision.served == "naive"
    assert any("best baseline's" in s for s in decision.leakage)
    # The champion keeps serving when the challenger leaks.
    kept = decide(
        _result({**BASELINES, "lstm": leak, CHAMPION: SIGNAL}),
        incumbent=Incumbent("learned", CHAMPION, "1"),
    )
    assert kept.outcome == "blocked" and kept.served == CHAMPION


def test_direction_far_above_always_up_and_the_baselines_is_a_leak() -> None:
    # Tiny moves in the right direction: MAE like naive, direction ~100%.
    peek = np.sign(ACTUAL) * 1e-5
    decision = decide(_result({**BASELINES, "lstm": peek}))
    assert decision.outcome == "blocked"
    assert any("direction" in s for s in decision.leakage)


def test_a_trending_market_is_not_a_leak() -> None:
    """Direction near the always-up rate of the same windows is the market, not leakage."""
    trend = np.full((N, H), 0.002)  # always "up", like a drift model in a bull market
    result = _result({**BASELINES, "lstm": trend})
    assert decide(result).leakage == ()


def test_miscalibrated_intervals_block_promotion() -> None:
    decision = decide(_result({**BASELINES, "lstm": SIGNAL}, widths={"lstm": WIDTH / 4}))
    assert decision.outcome == "serve_baseline" and decision.coverage_problems
    assert "coverage off" in decision.reason


def test_the_policy_is_not_run_configuration() -> None:
    """No launchpad or STOCKOPS_RUN_CONFIG_OVERRIDES key can loosen the thresholds."""
    assert set(BacktestConfig.model_fields) == {"n_folds", "test_years"}
    with pytest.raises(dg.DagsterInvalidConfigError):
        dg.validate_run_config(
            dg.define_asset_job("j", selection=names.BACKTEST).resolve(
                asset_graph=__import__(
                    "stock_assets.definitions", fromlist=["defs"]
                ).defs.resolve_asset_graph()
            ),
            {"ops": {names.BACKTEST: {"config": {"max_relative_mae": 5.0}}}},
        )


def test_a_leaking_champion_is_retired_not_kept() -> None:
    leak = ACTUAL + np.random.default_rng(4).normal(0, 0.001, (N, H))
    medians = {**BASELINES, CHAMPION: leak, "lstm": HAIR}
    decision = decide(_result(medians), incumbent=Incumbent("learned", CHAMPION, "1"))
    assert decision.outcome == "serve_baseline" and decision.served == "naive"
    assert "leakage signs" in decision.reason
    # A clean, skilled challenger replaces it without having to beat the leak.
    promoted = decide(
        _result({**BASELINES, CHAMPION: leak, "lstm": SIGNAL}),
        incumbent=Incumbent("learned", CHAMPION, "1"),
    )
    assert promoted.outcome == "promote" and "retired" in promoted.reason


def test_a_miscalibrated_champion_is_not_kept() -> None:
    medians = {**BASELINES, CHAMPION: SIGNAL, "lstm": HAIR}
    decision = decide(
        _result(medians, widths={CHAMPION: WIDTH / 4}),
        incumbent=Incumbent("learned", CHAMPION, "1"),
    )
    assert decision.outcome == "serve_baseline" and "coverage off" in decision.reason


def test_a_parent_that_saw_the_test_period_blocks() -> None:
    result = _result({**BASELINES, "lstm": SIGNAL})
    result.parent_overlaps_test = True
    decision = decide(result)
    assert decision.outcome == "blocked" and "parent saw the test period" in decision.reason


def test_holm_adjusts_step_down() -> None:
    assert holm([0.01, 0.04, 0.03, 0.2]) == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert holm([float("nan"), 0.001]) == pytest.approx([1.0, 0.002])


def test_the_fallback_adjustment_rejects_what_its_procedure_rejects() -> None:
    """The adjusted p-values reproduce the procedure: h=1 at 0.8 alpha; the rest with Holm at
    alpha after h=1 was won, at 0.2 alpha when not."""
    won = adjust([0.03, 0.02, 0.5], primary=1, primary_share=0.8)
    assert won == pytest.approx([0.0375, 0.04, 0.5])  # h=1 and h=2 at alpha=0.05
    lost = adjust([0.3, 0.004, 0.5], primary=1, primary_share=0.8)
    assert lost == pytest.approx([0.375, 0.04, 0.5])  # h=2 alone, at 0.2 alpha = 0.01
    assert adjust([0.3, 0.02, 0.5], primary=1, primary_share=0.8)[1] > POLICY.alpha


def test_the_family_wise_error_stays_at_alpha_and_h1_keeps_most_of_it() -> None:
    """Seven true nulls (independent, and equally correlated as overlapping horizons are): one
    horizon or more is claimed in ~30% of families unadjusted, at most alpha after adjustment."""
    rng = np.random.default_rng(2)
    shared = rng.normal(size=(4000, 1))
    for rho in (0.0, 0.7):
        z = np.sqrt(rho) * shared + np.sqrt(1 - rho) * rng.normal(size=(4000, 7))
        p = 1 - norm.cdf(z)
        raw = float((p < POLICY.alpha).any(axis=1).mean())
        adjusted = np.array([adjust(list(row), 1, POLICY.primary_share) for row in p])
        claimed = float((adjusted < POLICY.alpha).any(axis=1).mean())
        assert claimed <= POLICY.alpha + 0.01, (rho, claimed)
        if rho == 0.0:
            assert raw > 0.25
    # The primary horizon alone is tested at 0.8 alpha: 0.04, not Bonferroni's 0.05 / 7.
    assert adjust([0.039] + [0.9] * 6, 1, POLICY.primary_share)[0] < POLICY.alpha


# Signal only a few sessions out (a slow mean reversion): nothing to know about tomorrow,
# something about h=3.
LONG = np.zeros((N, H))
LONG[:, 2] = RNG.normal(0, 0.003, N)
LONG_ACTUAL = LONG + RNG.normal(0, SIGMA, (N, H))


def test_signal_at_longer_horizons_only_is_served_there_and_naive_elsewhere() -> None:
    result = _result({**BASELINES, "linear": LONG, "lstm": HAIR}, actual=LONG_ACTUAL)
    decision = decide(result)
    assert decision.plan == ("naive", "naive", "linear")
    assert decision.served == MIX and decision.served_kind == "baseline"
    assert decision.outcome == "serve_baseline" and decision.best_baseline == "naive"
    assert decision.best_baselines == ("naive", "naive", "linear")
    assert "Per horizon: h=1-2 naive; h=3 linear." in decision.reason
    served = {row["horizon"]: row["candidate"] for row in decision.served_metrics}
    assert served == {1: "naive", 2: "naive", 3: "linear"}


def test_a_challenger_serves_only_the_horizons_it_wins() -> None:
    early = SIGNAL.copy()
    early[:, 1:] = 0.0  # it knows tomorrow, and says nothing about later sessions
    decision = decide(_result({**BASELINES, "lstm": early}))
    assert decision.plan == ("lstm", "naive", "naive")
    assert decision.outcome == "promote" and decision.served == MIX
    assert decision.served_kind == "mixed"
    assert decision.reason.startswith("Promoted at h=1: lstm beats naive at h=1")


def test_a_champion_keeps_the_horizons_it_still_holds() -> None:
    late = SIGNAL.copy()
    late[:, 0] = 0.0  # the champion's h=1 edge is gone; h=2 remains (p < 1e-4)
    late[:, 2] = 0.0
    medians = {**BASELINES, CHAMPION: late, "lstm": HAIR}
    decision = decide(_result(medians), incumbent=Incumbent("learned", CHAMPION, "1"))
    assert decision.plan == ("naive", CHAMPION, "naive")
    assert decision.outcome == "reassign" and "keeps serving at h=2." in decision.reason
    # The same plan serving already is kept as it is.
    again = decide(
        _result(medians),
        incumbent=Incumbent("learned", CHAMPION, "2", plan=("naive", CHAMPION, "naive")),
    )
    assert again.outcome == "keep" and again.plan == decision.plan


def test_random_walks_promote_nothing_at_any_horizon() -> None:
    """Three candidates of pure noise on a random walk: naive serves every horizon."""
    rng = np.random.default_rng(17)
    walk = rng.normal(0, SIGMA, (N, H))
    medians = {
        "naive": ZERO,
        "drift": ZERO + 0.0001,
        "linear": rng.normal(0, 0.001, (N, H)),
        "lstm": rng.normal(0, 0.001, (N, H)),
    }
    decision = decide(_result(medians, actual=walk))
    assert decision.plan == ("naive",) * H and not decision.promoted
