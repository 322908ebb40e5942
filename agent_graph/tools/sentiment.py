"""Finance-aware headline sentiment: small Loughran-McDonald-style word lists, with negation.

General-purpose lexicons misread finance text ("liability", "tax", "cost" are not negative news;
"beat" and "upgrade" are positive), so the lists below are finance vocabulary: a compact subset
in the spirit of the Loughran-McDonald master dictionary, plus common headline verbs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

POSITIVE = frozenset(
    [
        "beat",
        "beats",
        "beating",
        "exceed",
        "exceeds",
        "exceeded",
        "exceeding",
        "outperform",
        "outperforms",
        "outperformed",
        "upgrade",
        "upgrades",
        "upgraded",
        "record",
        "strong",
        "stronger",
        "strongest",
        "gain",
        "gains",
        "gained",
        "surge",
        "surges",
        "surged",
        "soar",
        "soars",
        "soared",
        "rally",
        "rallies",
        "rallied",
        "rise",
        "rises",
        "rising",
        "rose",
        "jump",
        "jumps",
        "jumped",
        "growth",
        "grow",
        "grows",
        "grew",
        "profit",
        "profits",
        "profitable",
        "profitability",
        "improve",
        "improves",
        "improved",
        "improvement",
        "boost",
        "boosts",
        "boosted",
        "raise",
        "raises",
        "raised",
        "expand",
        "expands",
        "expanded",
        "expansion",
        "rebound",
        "rebounds",
        "rebounded",
        "success",
        "successful",
        "achieve",
        "achieved",
        "advantage",
        "favorable",
        "positive",
        "optimistic",
        "upbeat",
        "bullish",
        "accelerate",
        "accelerates",
        "accelerated",
        "innovative",
        "breakthrough",
        "win",
        "wins",
        "won",
        "award",
        "awarded",
        "dividend",
        "buyback",
        "buybacks",
        "top",
        "tops",
        "topped",
    ]
)
NEGATIVE = frozenset(
    [
        "miss",
        "misses",
        "missed",
        "downgrade",
        "downgrades",
        "downgraded",
        "loss",
        "losses",
        "lose",
        "loses",
        "lost",
        "weak",
        "weaker",
        "weakest",
        "decline",
        "declines",
        "declined",
        "declining",
        "fall",
        "falls",
        "fell",
        "falling",
        "drop",
        "drops",
        "dropped",
        "plunge",
        "plunges",
        "plunged",
        "slump",
        "slumps",
        "slumped",
        "tumble",
        "tumbles",
        "tumbled",
        "sink",
        "sinks",
        "sank",
        "slide",
        "slides",
        "slid",
        "cut",
        "cuts",
        "cutting",
        "layoff",
        "layoffs",
        "lawsuit",
        "lawsuits",
        "litigation",
        "investigation",
        "probe",
        "fraud",
        "recall",
        "recalls",
        "warning",
        "warns",
        "warned",
        "bankruptcy",
        "default",
        "defaults",
        "impairment",
        "restatement",
        "penalty",
        "penalties",
        "fine",
        "fined",
        "delay",
        "delays",
        "delayed",
        "disappoint",
        "disappoints",
        "disappointing",
        "disappointed",
        "concern",
        "concerns",
        "adverse",
        "negative",
        "pessimistic",
        "bearish",
        "slowdown",
        "shortfall",
        "crisis",
        "halt",
        "halted",
        "suspend",
        "suspended",
        "volatile",
        "selloff",
        "sell-off",
        "worst",
        "underperform",
        "underperforms",
        "underperformed",
        "risk",
        "risks",
    ]
)
UNCERTAINTY = frozenset(
    [
        "may",
        "might",
        "could",
        "uncertain",
        "uncertainty",
        "unclear",
        "approximately",
        "possible",
        "possibly",
        "risk",
        "risks",
        "volatile",
        "volatility",
        "unknown",
        "pending",
        "depend",
        "depends",
        "rumor",
        "rumors",
        "speculation",
    ]
)
NEGATIONS = frozenset({"not", "no", "never", "without", "neither", "nor", "fails", "failed"})
_WORD = re.compile(r"[a-z][a-z\-']*")


@dataclass(frozen=True)
class Sentiment:
    score: float  # -1 (all negative) .. +1 (all positive); 0 with no sentiment words
    positive: int
    negative: int
    uncertain: int

    @property
    def label(self) -> str:
        if self.score > 0.15:
            return "positive"
        if self.score < -0.15:
            return "negative"
        return "neutral"


def score_text(text: str) -> Sentiment:
    """Count polarity words; a negation in the three words before flips a word's polarity."""
    words = _WORD.findall(text.lower())
    pos = neg = unc = 0
    for i, word in enumerate(words):
        negated = any(w in NEGATIONS for w in words[max(0, i - 3) : i])
        if word in UNCERTAINTY:
            unc += 1
        if word in POSITIVE:
            pos, neg = (pos, neg + 1) if negated else (pos + 1, neg)
        elif word in NEGATIVE:
            pos, neg = (pos + 1, neg) if negated else (pos, neg + 1)
    total = pos + neg
    return Sentiment((pos - neg) / total if total else 0.0, pos, neg, unc)


def score_headlines(headlines: list[str]) -> tuple[float, list[Sentiment]]:
    """Mean score over headlines that carry sentiment words (0.0 when none do)."""
    scores = [score_text(h) for h in headlines]
    carrying = [s.score for s in scores if s.positive + s.negative]
    return (sum(carrying) / len(carrying) if carrying else 0.0), scores
