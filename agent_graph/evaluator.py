"""Scores for every report: faithfulness, section coverage, critic verdict, length.

Faithfulness counts numbers and claims alike: the share of the report's numbers the critic
verified and of the claims in its prose (every sentence outside tables, code-written ones
included) that the facts allow, read again here rather than taken from the critic.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from agent_graph.claims import claim_reader, contradiction
from agent_graph.facts import Facts
from agent_graph.report import SECTIONS, Report, brief, report_prose, split_sections
from agent_graph.tools.base import ToolResult

# Length that reads as a useful brief: shorter says too little, longer buries the numbers.
MIN_WORDS, MAX_WORDS = 150, 900
VERDICT_SCORE = {"pass": 1.0, "revise": 0.5, "fail": 0.0}
WEIGHTS = {"faithfulness": 0.4, "section_coverage": 0.3, "critic_verdict": 0.2, "length": 0.1}


@dataclass(frozen=True)
class Evaluation:
    faithfulness: float
    claims: int
    unsupported_claims: list[str]
    section_coverage: float
    critic_verdict: str
    length_words: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _length_score(words: int) -> float:
    if words < MIN_WORDS:
        return words / MIN_WORDS
    if words > MAX_WORDS:
        return max(0.0, 1.0 - (words - MAX_WORDS) / MAX_WORDS)
    return 1.0


def evaluate(
    report: Report, critic_verdict: str, facts: Facts, tools: list[ToolResult]
) -> Evaluation:
    """Faithfulness: (verified numbers + allowed claims) / (numbers + claims), 1.0 with none.
    Coverage: fixed sections present and non-empty in the markdown itself. Verdict: the
    critic's (pass: first draft accepted; revise: accepted after revisions; fail: never
    accepted), and never a pass while the final text has an unverified number, a claim the
    facts do not allow, or misses a section."""
    claims = claim_reader().read(report_prose(report.markdown), brief(facts, tools))
    wrong = [f"{why}: {c.clause!r}" for c in claims if (why := contradiction(c, facts, tools))]
    total = report.verified_numbers + report.unverified_numbers + len(claims)
    good = report.verified_numbers + len(claims) - len(wrong)
    faithfulness = good / total if total else 1.0
    found = split_sections(report.markdown)
    coverage = sum(1 for key in SECTIONS if found.get(key)) / len(SECTIONS)
    verdict = critic_verdict if critic_verdict in VERDICT_SCORE else "fail"
    if report.unverified_numbers or wrong or coverage < 1.0:
        verdict = "fail"
    words = len(report.markdown.split())
    score = (
        WEIGHTS["faithfulness"] * faithfulness
        + WEIGHTS["section_coverage"] * coverage
        + WEIGHTS["critic_verdict"] * VERDICT_SCORE[verdict]
        + WEIGHTS["length"] * _length_score(words)
    )
    return Evaluation(
        round(faithfulness, 4), len(claims), wrong, round(coverage, 4), verdict, words,
        round(score, 4),
    )  # fmt: skip
