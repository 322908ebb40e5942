"""The critic's checks: every number against the evidence, and claims the facts do not support.

Numbers are checked in the whole report (tables included); claims (direction, skill, certainty,
news, volatility, volume: :mod:`agent_graph.claims`) in the narrative pieces, since code-written
sentences are derived from the facts they state. The evaluator reads the claims of the whole
final report again, code-written sentences included.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent_graph.claims import claim_reader, contradiction
from agent_graph.facts import Facts
from agent_graph.numbers import Evidence, check_numbers, sentences
from agent_graph.report import SECTIONS, Piece, brief
from agent_graph.tools.base import ToolResult


@dataclass
class Findings:
    verified: int = 0
    unverified: list[str] = field(default_factory=list)
    supported_claims: int = 0
    claims: list[str] = field(default_factory=list)  # unsupported: "slot: reason: sentence"
    missing_sections: list[str] = field(default_factory=list)
    flagged_slots: set[str] = field(default_factory=set)

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


def read_claims(text: str, facts: Facts, tools: list[ToolResult]) -> list[tuple[str, str | None]]:
    """(sentence, None) for each supported claim of ``text``, (sentence, reason) for each claim
    the facts do not allow."""
    out: list[tuple[str, str | None]] = []
    for sentence, claims in claim_reader().read_sentences(text, brief(facts, tools)):
        out += [(sentence, contradiction(claim, facts, tools)) for claim in claims]
    return out


def claim_problems(text: str, facts: Facts, tools: list[ToolResult]) -> list[tuple[str, str]]:
    """(reason, sentence) for each narrative sentence claiming what the facts do not support."""
    return [(why, sentence) for sentence, why in read_claims(text, facts, tools) if why]


def review(
    markdown: str,
    sections: dict[str, str],
    pieces: dict[str, Piece],
    *,
    facts: Facts,
    tools: list[ToolResult],
    evidence: Evidence,
    mask: tuple[str, ...],
) -> Findings:
    findings = Findings()
    for check in check_numbers(markdown, evidence, mask):
        if check.verified:
            findings.verified += 1
        else:
            findings.unverified.append(check.text)
    for slot, piece in pieces.items():
        if any(not c.verified for c in check_numbers(piece.text, evidence, mask)):
            findings.flagged_slots.add(slot)
        for sentence, reason in read_claims(piece.text, facts, tools):
            if reason is None:
                findings.supported_claims += 1
                continue
            findings.claims.append(f"{slot}: {reason}: {sentence!r}")
            findings.flagged_slots.add(slot)
    findings.missing_sections = [k for k in SECTIONS if not sections.get(k, "").strip()]
    return findings


def strip_unsupported(
    text: str, facts: Facts, tools: list[ToolResult], evidence: Evidence, mask: tuple[str, ...]
) -> str:
    """The sentences of ``text`` with neither an unsupported number nor an unsupported claim."""
    bad_claims = {s for _, s in claim_problems(text, facts, tools)}
    kept = [
        s for s in sentences(text)
        if s not in bad_claims and all(c.verified for c in check_numbers(s, evidence, mask))
    ]  # fmt: skip
    return " ".join(kept)
