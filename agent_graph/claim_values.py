"""What a clause says about a topic, once the embeddings have found the topic.

MiniLM embeddings tell reliably what a clause is about (the model's skill, the price's direction,
volume) but weigh the one word that decides the value ("not", "normal", "calm") lightly. These
rules read that word: value cues per kind, negation within the four words before a cue, and the
few idioms whose negation is the claim ("no doubt", "cannot lose", "nothing out of the
ordinary"). A clause with no cue returns None and the classifier's own value is used.
"""

from __future__ import annotations

import re

from agent_graph.tools.sentiment import NEGATIONS, score_text

_WORD = re.compile(r"[a-z][a-z'\-]*")
NEGATORS = NEGATIONS | {"nothing", "nobody", "hardly", "cannot", "lacks", "lack", "none"}
_WINDOW = 4

# Idioms rewritten to one cue word before the words are read.
_IDIOMS = (
    (re.compile(r"\bfar from\b"), "not"),
    (re.compile(r"\b(?:no|without(?: a)?|beyond(?: any)?) (?:doubt|question)\b"), "certainly"),
    (re.compile(r"\b(?:cannot|can't|can not) (?:lose|fail|go wrong)\b"), "certainly"),
    (re.compile(r"\b(?:no|zero) (?:risk|chance of being wrong)\b|\brisk-free\b"), "certainly"),
    (re.compile(r"\bsure thing\b|\bbound to\b|\bcount on\b"), "certainly"),
    (
        re.compile(
            r"\bmake no mistake\b|\blocked in\b|\bforegone conclusion\b|\bdone deal\b|"
            r"\bslam dunk\b|\bno-brainer\b|\bset in stone\b|\brest assured\b|"
            r"\bmark my words\b|\bone hundred percent\b|\bbank on\b|"
            r"\bnothing (?:can|will|is going to) stop\b"
        ),
        "certainly",
    ),
    (re.compile(r"\bhit rate\b|\btrack record\b"), "skill"),
    (re.compile(r"\bremains? to be seen\b|\byet to be (?:tested|measured|proven)\b"), "unknown"),
    (re.compile(r"\b(?:more|fewer|less|greater|higher|lower) than (?:usual|normal)\b"), "unusual"),
    (re.compile(r"\bout of the ordinary\b|\bstood out\b|\bstand(?:s)? out\b"), "unusual"),
    (re.compile(r"\bin line with\b"), "normal"),
    (re.compile(r"\blittle change\b|\bno change\b|\bwhere it is\b|\btread water\b"), "flat"),
    (re.compile(r"\bon the cards\b"), ""),
)

CUES: dict[str, dict[str, frozenset[str]]] = {
    "direction": {
        "up": frozenset(
            {
                "rise",
                "rises",
                "rising",
                "rose",
                "climb",
                "climbs",
                "climbing",
                "gain",
                "gains",
                "rally",
                "rallies",
                "higher",
                "up",
                "upward",
                "upside",
                "bullish",
                "optimistic",
                "rebound",
                "advance",
                "advances",
                "recover",
                "recovery",
                "appreciate",
                "lift",
                "soar",
                "soars",
                "bulls",
                "buying",
                "buy",
                "increase",
                "increases",
                "constructive",
                "positive",
                "firm",
                "firms",
                "firming",
                "strengthen",
                "breakout",
                "upswing",
                "uptick",
                "recovering",
                "highs",
            }
        ),
        "down": frozenset(
            {
                "fall",
                "falls",
                "falling",
                "fell",
                "drop",
                "drops",
                "decline",
                "declines",
                "slide",
                "slides",
                "slip",
                "slips",
                "lower",
                "down",
                "downward",
                "downside",
                "bearish",
                "pessimistic",
                "dip",
                "losses",
                "loss",
                "lose",
                "retreat",
                "sell",
                "sell-off",
                "selloff",
                "plunge",
                "sink",
                "bears",
                "decrease",
                "weaken",
                "pullback",
                "correction",
                "negative",
                "soften",
                "softer",
                "ease",
                "eases",
                "slump",
                "tumble",
                "sag",
                "downturn",
                "downswing",
                "setback",
                "weaker",
                "lows",
                "weakness",
                "easing",
                "eased",
                "tumbles",
            }
        ),
        "flat": frozenset({"flat", "sideways", "unchanged", "steady", "range-bound", "stable"}),
    },
    "volatility": {
        "high": frozenset(
            {
                "high",
                "elevated",
                "volatile",
                "turbulent",
                "turbulence",
                "wild",
                "sharp",
                "sharply",
                "large",
                "big",
                "extreme",
                "surge",
                "surged",
                "jumped",
                "spiked",
                "choppy",
                "unstable",
                "erratic",
                "above",
                "violent",
                "violently",
                "whipsawing",
                "lurching",
            }
        ),
        "low": frozenset(
            {
                "low",
                "calm",
                "calmly",
                "quiet",
                "muted",
                "subdued",
                "small",
                "barely",
                "placid",
                "stable",
                "tame",
                "below",
                "depressed",
                "serene",
                "gentle",
                "tight",
                "narrow",
            }
        ),
        "normal": frozenset({"normal", "typical", "average", "usual", "ordinary", "moderate"}),
    },
    "volume": {
        "unusual": frozenset(
            {
                "unusual",
                "unusually",
                "abnormal",
                "abnormally",
                "spike",
                "spiked",
                "surge",
                "surged",
                "heavy",
                "heavier",
                "thin",
                "light",
                "dried",
                "collapsed",
                "exceptional",
                "burst",
                "jumped",
                "soared",
                "above",
                "below",
                "piled",
                "spikes",
                "ballooned",
                "swelled",
                "exploded",
                "frantic",
                "hectic",
                "frenzied",
            }
        ),
        "normal": frozenset(
            {"normal", "ordinary", "typical", "usual", "unremarkable", "average", "steady"}
        ),
    },
}
# Value precedence when cues of several values meet ("well above normal" is high).
_PRECEDENCE = {"volatility": ("high", "low", "normal"), "volume": ("unusual", "normal")}
# Words that state a stance whatever else the clause is about ("an optimistic outlook").
STANCE_WORDS = frozenset({"bullish", "bearish", "optimistic", "pessimistic"})
_CERTAIN = frozenset(
    {
        "certain",
        "certainly",
        "certainty",
        "guarantee",
        "guaranteed",
        "guarantees",
        "definitely",
        "surely",
        "assured",
        "sure",
        "inevitable",
        "undoubtedly",
        "absolutely",
        "confident",
    }
)
_NEWS_NOUNS = frozenset(
    {
        "news",
        "headline",
        "headlines",
        "coverage",
        "press",
        "reports",
        "announcement",
        "announcements",
    }
)
_SKILL_CLAIMS = frozenset(
    {
        "accurate",
        "accuracy",
        "accurately",
        "reliable",
        "reliably",
        "dependable",
        "trustworthy",
        "trusted",
        "precise",
        "precisely",
        "beat",
        "beats",
        "beaten",
        "outperform",
        "outperforms",
        "outperformed",
        "edge",
        "better",
        "skill",
        "skilful",
        "skillful",
        "proven",
        "excellent",
        "strong",
        "solid",
        "impressive",
        "trust",
        "spot",
        "nailed",
        "right",
        "correct",
        "correctly",
    }
)
_SKILL_DENIALS = frozenset(
    {
        "unproven",
        "unknown",
        "weak",
        "unreliable",
        "inaccurate",
        "poor",
        "doubtful",
        "questionable",
        "little",
    }
)


def words(clause: str) -> list[str]:
    text = clause.lower().replace("\u2019", "'")
    for pattern, word in _IDIOMS:
        text = pattern.sub(f" {word} " if word else " ", text)
    return _WORD.findall(text)


def _negated(tokens: list[str], i: int, window: int = _WINDOW) -> bool:
    before = tokens[max(0, i - window) : i]
    return any(w in NEGATORS or w.endswith("n't") for w in before)


def _found(tokens: list[str], cues: frozenset[str]) -> tuple[int, int]:
    """(plain, negated) occurrences of ``cues``."""
    plain = negated = 0
    for i, w in enumerate(tokens):
        if w in cues:
            if _negated(tokens, i):
                negated += 1
            else:
                plain += 1
    return plain, negated


def value_of(kind: str, clause: str) -> str | None:
    """The clause's value for ``kind`` from its words; "" when its words deny any claim of the
    kind (a hedge), None when they do not decide (the classifier's value stands)."""
    tokens = words(clause)
    if kind == "certainty":
        # Any negation before the word hedges it: "nothing about this outlook is guaranteed".
        hits = [i for i, w in enumerate(tokens) if w in _CERTAIN]
        if "uncertain" in tokens or any(_negated(tokens, i, len(tokens)) for i in hits):
            return ""
        return "certain" if hits else None
    if kind == "skill":
        denied = any(w in _SKILL_DENIALS for w in tokens) or any(
            w in NEGATORS or w.endswith("n't") for w in tokens
        )
        if denied:
            return "denied"
        return "claimed" if any(w in _SKILL_CLAIMS for w in tokens) else None
    if kind == "news":
        if any(w in _NEWS_NOUNS and _negated(tokens, i) for i, w in enumerate(tokens)):
            return "absent"
        sentiment = score_text(clause).label
        return sentiment if sentiment != "neutral" else None
    if kind == "direction":
        if any(w in STANCE_WORDS for w in tokens):
            up = any(w in STANCE_WORDS and w in CUES["direction"]["up"] for w in tokens)
            return "up" if up else "down"
        counts = {v: _found(tokens, cues)[0] for v, cues in CUES["direction"].items()}
        if counts["flat"] and not (counts["up"] or counts["down"]):
            return "flat"
        if counts["up"] != counts["down"]:
            return "up" if counts["up"] > counts["down"] else "down"
        return None
    if kind in _PRECEDENCE:
        for value in _PRECEDENCE[kind]:
            plain, negated = _found(tokens, CUES[kind][value])
            if plain:
                return value
            if negated and kind == "volume" and value == "unusual":
                return "normal"  # "nothing unusual", "not abnormal"
        return None
    return None
