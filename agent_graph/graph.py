"""The analyst team as a LangGraph ``StateGraph``.

facts -> performance_analyst -> market_expert -> report_writer -> critic
  -> (revise: report_writer, at most ``max_revisions`` times) -> final

Numbers come from code (facts node, tools); the LLM writes narrative from qualitative
descriptions and never sees a number. The critic checks every number of the composed report
against the facts and tool outputs and flags unsupported claims; the writer's revision asks the
LLM to rewrite the flagged narrative and drops any sentence that is still unsupported. If the
critic still fails after the last revision, the final node uses the deterministic writer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import pandas as pd
from langgraph.graph import END, START, StateGraph

from agent_graph.critic import Findings, claim_problems, review, strip_unsupported
from agent_graph.facts import Facts
from agent_graph.llm import LLM, LLMError
from agent_graph.numbers import Evidence
from agent_graph.report import (
    PIECES,
    Piece,
    Report,
    clean_narrative,
    compose,
    describe_forecast,
    describe_market,
    describe_quality,
    deterministic_piece,
)
from agent_graph.tools.base import ToolResult
from agent_graph.tools.market import relative_strength, volatility_regime, volume_anomalies
from agent_graph.tools.news import NewsSource, news_sentiment

log = logging.getLogger(__name__)

SYSTEM = (
    "You are a careful equity analyst writing for investors. Write plain English prose only. "
    "Never write digits, numbers, percentages or dates. Use only what you are told: no news, "
    "events, people or certainty that it does not contain."
)
Verdict = Literal["pass", "revise", "fail"]


class AgentState(TypedDict, total=False):
    ticker: str
    question: str | None
    facts: Facts
    evidence: Evidence
    tools: list[ToolResult]
    pieces: dict[str, Piece]
    llm_errors: list[str]
    markdown: str
    sections: dict[str, str]
    writer: str
    findings: Findings
    rejected: list[str]  # claims and numbers the critic sent back for revision, in order
    verdict: Verdict
    revisions: int
    critique: str | None
    report: Report
    final_verdict: Verdict  # pass: first draft accepted; revise: after revisions; fail: never
    path: list[str]  # the nodes visited, in order (observability and tests)


@dataclass
class AgentDeps:
    """What the nodes need. ``facts`` and ``frame`` are callables so that the API can hand over
    what it already loaded and the Dagster asset can load from storage."""

    facts: Callable[[str], Facts]
    frame: Callable[[str], pd.DataFrame | None]
    llm: LLM | None
    news: NewsSource | None = None
    index_ticker: str = "^GSPC"
    max_revisions: int = 2
    llm_review: bool = False  # the LLM's own one-sentence review, added to the critique
    llm_name: str = field(default="")

    def __post_init__(self) -> None:
        self.llm_name = self.llm_name or (self.llm.name if self.llm else "none")


def _mask(state: AgentState, deps: AgentDeps) -> tuple[str, ...]:
    return (state["ticker"], deps.index_ticker)


def _ask(deps: AgentDeps, prompt: str, state: AgentState) -> str | None:
    """The LLM's cleaned answer, or None (the error is recorded) when it fails."""
    if deps.llm is None:
        return None
    try:
        text = clean_narrative(deps.llm.complete(SYSTEM, prompt))
    except LLMError as exc:
        log.warning("LLM call failed, falling back to deterministic text: %s", exc)
        state.setdefault("llm_errors", []).append(str(exc))
        return None
    return text or None


def _piece(deps: AgentDeps, slot: str, prompt: str, state: AgentState) -> Piece:
    text = _ask(deps, prompt, state)
    if text is None:
        return deterministic_piece(slot, state["facts"], state.get("tools", []))
    return Piece(text, "llm")


def build_graph(deps: AgentDeps) -> Any:
    """The compiled graph; invoke it with ``{"ticker": ..., "question": ...}``."""

    def facts_node(state: AgentState) -> dict[str, Any]:
        facts = deps.facts(state["ticker"])
        return {"facts": facts, "revisions": 0, "llm_errors": [], "path": ["facts"],
                "evidence": Evidence.of(facts.numbers(), facts.dates())}  # fmt: skip

    def performance_analyst(state: AgentState) -> dict[str, Any]:
        facts = state["facts"]
        prompt = (
            f"Stock {facts.ticker}. {describe_forecast(facts)} {describe_quality(facts)} "
            "In two sentences, tell an investor how much weight this forecast deserves."
        )
        piece = _piece(deps, "analyst", prompt, state)
        return {"pieces": {"analyst": piece}, "llm_errors": state["llm_errors"],
                "path": [*state["path"], "performance_analyst"]}  # fmt: skip

    def market_expert(state: AgentState) -> dict[str, Any]:
        facts = state["facts"]
        ticker = facts.ticker
        tools: list[ToolResult] = [news_sentiment(ticker, deps.news)]
        prices = deps.frame(ticker)
        index = deps.frame(deps.index_ticker) if ticker != deps.index_ticker else None
        if prices is not None:
            if ticker != deps.index_ticker:
                tools.append(
                    relative_strength(ticker, prices, index, deps.index_ticker, facts.as_of)
                )
            tools.append(volatility_regime(ticker, prices, facts.as_of))
            tools.append(volume_anomalies(ticker, prices, facts.as_of))
        numbers = [n for t in tools for n in t.numbers]
        dates = [d for t in tools for d in t.dates]
        evidence = Evidence.of([*state["evidence"].numbers, *numbers],
                               [*state["evidence"].dates, *dates])  # fmt: skip
        state = {**state, "tools": tools}  # type: ignore[typeddict-item]
        prompt = (
            f"Market backdrop for {ticker}: {describe_market(facts, tools)} "
            "In two sentences, describe what this backdrop means for the stock."
        )
        piece = _piece(deps, "market", prompt, state)
        return {"tools": tools, "evidence": evidence, "llm_errors": state["llm_errors"],
                "pieces": {**state["pieces"], "market": piece},
                "path": [*state["path"], "market_expert"]}  # fmt: skip

    def report_writer(state: AgentState) -> dict[str, Any]:
        facts, tools = state["facts"], state["tools"]
        pieces = dict(state["pieces"])
        revisions = state.get("revisions", 0)
        findings = state.get("findings")
        if findings is None:
            question = state.get("question")
            ask = f" The reader asked: {question.strip()[:200]}" if question else ""
            prompt = (
                f"Write a two-sentence summary of a report on {facts.ticker}. The stance is "
                f"{facts.stance}. {describe_forecast(facts)} {describe_quality(facts)}{ask}"
            )
            pieces["summary"] = _piece(deps, "summary", prompt, state)
        else:
            # A revision drops every sentence the critic rejected (a wrong number or a claim the
            # facts do not allow) and never asks the LLM again: a rewrite by a small local model
            # rarely fixes a claim and costs seconds per call. A piece left empty is written
            # by code from the facts.
            revisions += 1
            mask = _mask(state, deps)
            for slot in sorted(findings.flagged_slots):
                piece = pieces[slot]
                text = strip_unsupported(piece.text, facts, tools, state["evidence"], mask)
                pieces[slot] = (
                    Piece(text, piece.source) if text else deterministic_piece(slot, facts, tools)
                )
        markdown, sections, writer = compose(facts, tools, pieces)
        return {"pieces": pieces, "markdown": markdown, "sections": sections, "writer": writer,
                "revisions": revisions, "llm_errors": state["llm_errors"],
                "path": [*state["path"], "report_writer"]}  # fmt: skip

    def critic(state: AgentState) -> dict[str, Any]:
        findings = review(
            state["markdown"], state["sections"], state["pieces"], facts=state["facts"],
            tools=state["tools"], evidence=state["evidence"], mask=_mask(state, deps),
        )  # fmt: skip
        if findings.ok:
            verdict: Verdict = "pass"
        elif state["revisions"] < deps.max_revisions:
            verdict = "revise"
        else:
            verdict = "fail"
        critique = findings.summary()
        rejected = list(state.get("rejected", []))
        if verdict == "revise":
            rejected += findings.claims + [f"number {n}" for n in findings.unverified]
        if verdict != "revise" and deps.llm_review:
            # The LLM's own review, once per report: the narrative is final at this point.
            narrative = " ".join(state["pieces"][s].text for s in PIECES)
            note = _ask(deps, "In one sentence, name the weakest point of this stock report: "
                        f"{narrative[:900]}", state)  # fmt: skip
            if note and not claim_problems(note, state["facts"], state["tools"]):
                critique += f" Reviewer: {note}"
        return {"findings": findings, "verdict": verdict, "critique": critique,
                "rejected": rejected, "llm_errors": state["llm_errors"],
                "path": [*state["path"], "critic"]}  # fmt: skip

    def final(state: AgentState) -> dict[str, Any]:
        facts, tools, findings = state["facts"], state["tools"], state["findings"]
        markdown, sections, writer = state["markdown"], state["sections"], state["writer"]
        critique = state.get("critique")
        if state["verdict"] == "fail":
            # Out of revisions: the grounded deterministic writer, labelled as such.
            pieces = {slot: deterministic_piece(slot, facts, tools) for slot in PIECES}
            markdown, sections, writer = compose(facts, tools, pieces)
            findings = review(markdown, sections, pieces, facts=facts, tools=tools,
                              evidence=state["evidence"], mask=_mask(state, deps))  # fmt: skip
            critique = (critique or "") + " Fell back to the deterministic writer."
        if state.get("rejected"):
            shown = state["rejected"][:6]
            more = len(state["rejected"]) - len(shown)
            critique = (
                (critique or "")
                + " Sent back for revision: "
                + " | ".join(shown)
                + (f" (and {more} more)" if more else "")
                + "."
            )
        if state.get("llm_errors"):
            critique = (critique or "") + " LLM errors: " + "; ".join(state["llm_errors"][:3])
        report = Report(
            markdown=markdown,
            sections=sections,
            stance=facts.stance,
            confidence=facts.confidence,
            writer=writer,  # type: ignore[arg-type]
            llm=deps.llm_name,
            revisions=state["revisions"],
            verified_numbers=findings.verified,
            unverified_numbers=len(findings.unverified),
            critique=critique.strip() if critique else None,
            tools=[t.to_dict() for t in tools],
        )
        if state["verdict"] == "pass":
            final_verdict: Verdict = "pass" if state["revisions"] == 0 else "revise"
        else:
            final_verdict = "fail"
        return {"report": report, "final_verdict": final_verdict,
                "path": [*state["path"], "final"]}  # fmt: skip

    def after_critic(state: AgentState) -> str:
        return "report_writer" if state["verdict"] == "revise" else "final"

    graph = StateGraph(AgentState)
    graph.add_node("facts", facts_node)
    graph.add_node("performance_analyst", performance_analyst)
    graph.add_node("market_expert", market_expert)
    graph.add_node("report_writer", report_writer)
    graph.add_node("critic", critic)
    graph.add_node("final", final)
    graph.add_edge(START, "facts")
    graph.add_edge("facts", "performance_analyst")
    graph.add_edge("performance_analyst", "market_expert")
    graph.add_edge("market_expert", "report_writer")
    graph.add_edge("report_writer", "critic")
    graph.add_conditional_edges("critic", after_critic, ["report_writer", "final"])
    graph.add_edge("final", END)
    return graph.compile()


def run_graph(deps: AgentDeps, ticker: str, question: str | None = None) -> AgentState:
    """Run the team once; the final state holds ``report``, ``facts`` and ``path``."""
    # Each node appends one step; the revise loop adds two per round.
    limit = 10 + 2 * (deps.max_revisions + 1)
    return build_graph(deps).invoke(
        {"ticker": ticker, "question": question}, {"recursion_limit": limit}
    )
