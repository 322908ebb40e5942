"""The reader's question, answered from the facts that bear on it, or plainly not answered.

A question is read for what it asks about (the trend, the risks, the outlook, the model's skill,
volatility, volume, news, drift, the technicals) by keywords first and, when none match, by its
closeness in meaning to example questions of each topic. Questions the facts cannot answer (buy
or sell advice; earnings, valuation, management and other company matters; anything else) get a
sentence that says so. The answer is a list of fact sentences, like any narrative slot: the model
may make them read well, through the same gate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from agent_graph.facts import Facts
from agent_graph.lexicon import stem, tokens
from agent_graph.statements import (
    Fact,
    advice_fact,
    band_fact,
    drift_fact,
    forecast_fact,
    macd_fact,
    news_fact,
    no_edge_fact,
    relative_strength_fact,
    risk_facts,
    rsi_fact,
    skill_fact,
    volatility_fact,
    volume_fact,
)
from agent_graph.tools.base import ToolResult, ran

# Keyword stems per topic (a question may ask about several); "advice" and "outside" are topics
# the facts do not answer.
TOPIC_WORDS: dict[str, str] = {
    "trend": "trend trends trending momentum direction holding hold uptrend downtrend rally "
    "heading headed head streak continue continuing sustain",
    "risk": "risk risks risky downside danger dangers worry worries concern concerns wrong "
    "safe threat threats uncertainty uncertain lose losing",
    "outlook": "forecast forecasts predict predicted prediction expect expected expectation "
    "outlook target targets projection",
    "skill": "accurate accuracy trust trustworthy reliable reliability skill skilled backtest "
    "track record confident confidence good model models edge",
    "volatility": "volatile volatility swings calm turbulent choppy",
    "volume": "volume volumes liquidity traded turnover activity",
    "news": "news headline headlines sentiment press media",
    "drift": "drift drifting drifted stale retrain retraining shift",
    "technicals": "rsi macd overbought oversold technical technicals indicator indicators signal "
    "signals",
    "advice": "buy buying sell selling invest investing investment position portfolio entry "
    "exit allocate short long add trim bet",
    "outside": "earnings earning dividend dividends valuation valued revenue revenues profit "
    "profits margin ceo management competitor competitors merger acquisition guidance "
    "fundamental fundamentals balance debt macro fed interest rates inflation tariff tariffs "
    "regulation lawsuit product products iphone launch recession election economy",
}
ANSWERABLE = (
    "trend",
    "risk",
    "outlook",
    "skill",
    "volatility",
    "volume",
    "news",
    "drift",
    "technicals",
)
# Example questions per topic, for a question none of whose words is a keyword.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "trend": ("Is the stock still going up?", "Has the run ended?", "Is it still climbing?"),
    "risk": ("What could go wrong?", "How much could I lose?", "What should I watch out for?"),
    "outlook": ("Where will the stock be in a week?", "What happens next?"),
    "skill": ("Can I rely on this model?", "How good are these predictions?"),
    "volatility": ("How much does the price jump around?", "Is the stock jumpy?"),
    "volume": ("Are many shares changing hands?", "Is trading heavy?"),
    "news": ("What are people saying about the company?",),
    "drift": ("Is the model out of date?", "Has the market changed since training?"),
    "advice": ("Should I get in now?", "Is it time to take profits?"),
    "outside": ("Who runs the company?", "What does the company make?", "Tell me a joke."),
}
EXAMPLE_MIN = 0.45


def _index() -> dict[str, str]:
    out: dict[str, str] = {}
    for topic, words in TOPIC_WORDS.items():
        for word in words.split():
            out.setdefault(stem(word), topic)
    return out


_KEYWORDS = _index()


@dataclass(frozen=True)
class Answer:
    """What a question asks and what the report can say to it."""

    question: str
    topics: tuple[str, ...]  # the answerable topics it asks about, in order
    unanswered: tuple[str, ...]  # what it asks that the facts do not answer
    facts: tuple[Fact, ...] = field(default=())

    @property
    def answered(self) -> bool:
        return bool(self.topics)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["topics"], data["unanswered"] = list(self.topics), list(self.unanswered)
        data["facts"] = [f.key for f in self.facts]
        data["answered"] = self.answered
        return data


def topics_of(question: str) -> list[str]:
    """The topics of a question, keywords first, then the nearest example questions."""
    found: list[str] = []
    for word in tokens(question):
        topic = _KEYWORDS.get(stem(word))
        if topic and topic not in found:
            found.append(topic)
    # "good model" asks about skill; "good" alone in "is it a good buy" does not.
    if "skill" in found and "advice" in found:
        found.remove("skill")
    if found:
        return found
    from agent_graph.cache import embed_many

    names = [t for t, examples in EXAMPLES.items() for _ in examples]
    texts = [e for examples in EXAMPLES.values() for e in examples]
    vectors = np.asarray(embed_many([question, *texts]), dtype=np.float32)
    scores = vectors[1:] @ vectors[0]
    best = int(np.argmax(scores))
    return [names[best]] if scores[best] >= EXAMPLE_MIN else []


SCOPE = (
    "they cover the price forecast for the next week, the model's backtest, the market "
    "indicators, trading volume, volatility and data drift of {ticker}"
)


def _trend(facts: Facts, tools: Sequence[ToolResult]) -> list[Fact]:
    signs = []
    if (rs := ran(tools, "relative_strength")) is not None:
        signs.append(1 if rs.data.get("leader") else -1)
    if (hist := facts.indicators.get("macd_hist")) is not None:
        signs.append(1 if hist > 0 else -1)
    signs.append({"bullish": 1, "bearish": -1}.get(facts.stance, 0))
    if all(s > 0 for s in signs):
        verdict = "point upward"
    elif all(s < 0 for s in signs):
        verdict = "point downward"
    else:
        verdict = "are mixed"
    lead = Fact("answer.trend", "answer", f"On the trend, the facts {verdict}.")
    found = [relative_strength_fact(facts, tools), macd_fact(facts), forecast_fact(facts)]
    caveat = skill_fact(facts) if facts.beats_naive else no_edge_fact()
    return [lead, *(f for f in found if f is not None), caveat]


def _topic_facts(topic: str, facts: Facts, tools: Sequence[ToolResult]) -> list[Fact]:
    ticker = facts.ticker
    if topic == "trend":
        return _trend(facts, tools)
    if topic == "risk":
        lead = Fact("answer.risk", "answer", "On the risks, the facts point to these.")
        return [lead, *risk_facts(facts, tools)]
    if topic == "outlook":
        return [forecast_fact(facts), band_fact(facts), skill_fact(facts)]
    if topic == "skill":
        return [skill_fact(facts), advice_fact(facts)]
    if topic == "volatility":
        found = volatility_fact(tools)
        return [
            found
            or Fact("answer.volatility", "answer", "Volatility was not measured for this report.")
        ]
    if topic == "volume":
        found = volume_fact(tools)
        return [
            found
            or Fact("answer.volume", "answer", "Trading volume was not measured for this report.")
        ]
    if topic == "news":
        return [news_fact(tools)]
    if topic == "drift":
        return [drift_fact(facts)]
    if topic == "technicals":
        found = [rsi_fact(facts), macd_fact(facts)]
        return [f for f in found if f is not None] or [
            Fact("answer.indicators", "answer", f"No indicators are stored for {ticker} yet.")
        ]
    raise ValueError(topic)


def answer(question: str, facts: Facts, tools: Sequence[ToolResult]) -> Answer:
    """The facts that answer ``question``, opened by what the facts do not answer, if any."""
    topics = topics_of(question)
    answerable = [t for t in topics if t in ANSWERABLE]
    unanswered = [t for t in topics if t not in ANSWERABLE] or ([] if answerable else ["other"])
    out: list[Fact] = []
    scope = SCOPE.format(ticker=facts.ticker)
    if "advice" in unanswered:
        advice = "The facts of this report do not say whether to buy, sell or hold: this report "
        out.append(Fact("answer.advice", "answer", advice + "is not investment advice."))
    if {"outside", "other"} & set(unanswered):
        text = f"The facts of this report do not answer this question: {scope}."
        out.append(Fact("answer.scope", "answer", text))
    seen: set[str] = set()
    for topic in answerable:
        for fact in _topic_facts(topic, facts, tools):
            if fact.key not in seen:
                seen.add(fact.key)
                out.append(fact)
    return Answer(question.strip(), tuple(answerable), tuple(unanswered), tuple(out))
