"""Forecast archive, matured-only scoring and the decay test, on series with a known answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stock_assets.domain.calendar import next_trading_days, trading_days
from stock_assets.domain.ml.live import (
    Promise,
    append_forecast,
    archive_kept,
    decay_test,
    live_skill,
    score_matured,
)

Z80 = 1.2815515655446004  # standard normal 90% quantile: an 80% central interval


def forecast_rows(as_of: pd.Timestamp, close: float, bundle: str, sigma: float, bias: float = 0.0):
    """A 7-day forecast table as the forecast asset writes it (median = close * exp(bias))."""
    days = next_trading_days(as_of, 7)
    rows = []
    for h, day in enumerate(days, start=1):
        half = Z80 * sigma * np.sqrt(h)
        rows.append(
            {
                "ticker": "TEST",
                "as_of": as_of,
                "horizon": h,
                "date": day,
                "last_close": close,
                "median": close * np.exp(bias),
                "lower": close * np.exp(bias - half),
                "upper": close * np.exp(bias + half),
                "q_lower": 0.1,
                "q_upper": 0.9,
                "model": "lstm",
                "model_kind": "learned",
                "model_version": "1",
                "bundle_version": bundle,
                "component_bundle": bundle,
            }
        )
    return pd.DataFrame(rows)


def replay(
    n: int, seed: int, *, sigma: float = 0.01, true_sigma: float = 0.01, bias: float = 0.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A random walk (naive is optimal) forecast every session; returns (archive, closes)."""
    rng = np.random.default_rng(seed)
    days = trading_days("2010-01-04", "2012-12-31")[: n + 10]
    closes = pd.DataFrame(
        {"date": days, "close": 100 * np.exp(np.cumsum(rng.normal(0, true_sigma, len(days))))}
    )
    archive = None
    for i in range(n):
        table = forecast_rows(days[i], float(closes["close"].iloc[i]), "b1", sigma, bias)
        archive, _ = append_forecast(archive, table, f"2020-01-01T00:00:{i:02d}")
    return archive, closes


def test_archive_is_append_only_and_keeps_one_forecast_per_model_and_session() -> None:
    day = pd.Timestamp("2011-03-01")
    first = forecast_rows(day, 100.0, "b1", 0.01)
    archive, added = append_forecast(None, first, "t1")
    assert added == 7
    again, added = append_forecast(archive, first, "t2")
    assert added == 0 and again.equals(archive)
    # A retrain the same evening: the new model's forecast is kept beside, not over, the old.
    retrained = forecast_rows(day, 100.0, "b2", 0.02)
    both, added = append_forecast(archive, retrained, "t3")
    assert added == 7 and len(both) == 14
    assert both.iloc[:7].equals(archive) and archive_kept(archive, both)
    with pytest.raises(ValueError, match="lacks"):
        append_forecast(None, first.drop(columns=["q_lower"]), "t4")
    # A row changed is not kept; an archive from before a column existed is kept on its own
    # columns when the new one is added.
    changed = both.copy()
    changed.loc[0, "median"] = 1.0
    assert not archive_kept(archive, changed)
    older = archive.drop(columns=["component_bundle"])
    grown, added = append_forecast(older, retrained, "t5")
    assert added == 7 and archive_kept(older, grown) and grown["component_bundle"].isna().sum() == 7


def test_only_matured_forecasts_are_scored() -> None:
    archive, closes = replay(30, seed=1)
    as_of = closes["date"].iloc[29]
    visible = closes[closes["date"] <= as_of]
    scored = score_matured(archive, visible)
    assert (scored["date"] <= as_of).all()
    # Forecast made at session i, horizon h, matures at session i + h.
    expected = sum(1 for i in range(30) for h in range(1, 8) if i + h <= 29)
    assert len(scored) == expected
    assert set(scored[scored["as_of"] == as_of]["horizon"]) == set()  # today's: none matured
    # The next session arrives: exactly the forecasts targeting it mature.
    more = score_matured(archive, closes[closes["date"] <= closes["date"].iloc[30]])
    assert len(more) - len(scored) == 7  # session 30 is the target of sessions 23..29
    # The one served is the last archived: a retrain's forecast replaces the earlier in scoring.
    retrained = forecast_rows(closes["date"].iloc[5], 1.0, "b2", 0.01)
    archive2, _ = append_forecast(archive, retrained, "2099-01-01")
    rescored = score_matured(archive2, visible)
    assert len(rescored) == len(scored)
    assert set(rescored[rescored["as_of"] == closes["date"].iloc[5]]["bundle_version"]) == {"b2"}


def test_live_skill_of_naive_on_a_random_walk() -> None:
    archive, closes = replay(200, seed=2)
    table = live_skill(score_matured(archive, closes))
    overall = table[table["window"] == 0].set_index("horizon")
    # The forecaster is naive (median = last close): relative MAE is exactly 1 at every horizon.
    np.testing.assert_allclose(overall["relative_mae"], 1.0)
    # Its interval is the true 80% interval: coverage near 0.8 (binomial sd at n=194 is 0.03).
    assert abs(overall.loc[1, "coverage"] - 0.8) < 0.09
    assert set(table["window"]) == {20, 60, 0}
    assert (table[table["window"] == 20]["n"] == 20).all()


def test_a_model_as_good_as_promised_rarely_decays() -> None:
    """On a random walk with honest intervals, a model promised what it delivers is flagged at
    most at the test's nominal rate."""
    promises = [Promise(h, 1.0, 0.8) for h in range(1, 8)]
    flagged = 0
    trials = 30
    for seed in range(trials):
        archive, closes = replay(80, seed=100 + seed)
        verdict = decay_test(score_matured(archive, closes), promises, "b1")
        assert verdict.tests == 14
        flagged += verdict.decayed
    assert flagged <= 3, f"{flagged} false alarms in {trials}"


def test_a_model_that_fell_short_of_its_promise_decays() -> None:
    # Accuracy: promised 0.9x naive, delivers a biased median (worse than naive).
    archive, closes = replay(80, seed=7, bias=0.01)
    promises = [Promise(h, 0.9, None) for h in range(1, 8)]
    verdict = decay_test(score_matured(archive, closes), promises, "b1")
    assert verdict.decayed
    assert any(f.kind == "accuracy" and f.live > 1.0 for f in verdict.findings)
    assert "promised 0.900x" in verdict.reason
    # Coverage: the volatility tripled; the interval was fitted to the calm regime.
    archive, closes = replay(80, seed=8, true_sigma=0.03)
    verdict = decay_test(score_matured(archive, closes), [Promise(1, None, 0.8)], "b1")
    assert verdict.decayed and verdict.findings[0].kind == "coverage"
    assert verdict.findings[0].live < 0.5


def test_decay_needs_enough_matured_forecasts_of_the_served_model() -> None:
    archive, closes = replay(15, seed=9, bias=0.05)
    promises = [Promise(1, 0.5, 0.8)]
    verdict = decay_test(score_matured(archive, closes), promises, "b1", min_forecasts=20)
    assert not verdict.decayed and verdict.tests == 0 and "Too few" in verdict.reason
    # The forecasts belong to b1: a newly promoted b2 starts with no live record.
    archive, closes = replay(80, seed=9, bias=0.05)
    verdict = decay_test(score_matured(archive, closes), promises, "b2")
    assert not verdict.decayed and verdict.matured == 0
    assert decay_test(score_matured(archive, closes), promises, "b1").decayed
