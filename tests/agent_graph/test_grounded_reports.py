"""Whole reports written by the real local model (SmolLM2-135M) for every offline stock and for
synthetic series with skill, without skill and untested, as of several dates: no published
sentence states anything the facts do not, for every sentence kind, and every question asked is
answered or said to be outside the facts.

Each published sentence is checked here independently of the critic that admitted it: a
code-written sentence must be one of the facts word for word; a model-written one must carry no
number, no name the facts do not, and pass a fresh gate against every fact of its report.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd
import pytest

from agent_graph.graph import AgentDeps, run_graph
from agent_graph.grounding import GroundingGate, Grounds
from agent_graph.llm import build_llm
from agent_graph.numbers import Evidence
from agent_graph.statements import Fact, all_facts
from devkit.reports import facts_from_prices
from stock_assets.domain.indicators import compute_indicators
from stock_assets.domain.market_data import OfflineSampleProvider
from stock_assets.domain.ml.synthetic import make_series
from stock_assets.settings import Settings

pytestmark = pytest.mark.slow

KINDS = {
    "outlook",
    "stance",
    "skill",
    "advice",
    "relative_strength",
    "volatility",
    "volume",
    "news",
    "technicals",
    "drift",
    "risk",
    "answer",
}
QUESTIONS = (None, "Is the trend holding?", "What are the main risks this week?")
# Every offline stock, as of two dates; synthetic series with and without skill and untested.
OFFLINE = [
    ("AAPL", "2011-08-01"),
    ("AAPL", "2013-03-01"),
    ("MSFT", "2008-10-01"),
    ("MSFT", "2013-03-01"),
    ("IBM", "2013-03-01"),
    ("GOOG", "2009-03-02"),
]
SYNTHETIC = [
    ("SYNA", "ar_returns", True, "2010-06-01"),
    ("SYNA", "ar_returns", True, "2011-06-01"),
    ("SYNB", "random_walk", False, "2011-06-01"),
    ("SYNC", "garch_returns", None, "2010-06-01"),
]
_CAPITALISED = re.compile(r"(?<=\s)[A-Z][A-Za-z^]*")


def _tables() -> dict[str, pd.DataFrame]:
    provider = OfflineSampleProvider()
    symbols = ("^GSPC", "AAPL", "MSFT", "IBM", "GOOG")
    tables = {t: compute_indicators(provider.fetch(t)) for t in symbols}
    for symbol, process, _, _ in SYNTHETIC:
        series = make_series(process, n=2600, seed=len(symbol) + ord(symbol[-1]))
        tables[symbol] = compute_indicators(series.ohlcv)
    return tables


@pytest.fixture(scope="module")
def reports() -> list[dict[str, object]]:
    tables = _tables()
    llm = build_llm(Settings())  # the default local model, greedy
    cases = [(t, d, None, True) for t, d in OFFLINE] + [
        (t, d, s, False) for t, _, s, d in SYNTHETIC
    ]
    out = []
    for i, (ticker, as_of, skill, naive) in enumerate(cases):
        facts = facts_from_prices(ticker, tables[ticker], as_of, skill, naive=naive)
        frame: Callable[[str], pd.DataFrame | None] = tables.get
        # One restated fact per paragraph keeps the test short; the gate sees the same text.
        deps = AgentDeps(facts=lambda _, f=facts: f, frame=frame, llm=llm, sentence_budget=1)
        question = QUESTIONS[i % len(QUESTIONS)]
        state = run_graph(deps, ticker, question)
        out.append({"state": state, "question": question, "ticker": ticker})
    return out


def _facts_of(state: dict[str, object]) -> list[Fact]:
    known = {f.key: f for f in all_facts(state["facts"], state["tools"])}  # type: ignore[arg-type]
    for fact in state["slots"].get("answer", []):  # type: ignore[union-attr]
        known.setdefault(fact.key, fact)
    return list(known.values())


def test_every_published_sentence_restates_the_facts_for_every_kind(
    reports: list[dict[str, object]],
) -> None:
    gate = GroundingGate()
    seen_kinds: set[str] = set()
    model_sentences = 0
    for item in reports:
        state = item["state"]
        facts, tools = state["facts"], state["tools"]  # type: ignore[index]
        known = _facts_of(state)  # type: ignore[arg-type]
        kind_of = {f.key: f.kind for f in known}
        texts = {f.text for f in known}
        vocabulary = " ".join(texts).lower()
        grounds = Grounds(known, facts, tools, Evidence.of((), ()), (facts.ticker,))
        report = state["report"]  # type: ignore[index]
        assert state["final_verdict"] != "fail", report.critique  # type: ignore[index]
        for paragraph in report.paragraphs:
            for sentence in paragraph["sentences"]:
                kinds = {kind_of[k] for k in sentence["restates"]}
                assert kinds, sentence
                seen_kinds |= kinds
                text = sentence["text"]
                if sentence["source"] == "code":
                    assert text in texts, text
                    continue
                model_sentences += 1
                assert not re.search(r"\d", text), text
                for name in _CAPITALISED.findall(" " + text):
                    assert name.lower() in vocabulary, (name, text)
                (verdict,) = gate.judge([text], grounds)
                assert verdict.admitted, (kinds, verdict)
    assert seen_kinds == KINDS
    # The local model's text is published where it restates a fact, not only code.
    assert model_sentences > 0


def test_every_question_is_answered_or_said_to_be_outside_the_facts(
    reports: list[dict[str, object]],
) -> None:
    for item in reports:
        report = item["state"]["report"]  # type: ignore[index]
        if item["question"] is None:
            assert "answer" not in report.sections
            continue
        answer = report.sections["answer"]
        first = next(p for p in report.paragraphs if p["section"] == "answer" and p["sentences"])
        assert first["sentences"][0]["restates"][0].startswith("answer."), first
        assert report.question["answered"] or "do not answer" in answer
        if item["question"].startswith("Is the trend"):
            assert report.question["topics"] == ["trend"]
        else:
            assert report.question["topics"] == ["risk"]
