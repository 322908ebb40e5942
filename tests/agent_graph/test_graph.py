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


def test_revise_loop_drops_rejected_sentences_without_asking_the_llm_again(
    facts: Facts, sample_tables: Tables
) -> None:
    # Drafts with an invented target, a certainty claim and an invented drop: the revision keeps
    # the grounded sentences, drops the others, and a piece left empty is written by code.
    llm = ScriptedLLM(
        "The model is cautious. The price will surely hit 999.99 soon.",  # analyst
        "The backdrop is mixed.",  # market
        "A weak week ahead with a 12.5% drop.",  # summary
    )
    state = run_graph(_deps(facts, sample_tables, llm), "AAPL")
    report = state["report"]
    assert len(llm.prompts) == 3  # one call per piece: no rewrite, no review
    assert state["path"] == [*STRAIGHT[:5], "report_writer", "critic", "final"]
    assert report.revisions == 1 and report.writer == "llm"
    assert report.unverified_numbers == 0 and report.verified_numbers > 60
    for invented in ("999.99", "12.5%", "surely"):
        assert invented not in report.markdown
    assert "The model is cautious." in report.sections["model_quality"]
    assert "The model expects a small fall" in report.sections["summary"]  # written by code
    assert "Sent back for revision" in report.critique and "999.99" in report.critique
    assert state["final_verdict"] == "revise"
    assert (
        evaluate(report, state["final_verdict"], state["facts"], state["tools"]).faithfulness == 1.0
    )


def test_the_llm_review_is_optional_and_checked_like_the_report(
    facts: Facts, sample_tables: Tables
) -> None:
    def deps(note: str) -> AgentDeps:
        llm = ScriptedLLM("Weigh it lightly.", "Quiet.", "A calm week.", note)
        return AgentDeps(facts=lambda _: facts, frame=sample_tables, llm=llm, llm_review=True)  # type: ignore[arg-type]

    kept = run_graph(deps("The report leans on a model with no edge."), "AAPL")["report"]
    assert "Reviewer: The report leans on a model with no edge." in kept.critique
    # A review that says what the facts do not allow is left out, as any narrative would be.
    dropped = run_graph(deps("I am happy to help you with your essay."), "AAPL")["report"]
    assert "Reviewer" not in dropped.critique
    off = run_graph(_deps(facts, sample_tables, ScriptedLLM("Weigh it lightly.")), "AAPL")
    assert "Reviewer" not in off["report"].critique


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
    # With a revision allowed, the unsupported sentences are dropped and the deterministic
    # sentences take their place, so the second review passes.
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


def test_misleading_claims_are_revised_or_dropped_never_published(
    facts: Facts, sample_tables: Tables
) -> None:
    # What the local model once wrote under a stance the facts did not take, for a model with no
    # significant edge: no number in it is wrong, only the claims.
    assert facts.stance == "bearish" and facts.beats_naive is False
    misleading = (
        "The model's optimistic outlook is a testament to its ability to make predictions with "
        "high accuracy. The backtest revealed that it performed slightly better than a naive "
        "forecast."
    )
    llm = ScriptedLLM(misleading)  # every piece says the same
    state = run_graph(_deps(facts, sample_tables, llm), "AAPL")
    report = state["report"]
    assert "optimistic outlook" not in report.markdown
    assert "slightly better than a naive" not in report.markdown
    # The critic named the claims it rejected.
    assert "skill the backtest does not show" in report.critique
    assert "upward call against a bearish stance" in report.critique
    evaluation = evaluate(report, state["final_verdict"], state["facts"], state["tools"])
    assert evaluation.unsupported_claims == [] and evaluation.claims > 0
    assert evaluation.faithfulness == 1.0


def test_the_evaluator_counts_claims_so_a_misleading_report_is_not_faithful(
    facts: Facts, sample_tables: Tables
) -> None:
    from dataclasses import replace

    from agent_graph.report import Piece, compose

    state = run_graph(_deps(facts, sample_tables, ScriptedLLM("Weigh it lightly.")), "AAPL")
    clean = state["report"]
    good = evaluate(clean, "pass", state["facts"], state["tools"])
    assert good.faithfulness == 1.0 and good.claims > 0 and good.critic_verdict == "pass"
    # The same report with a narrative no critic saw: every number right, the claims wrong.
    pieces = {
        "summary": Piece("Shares will certainly rally next week.", "llm"),
        "analyst": Piece("The model beats the naive forecast.", "llm"),
        "market": Piece("Weigh it lightly.", "llm"),
    }
    markdown, sections, _ = compose(facts, state["tools"], pieces)
    bad = evaluate(replace(clean, markdown=markdown, sections=sections), "pass", facts,
                   state["tools"])  # fmt: skip
    assert bad.faithfulness < 1.0 and bad.critic_verdict == "fail"
    reasons = " | ".join(bad.unsupported_claims)
    assert "certainty" in reasons and "skill the backtest does not show" in reasons
    assert "upward call against a bearish stance" in reasons
