"""The critic: admits the narrative sentence by sentence, then checks the composed report.

1. **The gate** (:mod:`agent_graph.grounding`): each sentence the model wrote for a slot is
   admitted only if it restates that slot's facts; the slot is published as the admitted
   sentences plus the code-written sentence of every fact they do not restate.
2. **The review** of the composed report: every number and date against the evidence (tables
   included), the claims of every model-written sentence read again by the claim reader, and
   every fixed section present. A report that fails the review is rewritten by code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agent_graph.claims import claim_reader, contradiction, own_claims
from agent_graph.facts import Facts
from agent_graph.grounding import (
    GroundingGate,
    Grounds,
    Sentence,
    SentenceVerdict,
    assemble,
    names_topic,
)
from agent_graph.numbers import Evidence, check_numbers
from agent_graph.report import SECTIONS, Composed, brief
from agent_graph.statements import Fact
from agent_graph.tools.base import ToolResult


@dataclass
class Findings:
    verified: int = 0
    unverified: list[str] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)  # unsupported: "reason: sentence"
    missing_sections: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.unverified or self.claims or self.missing_sections)

    def summary(self) -> str:
        total = self.verified + len(self.unverified)
        parts = [f"Verified {self.verified} of {total} numbers against the facts."]
        if self.unverified:
            parts.append("Unsupported numbers: " + ", ".join(self.unverified) + ".")
        if self.claims:
            parts.append("Unsupported claims: " + " | ".join(self.claims) + ".")
        if self.missing_sections:
            parts.append("Missing sections: " + ", ".join(self.missing_sections) + ".")
        return " ".join(parts)


@dataclass(frozen=True)
class GatedSlot:
    verdicts: tuple[SentenceVerdict, ...]
    published: tuple[Sentence, ...]

    @property
    def dropped(self) -> list[SentenceVerdict]:
        return [v for v in self.verdicts if not v.admitted]


def gate_slot(
    drafted: Sequence[str],
    slot_facts: Sequence[Fact],
    *,
    facts: Facts,
    tools: Sequence[ToolResult],
    evidence: Evidence,
    mask: tuple[str, ...],
    gate: GroundingGate | None = None,
) -> GatedSlot:
    """Judge the model's sentences for one slot against that slot's facts, and publish."""
    grounds = Grounds(list(slot_facts), facts, tools, evidence, mask)
    verdicts = (gate or GroundingGate()).judge(list(drafted), grounds) if drafted else []
    return GatedSlot(tuple(verdicts), tuple(assemble(slot_facts, verdicts)))


def model_claim_problems(
    narrative: Mapping[str, Sequence[Sentence]], facts: Facts, tools: Sequence[ToolResult]
) -> list[str]:
    """Claims of the published model-written sentences that the facts do not allow, read
    again (the gate read them too; this is the review's independent second reading)."""
    text = " ".join(s.text for slot in narrative.values() for s in slot if s.source == "model")
    if not text:
        return []
    grounds = brief(facts, tools)
    allowed = own_claims(grounds)
    out = []
    for sentence, claims in claim_reader().read_sentences(text, grounds):
        for claim in claims:
            if claim.kind == "topic" or claim.label in allowed:
                continue
            if not names_topic(claim.kind, sentence):
                continue
            if why := contradiction(claim, facts, tools):
                out.append(f"{why}: {sentence!r}")
    return out


def review(
    composed: Composed,
    narrative: Mapping[str, Sequence[Sentence]],
    *,
    facts: Facts,
    tools: Sequence[ToolResult],
    evidence: Evidence,
    mask: tuple[str, ...],
) -> Findings:
    findings = Findings()
    for check in check_numbers(composed.markdown, evidence, mask):
        if check.verified:
            findings.verified += 1
        else:
            findings.unverified.append(check.text)
    findings.claims = model_claim_problems(narrative, facts, tools)
    findings.missing_sections = [k for k in SECTIONS if not composed.sections.get(k, "").strip()]
    return findings
