"""Scores for every report: faithfulness, grounding, sentence counts, the question, coverage.

Faithfulness counts numbers and claims alike: the share of the report's numbers the critic
verified and of the claims in its prose (every sentence outside tables, code-written ones
included) that the facts allow, read again here rather than taken from the critic. Grounding is
read again too: every published model-written sentence goes through the gate once more, against
every fact of the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from agent_graph.claims import claim_reader, contradiction, own_claims
from agent_graph.facts import Facts
from agent_graph.grounding import GroundingGate, Grounds, names_topic
from agent_graph.numbers import Evidence
from agent_graph.report import SECTIONS, Report, brief, report_prose, split_sections
from agent_graph.statements import Fact, all_facts
from agent_graph.tools.base import ToolResult

# Length that reads as a useful brief: shorter says too little, longer buries the numbers.
MIN_WORDS, MAX_WORDS = 150, 900
VERDICT_SCORE = {"pass": 1.0, "revise": 0.75, "fail": 0.0}
WEIGHTS = {"faithfulness": 0.4, "section_coverage": 0.3, "critic_verdict": 0.2, "length": 0.1}


@dataclass(frozen=True)
class SentenceCounts:
    """The model's sentences through the gate, and what the narrative finally published."""

    generated: int = 0
    admitted: int = 0
    dropped: int = 0
    published_model: int = 0
    published_code: int = 0

    @property
    def admitted_share(self) -> float | None:
        return self.admitted / self.generated if self.generated else None


@dataclass(frozen=True)
class Evaluation:
    faithfulness: float
    claims: int
    unsupported_claims: list[str]
    section_coverage: float
    critic_verdict: str
    length_words: int
    score: float
    sentences: dict[str, int] = field(default_factory=dict)
    dropped_sentences: list[str] = field(default_factory=list)
    grounded: float = 1.0  # share of published narrative sentences that restate the facts
    ungrounded_sentences: list[str] = field(default_factory=list)
    question: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _length_score(words: int) -> float:
    if words < MIN_WORDS:
        return words / MIN_WORDS
    if words > MAX_WORDS:
        return max(0.0, 1.0 - (words - MAX_WORDS) / MAX_WORDS)
    return 1.0


def sentence_counts(report: Report) -> SentenceCounts:
    judged = report.gate
    published = [s for p in report.paragraphs for s in p.get("sentences", [])]
    admitted = sum(1 for v in judged if v["admitted"])
    return SentenceCounts(
        generated=len(judged),
        admitted=admitted,
        dropped=len(judged) - admitted,
        published_model=sum(1 for s in published if s["source"] == "model"),
        published_code=sum(1 for s in published if s["source"] == "code"),
    )


def regrounded(
    report: Report, facts: Facts, tools: Sequence[ToolResult], extra: Sequence[Fact] = ()
) -> list[str]:
    """Published model-written sentences that the gate, read again against every fact of the
    report, does not admit."""
    said = [
        s["text"]
        for p in report.paragraphs
        for s in p.get("sentences", [])
        if s["source"] == "model"
    ]
    if not said:
        return []
    known = {f.key: f for f in [*all_facts(facts, tools), *extra]}
    evidence = Evidence.of(facts.numbers(), facts.dates())
    numbers = [n for t in tools for n in t.numbers]
    evidence = Evidence.of(
        [*evidence.numbers, *numbers], [*evidence.dates, *(d for t in tools for d in t.dates)]
    )
    grounds = Grounds(list(known.values()), facts, tools, evidence, (facts.ticker,))
    return [v.text for v in GroundingGate().judge(said, grounds) if not v.admitted]


def evaluate(
    report: Report,
    critic_verdict: str,
    facts: Facts,
    tools: list[ToolResult],
    answer_facts: Sequence[Fact] = (),
) -> Evaluation:
    """Faithfulness: (verified numbers + allowed claims) / (numbers + claims), 1.0 with none.
    Coverage: fixed sections present and non-empty in the markdown itself, and the answer when
    a question was asked. Verdict: the critic's (pass: every model sentence admitted; revise:
    some replaced by code; fail: the review failed), and never a pass while the final text has
    an unverified number, a claim the facts do not allow, an ungrounded model sentence, or
    misses a section."""
    grounds = [*brief(facts, tools), *(f.text for f in answer_facts)]
    allowed = own_claims(grounds)
    claims = claim_reader().read(report_prose(report.markdown), grounds)
    wrong = [
        f"{why}: {c.clause!r}"
        for c in claims
        if c.label not in allowed
        and names_topic(c.kind, c.clause)
        and (why := contradiction(c, facts, tools))
    ]
    total = report.verified_numbers + report.unverified_numbers + len(claims)
    good = report.verified_numbers + len(claims) - len(wrong)
    faithfulness = good / total if total else 1.0
    found = split_sections(report.markdown)
    required = [*SECTIONS, *(["answer"] if report.question else [])]
    coverage = sum(1 for key in required if found.get(key)) / len(required)
    ungrounded = regrounded(report, facts, tools, answer_facts)
    counts = sentence_counts(report)
    published = counts.published_model + counts.published_code
    grounded = 1.0 - len(ungrounded) / published if published else 1.0
    verdict = critic_verdict if critic_verdict in VERDICT_SCORE else "fail"
    if report.unverified_numbers or wrong or ungrounded or coverage < 1.0:
        verdict = "fail"
    words = len(report.markdown.split())
    score = (
        WEIGHTS["faithfulness"] * faithfulness
        + WEIGHTS["section_coverage"] * coverage
        + WEIGHTS["critic_verdict"] * VERDICT_SCORE[verdict]
        + WEIGHTS["length"] * _length_score(words)
    )
    dropped = [f"{'; '.join(v['reasons'])}: {v['text']}" for v in report.gate if not v["admitted"]]
    return Evaluation(
        round(faithfulness, 4),
        len(claims),
        wrong,
        round(coverage, 4),
        verdict,
        words,
        round(score, 4),
        asdict(counts),
        dropped,
        round(grounded, 4),
        ungrounded,
        report.question,
    )
