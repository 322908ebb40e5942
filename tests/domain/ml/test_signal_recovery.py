"""Does the model learn what is learnable, and nothing where there is nothing? Synthetic series
whose optimal forecast is known, through the real walk-forward and the real promotion policy.

- AR(1) returns: signal exists. The LSTM must come within 0.015 relative MAE and 3 points of
  direction of the oracle at h=1, and whatever the policy serves within 0.01 and 2 points.
- Random walk: nothing to learn. No learned model may be promoted; the naive forecast serves.
- GARCH(1,1): no signal in the level, a predictable spread. No learned model is promoted, and the
  served intervals cover their nominal 80% within 3 points at every horizon while widening with
  the true volatility.
- Nonlinear signal (falls continue and rises fade; small moves continue and large ones reverse):
  the linear baseline misses it and a nonlinear baseline (the additive splines or the boosted
  trees) serves, recovering most of the oracle's edge.
- Transfer: a child fine-tuned (or frozen) from a parent trained on another AR series learns the
  signal as well (the default transfer path used to lose it: relative MAE 1.007).

Full-size default configuration (it is small: see ``ModelConfig``), two years of walk-forward.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from stock_assets.domain.indicators import compute_indicators
from stock_assets.domain.ml.backtest import CandidateSpec, WalkForwardResult, run_walk_forward
from stock_assets.domain.ml.candidates import baseline_specs, lstm_spec
from stock_assets.domain.ml.config import ModelConfig
from stock_assets.domain.ml.dataset import prepare_data
from stock_assets.domain.ml.model import build_model
from stock_assets.domain.ml.policy import Decision, best_baseline, best_baselines, decide
from stock_assets.domain.ml.specified import SpecifiedForecaster
from stock_assets.domain.ml.synthetic import (
    NONLINEAR,
    SyntheticSeries,
    ar_returns,
    garch_returns,
    make_series,
    random_walk,
)
from stock_assets.domain.ml.trainer import train

CFG = ModelConfig()
ROWS = 2500


def _oracle(series: SyntheticSeries) -> CandidateSpec:
    """The process's true conditional quantiles, as a backtest candidate."""
    return CandidateSpec(
        "oracle", "oracle", lambda fold, progress: series.oracle(CFG.horizon, CFG.quantiles)
    )


def _evaluate(
    series: SyntheticSeries,
    strategy: str = "scratch",
    parent: dict[str, torch.Tensor] | None = None,
) -> tuple[WalkForwardResult, Decision]:
    oracle = _oracle(series)
    specs = [*baseline_specs(CFG), lstm_spec("lstm", CFG, strategy, parent), oracle]
    result = run_walk_forward(compute_indicators(series.ohlcv), specs, CFG, timestamp_column="date")
    return result, decide(result)


def _h1(result: WalkForwardResult, name: str) -> pd.Series:
    return result.candidate_metrics(name).iloc[0]


@pytest.fixture(scope="module")
def ar() -> tuple[WalkForwardResult, Decision]:
    return _evaluate(ar_returns(ROWS, phi=0.3, seed=1))


def test_lstm_learns_an_autoregression_close_to_the_oracle(
    ar: tuple[WalkForwardResult, Decision],
) -> None:
    result, _ = ar
    lstm, oracle = _h1(result, "lstm"), _h1(result, "oracle")
    assert oracle["relative_mae"] < 0.98  # the signal is there
    assert lstm["relative_mae"] <= oracle["relative_mae"] + 0.015, (lstm, oracle)
    assert lstm["directional_accuracy"] >= oracle["directional_accuracy"] - 0.03
    assert lstm["directional_accuracy"] > lstm["up_rate"] + 0.03  # and it is not the market


def test_what_serves_on_an_autoregression_is_near_the_oracle(
    ar: tuple[WalkForwardResult, Decision],
) -> None:
    result, decision = ar
    # Never the naive forecast at h=1: the LSTM or a baseline that models the dynamics.
    assert decision.plan[0] in ("lstm", "linear", "additive", "boosted"), decision.reason
    served, oracle = _h1(result, decision.plan[0]), _h1(result, "oracle")
    assert served["relative_mae"] <= oracle["relative_mae"] + 0.01
    assert served["directional_accuracy"] >= oracle["directional_accuracy"] - 0.02
    assert not decision.leakage  # honest skill is not mistaken for leakage
    # An AR(1)'s edge fades with the horizon: each horizon is served by a model that earned it
    # there, never one worse than naive, and within 0.02 of the oracle.
    for h, name in enumerate(decision.plan, 1):
        got = result.candidate_metrics(name).set_index("horizon").loc[h, "relative_mae"]
        best = result.candidate_metrics("oracle").set_index("horizon").loc[h, "relative_mae"]
        assert got <= 1.005 and got <= best + 0.02, (h, name, got, best)


def _baselines_and_oracle(series: SyntheticSeries) -> WalkForwardResult:
    """Baselines only (the LSTM adds minutes and serves only if it beats what serves here), and
    the oracle, through the real walk-forward."""
    oracle = _oracle(series)
    return run_walk_forward(
        compute_indicators(series.ohlcv),
        [*baseline_specs(CFG), oracle],
        CFG,
        timestamp_column="date",
    )


@pytest.mark.parametrize("process", ["threshold_ar", "sign_asymmetric_ar"])
def test_nonlinear_signal_is_served_by_a_nonlinear_baseline(process: str) -> None:
    """A jump or a kink in the mean, which no linear model fits: the additive splines or the
    boosted trees serve, whichever is closer, recovering most of the oracle's edge."""
    result = _baselines_and_oracle(make_series(process, n=ROWS, seed=21))
    served, _ = best_baseline(result)
    assert served in ("additive", "boosted")
    model, linear, best = _h1(result, served), _h1(result, "linear"), _h1(result, "oracle")
    edge = linear["relative_mae"] - best["relative_mae"]
    assert edge > 0.03  # the signal is there, and the linear model misses it
    # Most of the oracle's edge over the linear model is recovered, and the rest is small.
    assert linear["relative_mae"] - model["relative_mae"] >= 0.6 * edge
    assert model["relative_mae"] <= best["relative_mae"] + 0.015
    assert model["directional_accuracy"] >= best["directional_accuracy"] - 0.02
    coverage = result.candidate_metrics(served)["coverage"]
    assert (coverage - 0.8).abs().max() <= 0.03, coverage.tolist()


@pytest.mark.parametrize("process", NONLINEAR)
def test_the_additive_splines_learn_each_nonlinear_form_as_well_as_the_data_allows(
    process: str,
) -> None:
    """No knowledge of the process: within 0.01 relative MAE at h=1 of the process's own form
    fitted on the same training anchors (``specified``: the best this much data allows a model
    that knew the form), within 0.015 of the oracle, and within 2 points of its direction."""
    series = make_series(process, n=ROWS, seed=21)
    specs = [spec for spec in baseline_specs(CFG) if spec.name in ("naive", "additive")] + [
        CandidateSpec(
            "specified",
            "oracle",
            lambda fold, progress: SpecifiedForecaster(process, CFG.horizon, CFG.quantiles),
        ),
        _oracle(series),
    ]
    result = run_walk_forward(compute_indicators(series.ohlcv), specs, CFG, timestamp_column="date")
    additive, form, best = (_h1(result, n) for n in ("additive", "specified", "oracle"))
    assert best["relative_mae"] < 0.98  # the signal is there
    assert additive["relative_mae"] <= form["relative_mae"] + 0.01, (additive, form)
    assert additive["relative_mae"] <= best["relative_mae"] + 0.015, (additive, best)
    assert additive["directional_accuracy"] >= best["directional_accuracy"] - 0.02


def test_a_signal_that_shows_further_out_is_served_there_and_naive_elsewhere() -> None:
    """Volatility in the mean: each day's drift is small next to its noise, but it persists. At
    the default loading the additive splines now serve it from h=1; at three quarters of it (a
    loading tried once beside a half, which served nothing) no baseline beats naive at h=1,
    while a nonlinear one does further out on the stricter evidence the policy asks of later
    horizons when h=1 is not won: it serves those horizons, naive the rest, and the oracle
    confirms the signal is there."""
    result = _baselines_and_oracle(make_series("volatility_in_mean", n=3000, seed=23, loading=0.75))
    plan, _ = best_baselines(result)
    assert plan[0] == "naive"
    later = [h for h, name in enumerate(plan, 1) if name != "naive"]
    assert later and min(later) >= 2, plan
    assert {plan[h - 1] for h in later} <= {"additive", "boosted"}, plan
    mae = result.metrics.set_index(["candidate", "horizon"])["relative_mae"]
    for h in later:
        assert mae[(plan[h - 1], h)] < 1.0 and mae[("oracle", h)] < 1.0


def test_nothing_is_promoted_on_a_random_walk() -> None:
    result, decision = _evaluate(random_walk(ROWS, seed=2))
    assert not decision.promoted and decision.served == "naive", decision.reason
    assert not decision.leakage
    lstm = _h1(result, "lstm")
    assert lstm["relative_mae"] > 0.99  # it finds no edge the test could mistake for one


def test_volatility_clustering_gives_calibrated_adaptive_intervals_not_skill() -> None:
    series = garch_returns(ROWS, seed=3)
    result, decision = _evaluate(series)
    assert not decision.promoted and decision.served == "naive", decision.reason
    coverage = result.candidate_metrics(decision.served)["coverage"]
    assert (coverage - 0.8).abs().max() <= 0.03, coverage.tolist()
    # The interval follows the true volatility: wide after shocks, narrow in calm spells.
    naive = result.predictions[
        (result.predictions["candidate"] == "naive") & (result.predictions["horizon"] == 1)
    ]
    oracle = result.predictions[
        (result.predictions["candidate"] == "oracle") & (result.predictions["horizon"] == 1)
    ]
    width = (naive["upper_lr"] - naive["lower_lr"]).to_numpy()
    true_width = (oracle["upper_lr"] - oracle["lower_lr"]).to_numpy()
    assert np.corrcoef(width, true_width)[0, 1] > 0.7


@pytest.mark.parametrize("strategy", ["fine_tune", "freeze"])
def test_transfer_from_a_parent_keeps_the_signal(strategy: str) -> None:
    parent_series = ar_returns(4000, phi=0.3, seed=40)
    parent = build_model(CFG)
    prepared = prepare_data(
        compute_indicators(parent_series.ohlcv), CFG, timestamp_column="date", test_fraction=0.0
    )
    train(parent, prepared, CFG, "scratch")
    result, _ = _evaluate(ar_returns(ROWS, phi=0.3, seed=5), strategy, parent.state_dict())
    lstm, oracle = _h1(result, "lstm"), _h1(result, "oracle")
    assert lstm["relative_mae"] <= oracle["relative_mae"] + 0.015, (strategy, lstm, oracle)
