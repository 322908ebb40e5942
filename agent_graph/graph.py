"""The analyst team as a LangGraph ``StateGraph``.

facts -> performance_analyst -> market_expert -> report_writer -> critic -> final

Numbers and facts come from code (facts node, tools, :mod:`agent_graph.statements`). Each writer
gives the LLM the fact sentences of its slot, in words (no number), and asks it to make them read
well; the critic admits each sentence it writes only if it restates those facts
(:mod:`agent_graph.grounding`) and states every fact it did not restate in the fact's own
code-written sentence, then checks the composed report's numbers, claims and sections. A report
that fails that review (which the gate should make impossible) is rewritten by code alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import pandas as pd
from langgraph.graph import END, START, StateGraph

from agent_graph.answers import Answer, answer
from agent_graph.critic import Findings, GatedSlot, gate_slot, review
from agent_graph.facts import Facts
from agent_graph.grounding import GroundingGate, Sentence
from agent_graph.llm import LLM, LLMError
from agent_graph.numbers import Evidence
from agent_graph.report import (
    NARRATIVE_SLOTS,
    Composed,
    Report,
    clean_narrative,
    compose,
    deterministic,
    escape_markdown,
)
from agent_graph.statements import Fact, slot_facts
from agent_graph.tools.base import ToolResult
from agent_graph.tools.market import relative_strength, volatility_regime, volume_anomalies
from agent_graph.tools.news import NewsSource, news_sentiment

log = logging.getLogger(__name__)

SYSTEM = (
    "You rewrite facts about a stock for investors in plain English. Keep the meaning of every "
    "fact. Add nothing that the facts do not say: no numbers, dates, names, events, causes or "
    "opinions."
)
Verdict = Literal["pass", "revise", "fail"]


def writer_prompt(fact: Fact) -> str:
    """The writer's request: one fact sentence, to be said again in plain words. One fact per
    call: the local 135M model restates a single sentence far more often than a list (measured
    by ``bench/bench_agents.py``: the share of its sentences the gate admits)."""
    return f"Say the same thing in your own words, in one plain sentence:\n{fact.text}"


class AgentState(TypedDict, total=False):
    ticker: str
    question: str | None
    facts: Facts
    evidence: Evidence
    tools: list[ToolResult]
    slots: dict[str, list[Fact]]  # the facts of each narrative slot
    drafts: dict[str, list[str]]  # what the model wrote for each slot, sentence by sentence
    answer: Answer | None
    llm_errors: list[str]
    gated: dict[str, GatedSlot]
    narrative: dict[str, list[Sentence]]
    composed: Composed
    findings: Findings
    verdict: Verdict
    report: Report
    final_verdict: Verdict  # pass: every model sentence admitted; revise: some replaced by code
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
    sentence_budget: int = 3  # facts per narrative slot the model is asked to restate
    gate: GroundingGate = field(default_factory=GroundingGate)
    llm_name: str = field(default="")

    def __post_init__(self) -> None:
        self.llm_name = self.llm_name or (self.llm.name if self.llm else "none")


def _mask(state: AgentState, deps: AgentDeps) -> tuple[str, ...]:
    """What the number check skips: the symbols, and the reader's own question as shown."""
    question = (state.get("question") or "").strip()
    shown = escape_markdown(question) if question else ""
    return tuple(m for m in (state["ticker"], deps.index_ticker, shown, question) if m)


def _draft(deps: AgentDeps, fact_list: Sequence[Fact], state: AgentState) -> list[str]:
    """The model's sentences for one slot: one per fact, for the first ``sentence_budget``
    facts ([] without an LLM; a failed call leaves its fact to code)."""
    if deps.llm is None:
        return []
    out: list[str] = []
    for fact in fact_list[: deps.sentence_budget]:
        try:
            written = clean_narrative(deps.llm.complete(SYSTEM, writer_prompt(fact)))
        except LLMError as exc:
            log.warning("LLM call failed, the fact is stated by code: %s", exc)
            state.setdefault("llm_errors", []).append(str(exc))
            if "timeout" in str(exc).lower():
                break  # a slow model stays slow: the rest of the slot is written by code
            continue
        out += written[:1]
    return out


def _step(state: AgentState, name: str, **changes: Any) -> dict[str, Any]:
    return {**changes, "llm_errors": state["llm_errors"], "path": [*state["path"], name]}


def build_graph(deps: AgentDeps) -> Any:
    """The compiled graph; invoke it with ``{"ticker": ..., "question": ...}``."""

    def facts_node(state: AgentState) -> dict[str, Any]:
        facts = deps.facts(state["ticker"])
        return {
            "facts": facts,
            "llm_errors": [],
            "path": ["facts"],
            "slots": {},
            "drafts": {},
            "evidence": Evidence.of(facts.numbers(), facts.dates()),
        }

    def performance_analyst(state: AgentState) -> dict[str, Any]:
        own = slot_facts("analyst", state["facts"], [])
        return _step(
            state,
            "performance_analyst",
            slots={"analyst": own},
            drafts={"analyst": _draft(deps, own, state)},
        )

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
        evidence = Evidence.of(
            [*state["evidence"].numbers, *numbers], [*state["evidence"].dates, *dates]
        )
        own = slot_facts("market", facts, tools)
        return _step(
            state,
            "market_expert",
            tools=tools,
            evidence=evidence,
            slots={**state["slots"], "market": own},
            drafts={**state["drafts"], "market": _draft(deps, own, state)},
        )

    def report_writer(state: AgentState) -> dict[str, Any]:
        facts, tools = state["facts"], state["tools"]
        slots, drafts = dict(state["slots"]), dict(state["drafts"])
        question = (state.get("question") or "").strip()
        found = answer(question, facts, tools) if question else None
        if found is not None:
            slots["answer"] = list(found.facts)
            drafts["answer"] = _draft(deps, slots["answer"], state)
        slots["summary"] = slot_facts("summary", facts, tools)
        drafts["summary"] = _draft(deps, slots["summary"], state)
        return _step(state, "report_writer", slots=slots, drafts=drafts, answer=found)

    def critic(state: AgentState) -> dict[str, Any]:
        facts, tools = state["facts"], state["tools"]
        mask = _mask(state, deps)
        gated = {
            slot: gate_slot(
                state["drafts"].get(slot, []),
                own,
                facts=facts,
                tools=tools,
                evidence=state["evidence"],
                mask=mask,
                gate=deps.gate,
            )
            for slot, own in state["slots"].items()
        }
        narrative = {slot: list(g.published) for slot, g in gated.items()}
        composed = compose(facts, tools, narrative, state.get("question"))
        findings = review(
            composed, narrative, facts=facts, tools=tools, evidence=state["evidence"], mask=mask
        )
        dropped = any(g.dropped for g in gated.values())
        verdict: Verdict = "fail" if not findings.ok else "revise" if dropped else "pass"
        return _step(
            state,
            "critic",
            gated=gated,
            narrative=narrative,
            composed=composed,
            findings=findings,
            verdict=verdict,
        )

    def final(state: AgentState) -> dict[str, Any]:
        facts, tools = state["facts"], state["tools"]
        composed, findings, narrative = state["composed"], state["findings"], state["narrative"]
        critique = findings.summary()
        if state["verdict"] == "fail":
            # The review found what the gate should have stopped: code writes every sentence.
            narrative = {slot: deterministic(own) for slot, own in state["slots"].items()}
            composed = compose(facts, tools, narrative, state.get("question"))
            findings = review(
                composed,
                narrative,
                facts=facts,
                tools=tools,
                evidence=state["evidence"],
                mask=_mask(state, deps),
            )
            critique += " Fell back to the code-written narrative."
        dropped = [v for g in state["gated"].values() for v in g.dropped]
        if dropped:
            shown = [f"{'; '.join(v.reasons)}: {v.text!r}" for v in dropped[:6]]
            more = len(dropped) - len(shown)
            critique += (
                f" Dropped {len(dropped)} generated sentence(s): "
                + " | ".join(shown)
                + (f" (and {more} more)" if more else "")
                + "."
            )
        if state.get("llm_errors"):
            critique += " LLM errors: " + "; ".join(state["llm_errors"][:3])
        found = state.get("answer")
        report = Report(
            markdown=composed.markdown,
            sections=composed.sections,
            stance=facts.stance,
            confidence=facts.confidence,
            writer=composed.writer,
            llm=deps.llm_name,
            verified_numbers=findings.verified,
            unverified_numbers=len(findings.unverified),
            critique=critique.strip(),
            paragraphs=composed.paragraphs,
            gate=[
                {"slot": slot, **v.to_dict()}
                for slot in ("answer", *NARRATIVE_SLOTS)
                for v in (state["gated"][slot].verdicts if slot in state["gated"] else ())
            ],
            question=found.to_dict() if found else None,
            tools=[t.to_dict() for t in tools],
        )
        final_verdict: Verdict = state["verdict"] if findings.ok else "fail"
        return _step(
            state,
            "final",
            report=report,
            final_verdict=final_verdict,
            composed=composed,
            narrative=narrative,
        )

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
    graph.add_edge("critic", "final")
    graph.add_edge("final", END)
    return graph.compile()


def run_graph(deps: AgentDeps, ticker: str, question: str | None = None) -> AgentState:
    """Run the team once; the final state holds ``report``, ``facts`` and ``path``."""
    return build_graph(deps).invoke({"ticker": ticker, "question": question})
