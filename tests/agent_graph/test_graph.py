"""The graph's paths: straight through, through the revise loop, out of revisions, LLM down.

A scripted LLM stands in where a test needs a given text (the real model cannot be made to
write a wrong number on cue); the real local model has its own test (test_real_report.py).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from agent_graph.evaluator import evaluate
from agent_graph.facts import Facts
from agent_graph.graph import AgentDeps, run_graph
from agent_graph.llm import LLMError
from agent_graph.report import SECTIONS

Tables = Callable[[str], pd.DataFrame | None]
STRAIGHT = ["facts", "performance_analyst", "market_expert", "report_writer", "critic", "final"]


class ScriptedLLM:
    """Answers from a list (the last answer repeats); records every prompt it gets."""

    name = "scripted"

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []

    def complete(self, system: str, prompt: str) -> str:
        self.prompts.append(prompt)
        if len(self.answers) > 1:
            return self.answers.pop(0)
        return self.answers[0]


class DownLLM:
    name = "down"

    def complete(self, system: str, prompt: str) -> str:
        raise LLMError("connection refused")


def _deps(facts: Facts, tables: Tables, llm: object, revisions: int = 2) -> AgentDeps:
    return AgentDeps(facts=lambda _: facts, frame=tables, llm=llm, max_revisions=revisions)  # type: ignore[arg-type]


def test_grounded_first_draft_passes_straight_through(facts: Facts, sample_tables: Tables) -> None:
    llm = ScriptedLLM("Weigh this forecast lightly. It is one scenario among many.")
    state = run_graph(_deps(facts, sample_tables, llm), "AAPL")
    report = state["report"]
    assert state["path"] == STRAIGHT
    assert report.writer == "llm" and report.revisions == 0 and report.unverified_numbers == 0
    assert "Weigh this forecast lightly." in report.sections["summary"]
    assert "Reviewer: Weigh this forecast lightly." in report.critique
    assert set(report.sections) == set(SECTIONS)
    # The LLM is told about the facts in words only: no prompt carries a digit.
    assert llm.prompts and not any(ch.isdigit() for p in llm.prompts for ch in p)
    # Tools really ran on the price tables and are recorded.
    tools = {t["name"]: t["status"] for t in report.tools}
    assert tools == {"news_sentiment": "skipped", "relative_strength": "ok",
                     "volatility_regime": "ok", "volume_anomalies": "ok"}  # fmt: skip
    assert "Tools run: relative_strength, volatility_regime, volume_anomalies" in report.markdown
    assert (
        evaluate(report, state["final_verdict"], state["facts"], state["tools"]).critic_verdict
        == "pass"
    )


def test_revise_loop_removes_invented_numbers(facts: Facts, sample_tables: Tables) -> None:
    # Drafts with an invented target and a certainty claim; the rewrite keeps one bad sentence,
    # which the writer drops.
    llm = ScriptedLLM(
        "The model is cautious. The price will surely hit 999.99 soon.",  # analyst
        "The backdrop is mixed.",  # market
        "A weak week ahead with a 12.5% drop.",  # summary
        "The model is cautious. It sees 777 as a floor.",  # rewrite of the analyst piece
        "A weak week may lie ahead.",  # rewrite of the summary (flagged slots in name order)
        "The report leans on a model with no edge.",  # the critic's own note
    )
    state = run_graph(_deps(facts, sample_tables, llm), "AAPL")
    report = state["report"]
    assert state["path"] == [*STRAIGHT[:5], "report_writer", "critic", "final"]
    assert report.revisions == 1 and report.writer == "llm"
    assert report.unverified_numbers == 0 and report.verified_numbers > 60
    for invented in ("999.99", "12.5%", "777"):
        assert invented not in report.markdown
    assert "A weak week may lie ahead." in report.sections["summary"]
    assert "The model is cautious." in report.sections["model_quality"]
    assert state["final_verdict"] == "revise"
    assert (
        evaluate(report, state["final_verdict"], state["facts"], state["tools"]).faithfulness == 1.0
    )


def test_out_of_revisions_falls_back_to_the_deterministic_writer(
    facts: Facts, sample_tables: Tables
) -> None:
    llm = ScriptedLLM("Analysts say the stock will surely rise.")  # unsupported claims only
    state = run_graph(_deps(facts, sample_tables, llm, revisions=0), "AAPL")
    report = state["report"]
    assert state["path"] == STRAIGHT
    assert report.writer == "deterministic" and report.revisions == 0
    assert report.unverified_numbers == 0 and "surely" not in report.markdown
    assert "Unsupported claims" in report.critique and "deterministic writer" in report.critique
    assert state["final_verdict"] == "fail"
    assert "written by code (no LLM)" in report.sections["disclaimer"]
    # With a revision allowed, the rewrite is still unsupported: its sentences are dropped and
    # the deterministic sentences take their place, so the second review passes.
    state = run_graph(_deps(facts, sample_tables, llm, revisions=1), "AAPL")
    assert state["path"] == [*STRAIGHT[:5], "report_writer", "critic", "final"]
    assert state["report"].writer == "deterministic" and state["final_verdict"] == "revise"


def test_llm_down_gives_a_labelled_deterministic_report(
    facts: Facts, sample_tables: Tables
) -> None:
    state = run_graph(_deps(facts, sample_tables, DownLLM()), "AAPL")
    report = state["report"]
    assert state["path"] == STRAIGHT
    assert report.writer == "deterministic" and report.unverified_numbers == 0
    assert "connection refused" in report.critique
    assert report.stance == facts.stance == "bearish"
