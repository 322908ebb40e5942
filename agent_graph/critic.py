"""The critic's checks: every number against the evidence, and claims the facts do not support.

Numbers are checked in the whole report (tables included); claims only in the narrative pieces,
since code-written sentences are derived from the facts they state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent_graph.facts import Facts
from agent_graph.numbers import Evidence, check_numbers, sentences
from agent_graph.report import SECTIONS, Piece
from agent_graph.tools.base import ToolResult

_CERTAINTY = re.compile(
    r"\b(guarantee[sd]?|certain(?:ly)?|definitely|risk[- ]free|no risk|sure to|cannot lose|"
    r"will (?:surely|certainly|definitely))\b",
    re.I,
)
_UP = re.compile(r"\b(bullish|will (?:rise|rally|climb|go up|gain|increase|soar))\b", re.I)
_DOWN = re.compile(r"\b(bearish|will (?:fall|drop|decline|go down|decrease|plunge))\b", re.I)
_SKILL = re.compile(
    r"(?<!not )(?<!n't )\b((?:outperforms?|beats?|better than|more accurate than) "
    r"(?:the |a )?(?:naive|baseline|"
    r"benchmark)|(?:highly|very|extremely) (?:accurate|reliable)|reliable forecasts?)\b",
    re.I,
)
_NEWS = re.compile(
    r"(?<!no )\b(news|headlines?|earnings|announce[sd]?|analysts? (?:say|expect|upgrade|downgrade)|"
    r"press release)\b",
    re.I,
)


@dataclass
class Findings:
    verified: int = 0
    unverified: list[str] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)  # "slot: reason: sentence"
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


def claim_problems(text: str, facts: Facts, tools: list[ToolResult]) -> list[tuple[str, str]]:
    """(reason, sentence) for each narrative sentence claiming what the facts do not support."""
    news_ran = any(t.name == "news_sentiment" and t.ran for t in tools)
    found = []
    for sentence in sentences(text):
        if _CERTAINTY.search(sentence):
            found.append(("certainty no forecast has", sentence))
        if facts.stance != "bullish" and _UP.search(sentence):
            found.append((f"upward call against a {facts.stance} stance", sentence))
        if facts.stance != "bearish" and _DOWN.search(sentence):
            found.append((f"downward call against a {facts.stance} stance", sentence))
        if facts.beats_naive is not True and _SKILL.search(sentence):
            found.append(("skill the backtest does not show", sentence))
        if not news_ran and _NEWS.search(sentence):
            found.append(("news, but no news source ran", sentence))
    return found


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
        for reason, sentence in claim_problems(piece.text, facts, tools):
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
