"""The graph: the model restates facts one by one, the critic admits only what is grounded, the
question is answered first, the LLM down leaves a report written by code.

Scripted LLMs stand in where a test needs a given text (the real model cannot be made to write an
invented event on cue); the real local model has its own tests (test_real_report.py,
test_grounded_reports.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import pandas as pd

from agent_graph.evaluator import evaluate
from agent_graph.facts import Facts
from agent_graph.graph import AgentDeps, run_graph
from agent_graph.grounding import GroundingGate, Grounds, SentenceVerdict
from agent_graph.llm import LLMError
from agent_graph.report import SECTIONS

Tables = Callable[[str], pd.DataFrame | None]
PATH = ["facts", "performance_analyst", "market_expert", "report_writer", "critic", "final"]
_FACT = re.compile(r"one plain sentence:\n(.+)$", re.S)


class EchoLLM:
    """Restates the fact it is given with a few synonyms, as a capable model would."""

    name = "echo"
    SWAPS = (
        ("expects", "anticipates"),
        ("small", "modest"),
        ("fall", "decline"),
        ("underperformed", "lagged"),
        ("is high", "is elevated"),
    )

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def complete(self, system: str, prompt: str) -> str:
        self.prompts.append(prompt)
        match = _FACT.search(prompt)
        assert match, prompt  # one fact sentence per call
        text = match.group(1).strip()
        for old, new in self.SWAPS:
            text = text.replace(old, new)
        return text


class ScriptedLLM:
    """Answers from a list (the last answer repeats); records every prompt it gets."""

    name = "scripted"

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []

    def complete(self, system: str, prompt: str) -> str:
        self.prompts.append(prompt)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class DownLLM:
    name = "down"

    def complete(self, system: str, prompt: str) -> str:
        raise LLMError("connection refused")


class AdmitAll(GroundingGate):
    """A broken gate, to show that the critic's review still catches what it lets through."""

    def judge(self, text: object, grounds: Grounds) -> list[SentenceVerdict]:
        items = list(text) if not isinstance(text, str) else [text]
        keys = tuple(f.key for f in grounds.facts[:1])
        return [SentenceVerdict(s, True, (), keys[0] if keys else None, 1.0, keys) for s in items]


def _deps(facts: Facts, tables: Tables, llm: object, **kw: object) -> AgentDeps:
    return AgentDeps(facts=lambda _: facts, frame=tables, llm=llm, **kw)  # type: ignore[arg-type]


def _published(report: object, source: str) -> list[str]:
    return [
        s["text"]
        for p in report.paragraphs
        for s in p["sentences"]  # type: ignore[attr-defined]
        if s["source"] == source
    ]


def test_restated_facts_are_published_as_the_models_and_every_fact_is_stated(
    facts: Facts, sample_tables: Tables
) -> None:
    llm = EchoLLM()
    state = run_graph(_deps(facts, sample_tables, llm, sentence_budget=2), "AAPL")
    report = state["report"]
    assert state["path"] == PATH and state["final_verdict"] == "pass"
    assert report.writer == "llm" and report.unverified_numbers == 0
    # One call per fact, at most the budget per slot, and no digit in any prompt.
    assert len(llm.prompts) == 6
    assert not any(ch.isdigit() for p in llm.prompts for ch in p)
    model = _published(report, "model")
    assert "The model anticipates a modest decline in the price of AAPL over the next week." in (
        model
    )
    assert "AAPL lagged the index over the last month." in model
    # Facts beyond the budget are stated by code: nothing the slot holds goes missing.
    assert "The stance of this report is bearish." in _published(report, "code")
    assert set(report.sections) == set(SECTIONS)
    paragraph = next(p for p in report.paragraphs if p["section"] == "summary" and p["sentences"])
    assert paragraph["source"] == "mixed" and paragraph["title"] == "Summary"
    evaluation = evaluate(report, state["final_verdict"], state["facts"], state["tools"])
    assert evaluation.sentences["generated"] == 6 and evaluation.sentences["dropped"] == 0
    assert evaluation.grounded == 1.0 and evaluation.critic_verdict == "pass"
    assert evaluation.faithfulness == 1.0


def test_invented_content_is_dropped_and_replaced_by_the_facts(
    facts: Facts, sample_tables: Tables
) -> None:
    inventions = (
        "The stock has been hit hard by COVID-SARS and now faces an uncertain future.",
        "Analysts expect a sharp rebound after Tuesday's earnings call.",
        "A bat and a ball costs $ in of your question I am asking about data analysis.",
        "What's the future of AI and machine learning?",
        "Apple shares will surely rally 12% to 512.30 by March.",
        "The model beat the naive forecast, so the stock is a bargain.",
    )
    llm = ScriptedLLM(*inventions)
    state = run_graph(_deps(facts, sample_tables, llm), "AAPL")
    report = state["report"]
    assert state["final_verdict"] == "revise" and report.writer == "deterministic"
    for invented in ("COVID", "Analysts", "$", "machine learning", "512.30", "bargain"):
        assert invented not in report.markdown
    assert _published(report, "model") == []
    dropped = [g for g in report.gate if not g["admitted"]]
    assert len(dropped) == len(report.gate) > 0 and all(g["reasons"] for g in dropped)
    reasons = " | ".join(r.lower() for g in dropped for r in g["reasons"])
    assert "covid, sars" in reasons and "analysts" in reasons and "markup" in reasons
    assert "Dropped" in report.critique
    evaluation = evaluate(report, state["final_verdict"], state["facts"], state["tools"])
    assert evaluation.sentences["admitted"] == 0 and evaluation.grounded == 1.0
    assert evaluation.faithfulness == 1.0 and evaluation.unsupported_claims == []
    # A report whose model text was all dropped is still complete: code states every fact.
    assert "The model expects a small fall in the price of AAPL" in report.sections["summary"]
    assert "every sentence of the narrative is written by code" in report.sections["disclaimer"]


def test_the_llm_down_gives_a_report_written_by_code(facts: Facts, sample_tables: Tables) -> None:
    state = run_graph(_deps(facts, sample_tables, DownLLM()), "AAPL")
    report = state["report"]
    assert state["path"] == PATH
    assert report.writer == "deterministic" and report.unverified_numbers == 0
    assert "connection refused" in report.critique
    assert report.stance == facts.stance == "bearish"
    assert all(p["source"] == "code" for p in report.paragraphs)


def test_a_question_is_answered_first_from_the_facts_that_bear_on_it(
    facts: Facts, sample_tables: Tables
) -> None:
    state = run_graph(_deps(facts, sample_tables, EchoLLM()), "AAPL", "Is the trend holding?")
    report = state["report"]
    assert next(iter(report.sections)) == "answer"
    answer = report.sections["answer"]
    assert answer.startswith("**Asked:** Is the trend holding?")
    # The trend: relative strength, MACD momentum, the forecast's direction, the skill caveat.
    assert "On the trend, the facts point downward." in answer
    assert "lagged the index" in answer and "MACD momentum is negative." in answer
    assert "no demonstrated edge over the naive forecast" in answer
    assert report.question is not None and report.question["topics"] == ["trend"]
    evaluation = evaluate(
        report, state["final_verdict"], state["facts"], state["tools"], state["slots"]["answer"]
    )
    assert evaluation.question["answered"] and evaluation.section_coverage == 1.0


def test_a_question_the_facts_cannot_answer_is_told_so(facts: Facts, sample_tables: Tables) -> None:
    question = "Should I buy before the earnings call? See [here](http://x) $5"
    state = run_graph(_deps(facts, sample_tables, None), "AAPL", question)
    report = state["report"]
    answer = report.sections["answer"]
    assert "do not say whether to buy, sell or hold" in answer
    assert "do not answer this question" in answer
    # The reader's words are shown as text: no link, no LaTeX; their number is not checked.
    assert r"\[here\](http://x) \$5" in answer and report.unverified_numbers == 0
    assert report.question["answered"] is False
    assert report.question["unanswered"] == ["advice", "outside"]


def test_the_review_catches_what_a_broken_gate_lets_through(
    facts: Facts, sample_tables: Tables
) -> None:
    llm = ScriptedLLM("The stock will certainly rise 40% next week.")
    state = run_graph(_deps(facts, sample_tables, llm, gate=AdmitAll()), "AAPL")
    report = state["report"]
    assert state["final_verdict"] == "fail"
    assert "Fell back to the code-written narrative" in report.critique
    assert "40%" not in report.markdown and report.writer == "deterministic"


def test_the_evaluator_reads_grounding_again(facts: Facts, sample_tables: Tables) -> None:
    state = run_graph(_deps(facts, sample_tables, EchoLLM()), "AAPL")
    report = state["report"]
    # The same report with a model sentence no gate saw: the evaluator drops its verdict.
    tampered = [dict(p, sentences=list(p["sentences"])) for p in report.paragraphs]
    narrative = next(p for p in tampered if p["sentences"])
    narrative["sentences"].append(
        {"text": "Tim Cook expects the iPhone to lift sales.", "source": "model", "restates": []}
    )
    bad = evaluate(replace(report, paragraphs=tampered), "pass", facts, state["tools"])
    assert bad.grounded < 1.0 and bad.critic_verdict == "fail"
    assert bad.ungrounded_sentences == ["Tim Cook expects the iPhone to lift sales."]
