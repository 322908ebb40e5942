"""Questions: read for what they ask, answered from the facts that bear on them, or told plainly
that the facts do not answer them."""

from __future__ import annotations

import pytest

from agent_graph.answers import answer, topics_of
from devkit.reports import DATA_DIR, load_set, scenario

SCENARIOS = load_set(DATA_DIR / "grounding_scenarios.yaml")["scenarios"]


@pytest.mark.parametrize(
    ("question", "topics"),
    [
        ("Is the trend holding?", ["trend"]),
        ("What are the main risks this week?", ["risk"]),
        ("How accurate is the model?", ["skill"]),
        ("Is trading volume unusual?", ["volume"]),
        ("Is the stock overbought on RSI?", ["technicals"]),
        ("Should I buy now?", ["advice"]),
        ("What were the latest earnings?", ["outside"]),
        ("What could go wrong?", ["risk"]),  # no keyword: the nearest example question
        ("Tell me a joke about cats.", ["outside"]),
    ],
)
def test_questions_are_read_for_what_they_ask(question: str, topics: list[str]) -> None:
    assert topics_of(question) == topics


def test_the_trend_is_answered_from_relative_strength_momentum_forecast_and_skill() -> None:
    facts, tools = scenario(SCENARIOS["bull_skill"])
    found = answer("Is the trend holding?", facts, tools)
    assert found.answered and found.topics == ("trend",)
    keys = [f.key for f in found.facts]
    assert keys == [
        "answer.trend",
        "market.relative_strength",
        "market.macd",
        "forecast.move",
        "skill",
    ]
    assert found.facts[0].text == "On the trend, the facts point upward."
    mixed = answer("Is the trend holding?", *scenario(SCENARIOS["bull_noskill_badnews"]))
    assert mixed.facts[0].text == "On the trend, the facts are mixed."
    assert mixed.facts[-1].key == "risk.skill"  # no demonstrated edge: said in the answer


def test_risks_list_band_skill_volatility_volume_and_drift() -> None:
    facts, tools = scenario(SCENARIOS["bear_noskill"])
    keys = [f.key for f in answer("What are the main risks this week?", facts, tools).facts]
    assert keys == ["answer.risk", "risk.band", "risk.skill", "risk.volatility", "drift"]


def test_questions_outside_the_facts_are_told_so_and_the_rest_answered() -> None:
    facts, tools = scenario(SCENARIOS["bear_noskill"])
    outside = answer("Who is the CEO?", facts, tools)
    assert not outside.answered and outside.unanswered == ("outside",)
    assert outside.facts[0].text.startswith("The facts of this report do not answer this question")
    both = answer("Should I sell given the volatility?", facts, tools)
    assert both.topics == ("volatility",) and both.unanswered == ("advice",)
    assert both.facts[0].key == "answer.advice" and both.facts[1].key == "market.volatility"
