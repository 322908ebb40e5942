"""The allowlist gate: a narrative sentence is published only if it restates the facts.

A report's narrative is written by a language model from the fact sentences of
:mod:`agent_graph.statements`. Each sentence it writes is admitted only when every signal agrees:

* **form**: a plain statement (no markup, no question, no first or second person chatter);
* **numbers**: none (the writer is given fact sentences without numbers), and a number word only
  where the fact it restates uses it;
* **words**: every content word is licensed by the facts, itself or through a paraphrase class
  of :mod:`agent_graph.lexicon`; an entity, event, person, date, number word, cause or opinion
  that the facts do not contain is not, whatever its kind;
* **meaning**: the sentence is close, by MiniLM cosine similarity, to a fact (or a pair of facts,
  for a sentence that joins two);
* **values**: what it says about each attribute (the move's direction and size, the band, the
  stance, skill, relative strength, volatility, volume, news, RSI, MACD, drift, time) is what
  the facts say, negations read per word; it says what its closest fact says; a cause, or a link
  between two facts, only where one fact states it;
* **claims**: the claim reader (:mod:`agent_graph.claims`) finds nothing the facts do not allow.

The gate never repairs a sentence: it admits or drops it, and says why. Whatever the admitted
sentences do not restate is said by the fact's own code-written sentence (:func:`assemble`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from agent_graph.facts import Facts
from agent_graph.lexicon import (
    CAUSAL_STEMS,
    CERTAINTY_STEMS,
    NEGATION_STEMS,
    NUMBER_WORDS,
    SURFACE_CONCEPTS,
    concepts_of,
    is_free,
    normalize,
    stem,
    tokens,
)
from agent_graph.numbers import Evidence, check_numbers, sentences
from agent_graph.statements import Fact
from agent_graph.tools.base import ToolResult

# A sentence restates a fact when its embedding is at least this close to the fact's (or to the
# mean of two facts' embeddings, for a sentence that joins them).
SIMILARITY_MIN = 0.45
# A sentence that states none of its closest fact's values (the fact has none, as advice, or
# the sentence restates a clause without one) must be this close to it in meaning.
CONTENT_SIMILARITY_MIN = 0.65
# A sentence that states a cause must be this close to the fact that states the same cause.
CAUSAL_SIMILARITY_MIN = 0.7
MIN_WORDS = 3
_MARKUP = re.compile(r"[$<>\[\]{}`|\\#*_~^@]|https?:|www\.")
# The assistant speaking to its user; the report's own voice ("we hold a bearish view") is fine.
_PERSONAL = frozenset({"i", "me", "my", "mine", "you", "your", "yours"})
_NO_NUMBERS = Evidence.of((), ())
_CLAUSE = re.compile(
    r"\s*[;:]\s*|\s+\u2014\s+|\s+-\s+|,?\s+(?:but|while|whereas|although|though)\s+"
    r"|,\s+(?:and|so|as|yet|with)\s+|\s+and\s+(?=(?:the|its|it|trading|volatility|volume|news|"
    r"recent|headlines|momentum|macd|rsi|data)\b)",
    re.I,
)
# A claim the reader finds counts only if the sentence names its topic (the reader sometimes
# takes "the report takes a bullish stance" for a claim about news).
CLAIM_VOCABULARY = {
    "news": frozenset({"news", "tone"}),
    "volatility": frozenset({"volatility"}),
    "volume": frozenset({"volume"}),
    "skill": frozenset({"beat", "naive", "tested", "significant", "unknown", "accuracy"}),
    "direction": frozenset({"up", "down", "flat", "bullish", "bearish", "neutral", "move"}),
    "certainty": frozenset({"certainty"}),
}


# The value rules' attributes for each kind of the claim reader.
CLAIM_ATTRIBUTES = {
    "news": {"news"},
    "volatility": {"volatility"},
    "volume": {"volume"},
    "direction": {"move", "stance"},
    "skill": {"skill"},
}
# Where a sentence may join facts: a comma, a semicolon, or a word that only adds one to another.
_JOIN = re.compile(
    r"\s*[,;:]\s*|\s+(?:and|or|nor|with|while|but|whereas|although|though|yet|plus|"
    r"as well as|alongside|together with|even as|within|inside|around|amid)\s+",
    re.I,
)


def invented_links(sentence: str, grounds: Grounds) -> bool:
    """Whether a part of the sentence, between joining words, states values of two facts that
    no one fact holds together: a link ("headlines are behind the underperformance") that the
    facts do not make."""
    for part in _JOIN.split(sentence):
        # Time and "not a target" go with any fact: they link nothing.
        content = {
            v for v in values_of(part, grounds.context.ticker) if v[0] not in {"time", "target"}
        }
        if len(content) < 2:
            continue
        holders = [values for values in grounds.values if content & values]
        if not any(content <= values for values in holders) and all(
            any(v in values for values in holders) for v in content
        ):
            return True
    return False


def names_topic(kind: str, text: str) -> bool:
    """Whether ``text`` names the topic of a claim of ``kind`` (kinds without a vocabulary:
    always): the reader's claims count only then."""
    vocabulary = CLAIM_VOCABULARY.get(kind)
    return vocabulary is None or bool(vocabulary & _claim_topics(text))


def _claim_topics(sentence: str) -> set[str]:
    """The concepts a sentence names, and "certainty" when it uses a word of certainty."""
    words = _words(sentence)
    found = {c for w in words for c in w.concepts}
    if any(w.stem in CERTAINTY_STEMS for w in words):
        found.add("certainty")
    return found


@dataclass(frozen=True)
class Word:
    text: str
    stem: str
    concepts: frozenset[str]
    segment: int = 0  # comma-delimited part of the clause: a negation reaches to its end
    exact: frozenset[str] = frozenset()  # concepts that list this very word


_SEGMENT = re.compile(r"\s*[,(]\s*")


def _words(text: str) -> list[Word]:
    out = []
    for segment, part_text in enumerate(_SEGMENT.split(normalize(text))):
        for token in tokens(part_text):
            for part in token.split("-"):
                if part:
                    s = stem(part)
                    exact = SURFACE_CONCEPTS.get(part, frozenset())
                    out.append(Word(part, s, concepts_of(s), segment, exact))
    return out


def _has(words: Sequence[Word], concept: str) -> list[int]:
    return [i for i, w in enumerate(words) if concept in w.concepts]


def _negated(words: Sequence[Word]) -> bool:
    return any(w.stem in NEGATION_STEMS for w in words)


def _negated_at(words: Sequence[Word], i: int) -> bool:
    """Whether a negation before word ``i``, in its comma-delimited part, governs it."""
    return any(w.stem in NEGATION_STEMS for w in words[:i] if w.segment == words[i].segment)


def _negated_near(words: Sequence[Word], i: int, window: int = 3) -> bool:
    """A negation among the few words before word ``i`` ("no backtest", not "no edge over the
    naive forecast in its backtest")."""
    return any(w.stem in NEGATION_STEMS for w in words[max(0, i - window) : i])


_CONJUNCTIONS = frozenset({"and", "but", "or", "while", "whilst", "yet"})


def _governed(words: Sequence[Word], i: int) -> bool:
    """Negated before word ``i`` in its part, or after it up to the next conjunction ("checks
    have not been run", but not "checked and none was found")."""
    if _negated_at(words, i):
        return True
    for w in words[i + 1 :]:
        if w.segment != words[i].segment or w.stem in _CONJUNCTIONS:
            return False
        if w.stem in NEGATION_STEMS:
            return True
    return False


def _nearest(position: int, heads: dict[str, list[int]], words: Sequence[Word] = ()) -> str | None:
    """The head (attribute) nearest to a value word, preferring one in the same comma-delimited
    part; a head after the word wins a tie, since a modifier comes before its noun ("a moderate
    band", "a small fall")."""
    best, where = None, float("inf")
    for name, spots in heads.items():
        for h in spots:
            distance = abs(position - h) + (0.5 if h < position else 0.0)
            if words and words[h].segment != words[position].segment:
                distance += 100.0
            if distance < where:
                best, where = name, distance
    return best


_TICKERISH = frozenset({"stock", "share", "compani", "it"})
_LEVELS = {
    "high": "high",
    "low": "low",
    "normal": "normal",
    "unusual": "unusual",
    "middle": "middle",
    "overbought": "overbought",
    "oversold": "oversold",
}
_TONES = {
    "good": "positive",
    "bad": "negative",
    "bullish": "positive",
    "bearish": "negative",
    "neutral": "neutral",
}
_MATCH = frozenset(
    stem(w) for w in ("match", "matched", "matches", "mirrored", "tracked", "consistent")
)
_PENDING = frozenset({"until", "yet", "pend", "await"})
_RARELY = frozenset({"rarely", "seldom", "never", "hardly"})
_INTENSIFIERS = frozenset(
    {"very", "strongly", "highly", "extremely", "firmly", "mildly", "slightly", "cautiously"}
)
_WORSE = frozenset({"worse", "underperformed", "underperforms", "underperform", "trailed", "lost"})
_FREQUENCY = _RARELY | {"often", "usually", "frequently", "mostly", "regularly", "always"}
_UNCHECKED = frozenset(stem(w) for w in ("unchecked", "unassessed", "unexamined", "unmeasured"))


def clause_values(clause: str, ticker: str = "") -> set[tuple[str, str]]:
    """(attribute, value) pairs that one clause states."""
    words = _words(clause)
    if not words:
        return set()
    symbol = ticker.lower()
    neg = _negated(words)
    found: set[tuple[str, str]] = set()
    heads = {
        "band": _has(words, "band"),
        "volatility": _has(words, "volatility"),
        "volume": _has(words, "volume"),
        "news": _has(words, "news"),
        "rsi": _has(words, "rsi"),
        "macd": _has(words, "macd") + _has(words, "momentum"),
        "index": _has(words, "index"),
        "naive": _has(words, "naive"),
        "drift": _has(words, "drift"),
        "stance": _has(words, "stance"),
    }
    present = {k: v for k, v in heads.items() if v}
    level_heads = {k: present[k] for k in ("volatility", "volume", "rsi") if k in present}
    tone_heads = {k: present[k] for k in ("news", "macd", "stance") if k in present}
    moves = _move_spots(words)
    # Level words (high, low, normal, unusual ...) bind, one by one, to the nearest head that
    # takes them; tone words (positive, bearish ...) to news, MACD or the stance.
    for i, w in enumerate(words):
        negated = _negated_at(words, i)
        levels = [_LEVELS[c] for c in w.exact if c in _LEVELS]
        if (
            levels
            and level_heads
            and not (
                {"up", "down"} & w.concepts
                and _nearest(i, {**level_heads, "move": moves}, words) == "move"
            )
        ):
            value, target = levels[0], _nearest(i, level_heads, words)
            if target == "volatility" and value in {"high", "low", "normal"}:
                found.add(("volatility", value + ("-not" if negated else "")))
            elif target == "volume" and value in {"high", "low"}:
                # "Unusually low": a direction the facts ("unusual") do not give.
                found.add(("volume", value + ("-not" if negated else "")))
            elif target == "volume" and value in {"unusual", "normal"}:
                unusual = value != "normal"
                found.add(("volume", "unusual" if unusual != negated else "normal"))
            elif target == "rsi":
                v = {"high": "overbought", "low": "oversold", "normal": "middle"}.get(value, value)
                found.add(("rsi", v + ("-not" if negated else "")))
        tones = [_TONES[c] for c in sorted(w.exact) if c in _TONES]
        if tones:
            # "A very bullish stance", "strongly positive headlines": a degree no fact gives.
            degree = "-by-degree" if i and words[i - 1].text in _INTENSIFIERS else ""
            value = tones[0] + degree
            target = _nearest(i, tone_heads, words) if tone_heads else "stance"
            if target == "news":
                found.add(("news", value + ("-not" if negated else "")))
            elif target == "macd":
                flipped = {"positive": "negative", "negative": "positive"}.get(value, value)
                found.add(("macd", flipped if negated else value))
            else:
                stance = {"positive": "bullish", "negative": "bearish"}.get(value, value)
                found.add(("stance", stance + ("-not" if negated else "")))
    if "macd" in present and not any(a == "macd" for a, _ in found):
        ups, downs = _has(words, "up"), _has(words, "down")
        if ups and not downs:
            found.add(("macd", "negative" if _negated_at(words, ups[0]) else "positive"))
        elif downs and not ups:
            found.add(("macd", "positive" if _negated_at(words, downs[0]) else "negative"))
    # "The RSI is mid-range and rising": a direction of the indicator that no fact gives.
    if "rsi" in present:
        rsi_heads = {"rsi": present["rsi"], "move": _has(words, "expect") + _has(words, "move")}
        for i in _has(words, "up") + _has(words, "down"):
            if _nearest(i, rsi_heads, words) == "rsi" and not {"high", "low"} & words[i].exact:
                found.add(("rsi", "moving"))
    # News: present with a tone (above), or absent.
    if "news" in present and not any(a == "news" for a, _ in found):
        found.add(("news", "absent" if neg else "present"))
    # The band's width.
    if "band" in present and "rsi" not in present:
        moving = sorted({*moves, *_has(words, "move")})
        near = {"band": present["band"], **({"move": moving} if moving else {})}
        for concept, value in (
            ("wide", "wide"),
            ("narrow", "narrow"),
            ("moderate", "moderate"),
            ("large", "wide"),
            ("small", "narrow"),
        ):
            for i in _has(words, concept):
                if _nearest(i, near, words) == "band":
                    found.add(("band", value + ("-not" if _negated_at(words, i) else "")))
    # The price's move: direction, then size.
    blockers = {"index", "naive", "volatility", "volume", "macd", "rsi"}
    if moves and not (blockers & set(present)):
        ups = [i for i in moves if "up" in words[i].concepts and "down" not in words[i].concepts]
        downs = [i for i in moves if "down" in words[i].concepts and "up" not in words[i].concepts]
        flats = [i for i in moves if "flat" in words[i].concepts]
        if ups and not downs:
            found.add(("move", "flat" if _negated_at(words, ups[0]) else "up"))
        elif downs and not ups:
            found.add(("move", "flat" if _negated_at(words, downs[0]) else "down"))
        elif ups and downs:
            found.add(("move", "either"))
        elif flats or (neg and _has(words, "move")):
            found.add(("move", "flat"))
        moving = sorted({*moves, *_has(words, "move")})
        near = {"move": moving, **({"band": present["band"]} if "band" in present else {})}
        flat = ("move", "flat") in found
        for concept in ("small", "moderate", "large"):
            for i in _has(words, concept):
                if _nearest(i, near, words) == "move" and not (concept == "small" and flat):
                    found.add(("size", concept))
    # Skill: better than the naive forecast (or not), or unknown.
    beats = [i for i in _has(words, "beat") if "index" not in present]
    # "More accurate than the naive forecast" claims an edge; "how accurate" does not.
    compared = [i for i in _has(words, "accuracy") if i and words[i - 1].stem in {"more", "less"}]
    if "index" not in present:
        beats += compared
    worse_words = any(words[i - 1].stem == "less" for i in compared)
    # "Did worse than the naive forecast": a loss, where "no edge" is only not a win.
    if (
        "naive" in present
        and "index" not in present
        and (worse_words or any(w.text in _WORSE for w in words))
    ):
        found.add(("skill", "lost"))
    pending = any(w.stem in _PENDING for w in words)  # "until it is backtested"
    unknown = _has(words, "unknown")
    # "Not checked" is about the model's accuracy only when drift is not what is unchecked.
    tests = _has(words, "tested") + ([] if "drift" in present else _has(words, "check"))
    untested = any(_negated_at(words, i) for i in tests) or (pending and bool(tests))
    if unknown or (untested and not beats):
        found.add(("skill", "unknown"))
    elif beats and ("naive" in present or _has(words, "significant") or _has(words, "tested")):
        negated = _negated_at(words, beats[0]) or worse_words
        found.add(("skill", "worse" if negated else "better"))
        if any(not _negated_near(words, i) for i in tests):
            found.add(("skill", "tested"))  # "no edge in its backtest": it says there was one
    elif (signif := _has(words, "significant")) and "index" not in present:
        found.add(("skill", "worse" if _negated_at(words, signif[0]) else "better"))
    elif _has(words, "tested") and "index" not in present:
        found.add(("skill", "tested"))  # "the model is backtested": it says it was
    # Price swings against recent history: the facts say they may exceed it, when they do.
    if "volatility" in present and (beyond := _has(words, "exceed")):
        found.add(("swings", "exceed-not" if _negated_at(words, beyond[0]) else "exceed"))
    # How often outcomes land outside the band: the facts give about one time in five.
    if any(w.text in {"outside", "beyond"} for w in words):
        often = {w.text for w in words} & _FREQUENCY
        expected = _has(words, "expect")
        if often:
            found.add(("outside", "rarely" if often & _RARELY else "often"))
        elif any(w.text == "within" for w in words):
            found.add(("outside", "within"))  # "outside it ... within it": a contradiction
        elif expected and _negated_at(words, expected[0]):
            found.add(("outside", "rarely"))  # "outcomes outside it are not expected"
    # A target: the facts say the forecast is not one.
    if targets := _has(words, "target"):
        found.add(("target", "no" if _negated_at(words, targets[0]) else "yes"))
    # Relative strength against the index: who leads, whichever is named first.
    if "index" in present:
        outs, unders = _has(words, "outperform"), _has(words, "underperform")
        if outs or unders:
            leads = bool(outs) and not unders
            stocks = [i for i, w in enumerate(words) if w.stem in _TICKERISH or w.text == symbol]
            if stocks and present["index"][0] < stocks[0]:
                leads = not leads  # "the index outperformed the stock"
            if _negated_at(words, (outs or unders)[0]):
                leads = not leads
            # "Trailed the index only slightly": a margin the facts do not give.
            near = {"relative": outs + unders, "move": moves, "band": present.get("band", [])}
            margin = any(
                {"small", "moderate", "large"} & w.exact and _nearest(i, near, words) == "relative"
                for i, w in enumerate(words)
            )
            lead = "outperformed" if leads else "underperformed"
            found.add(("relative", lead + ("-by-margin" if margin else "")))
        elif matches := [i for i, w in enumerate(words) if w.stem in _MATCH]:
            # "Roughly matched the index": a tie, which no fact states.
            found.add(("relative", "differed" if _negated_at(words, matches[0]) else "matched"))
    # "The recent data no longer matches the training data" says it drifted.
    matched = False
    if "drift" not in present and _has(words, "train"):
        matches = [i for i, w in enumerate(words) if w.stem in _MATCH]
        if matches:
            present["drift"] = matches
            neg, matched = not _governed(words, matches[0]), True
    # Data drift: drifted, not drifted, or not checked.
    if "drift" in present:
        checks = _has(words, "check")
        # "Drift checks have not been run": the negation may follow the check word.
        if any(w.stem in _UNCHECKED for w in words) or any(_governed(words, i) for i in checks):
            found.add(("drift", "unchecked"))
        else:
            drifts = present["drift"]
            # Matching the training data is no drift; a denied match ("no longer matches") is.
            negated = (
                neg
                if matched
                else (any(_negated_at(words, i) for i in drifts) or (neg and not checks))
            )
            # "A slight drift": a degree the facts do not give.
            degree = any({"small", "moderate", "large"} & w.exact for w in words)
            found.add(
                ("drift", "none" if negated else "drifted-by-degree" if degree else "drifted")
            )
    # Time: "next week", "last month", "recent years".
    for i, w in enumerate(words):
        if "period" not in w.concepts:
            continue
        for j in range(max(0, i - 3), i):
            side = words[j].concepts & {"future", "past"}
            if side:
                unit = {
                    "day": "day",
                    "session": "day",
                    "week": "week",
                    "weekli": "week",
                    "month": "month",
                    "year": "year",
                }.get(w.stem, w.stem)
                when = next(iter(side))
                if when == "future" and unit == "day":
                    unit = "week"  # "the coming sessions" is the forecast's week
                found.add(("time", f"{when}:{unit}"))
                break
    return found


def _move_spots(words: Sequence[Word]) -> list[int]:
    return [
        i
        for i, w in enumerate(words)
        if {"up", "down", "flat"} & w.concepts and w.stem not in {"edg", "littl"}
    ]


def clauses(sentence: str) -> list[str]:
    return [c for c in (p.strip(" ,.") for p in _CLAUSE.split(sentence)) if c]


def values_of(text: str, ticker: str = "") -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for clause in clauses(text):
        out |= clause_values(clause, ticker)
    return out


@dataclass(frozen=True)
class SentenceVerdict:
    """The gate's decision on one generated sentence."""

    text: str
    admitted: bool
    reasons: tuple[str, ...]
    closest: str | None  # key of the fact it is closest to in meaning
    similarity: float
    covers: tuple[str, ...] = ()  # keys of the facts it restates

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "admitted": self.admitted,
            "reasons": list(self.reasons),
            "closest": self.closest,
            "similarity": round(self.similarity, 3),
            "covers": list(self.covers),
        }


@dataclass
class Grounds:
    """The facts a piece of narrative may restate, read once: their words, values, meaning."""

    facts: list[Fact]
    context: Facts
    tools: Sequence[ToolResult] = ()
    evidence: Evidence | None = None
    mask: tuple[str, ...] = ()
    stems: set[str] = field(init=False)
    concepts: set[str] = field(init=False)
    values: list[set[tuple[str, str]]] = field(init=False)
    causal: list[bool] = field(init=False)
    negated: list[bool] = field(init=False)
    vectors: np.ndarray | None = field(init=False, default=None)
    _claims: set[str] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        ticker = self.context.ticker
        self.stems = {stem(t) for t in [ticker, *self.mask] if t}
        self.concepts = set()
        self.values, self.causal, self.negated = [], [], []
        for fact in self.facts:
            words = _words(fact.text)
            self.stems |= {w.stem for w in words}
            for w in words:
                self.concepts |= w.concepts
            self.values.append(values_of(fact.text, ticker))
            self.causal.append(any(w.stem in CAUSAL_STEMS for w in words))
            self.negated.append(_negated(words))

    def claims(self) -> set[str]:
        """The claim reader's labels for the fact sentences themselves."""
        if self._claims is None:
            from agent_graph.claims import own_claims

            self._claims = set(own_claims([f.text for f in self.facts]))
        return self._claims

    def embed(self) -> np.ndarray:
        if self.vectors is None:
            self.vectors = _embed([f.text for f in self.facts])
        return self.vectors


def _embed(texts: list[str]) -> np.ndarray:
    from agent_graph.cache import embed_many

    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return np.asarray(embed_many(texts), dtype=np.float32)


_VALUE_CONCEPTS = frozenset(
    {*_LEVELS, *_TONES, "wide", "narrow", "moderate", "small", "large", "up", "down", "flat"}
)


# Classes licensed by a neighbour: a skill statement may speak of accuracy.
RELATED = {"accuracy": frozenset({"beat", "tested", "unknown", "significant"})}


def _consistent(value: str, allowed: set[str]) -> bool:
    """A value the facts state, or a denial ("high-not") of a value they do not state."""
    if value in allowed:
        return True
    return value.endswith("-not") and bool(allowed) and value.removesuffix("-not") not in allowed


def unlicensed_words(sentence: str, grounds: Grounds) -> list[str]:
    """Content words of ``sentence`` that neither the facts nor a paraphrase of them license."""
    out = []
    for clause in clauses(sentence):
        words = _words(clause)
        expects = any("expect" in w.concepts for w in words)
        for i, w in enumerate(words):
            if w.concepts & _VALUE_CONCEPTS and _negated_at(words, i):
                continue  # "neither high nor low": the value rules judge what is denied
            if w.text.isdigit() or (w.text in _PERSONAL and w.stem not in grounds.stems):
                if w.text in _PERSONAL:
                    out.append(w.text)
                continue
            if w.stem in CAUSAL_STEMS:
                continue  # judged against the fact the sentence restates (see _reasons)
            if w.stem in CERTAINTY_STEMS:
                if not (w.text == "will" and expects):
                    out.append(w.text)
                continue
            if w.stem in grounds.stems or is_free(w.stem):
                continue
            if w.concepts & grounds.concepts or any(
                RELATED.get(c, frozenset()) & grounds.concepts for c in w.concepts
            ):
                continue
            out.append(w.text)
    return list(dict.fromkeys(out))


class GroundingGate:
    """Admits the sentences that restate the grounds; see the module's docstring."""

    def __init__(self, similarity_min: float = SIMILARITY_MIN, use_claims: bool = True) -> None:
        self.similarity_min = similarity_min
        self.use_claims = use_claims

    def judge(self, text: str | Iterable[str], grounds: Grounds) -> list[SentenceVerdict]:
        items = sentences(text) if isinstance(text, str) else [s for s in text if s.strip()]
        if not items:
            return []
        vectors = _embed(items)
        facts = grounds.embed()
        pair_scores = _pair_similarity(vectors, facts)
        claim_problems = self._claim_problems(items, grounds)
        out = []
        for i, sentence in enumerate(items):
            single = vectors[i] @ facts.T if len(facts) else np.zeros(0)
            best = int(np.argmax(single)) if len(single) else -1
            similarity = float(single[best]) if best >= 0 else 0.0
            pair_best, pair = pair_scores[i]
            joined = pair if pair_best > similarity else ()
            reasons = self._reasons(sentence, grounds, single, max(similarity, pair_best), joined)
            reasons += claim_problems.get(sentence, [])
            closest = grounds.facts[best].key if best >= 0 else None
            covers = self._covers(sentence, grounds, best, pair if pair_best > similarity else ())
            out.append(
                SentenceVerdict(
                    sentence,
                    not reasons,
                    tuple(reasons),
                    closest,
                    max(similarity, pair_best),
                    covers,
                )
            )
        return out

    def _claim_problems(self, items: list[str], grounds: Grounds) -> dict[str, list[str]]:
        """Claims the reader finds in a sentence that the facts do not allow, unless the fact
        sentences themselves make the same claim (the reader reads words, and the facts' own
        words are true by construction: "MACD momentum is positive" is not a price call)."""
        if not self.use_claims:
            return {}
        from agent_graph.claims import claim_reader, contradiction

        own = grounds.claims()
        words = {s: _claim_topics(s) for s in items}
        read = {s: {a for a, _ in values_of(s, grounds.context.ticker)} for s in items}
        context = [f.text for f in grounds.facts]
        found: dict[str, list[str]] = {}
        for sentence, claims in claim_reader().read_sentences(" ".join(items), context):
            for claim in claims:
                if claim.kind == "topic" or claim.label in own:
                    continue  # the words and meaning checks judge what a sentence is about
                vocabulary = CLAIM_VOCABULARY.get(claim.kind)
                if vocabulary and not vocabulary & words.get(sentence, set()):
                    continue  # the reader guessed the topic from words that do not name it
                if CLAIM_ATTRIBUTES.get(claim.kind, set()) & read.get(sentence, set()):
                    continue  # the value rules read this attribute themselves: they decide
                why = contradiction(claim, grounds.context, grounds.tools)
                if why:
                    found.setdefault(sentence, []).append(f"claim: {why}")
        return found

    @staticmethod
    def _restated(
        said: set[tuple[str, str]], grounds: Grounds, single: np.ndarray, pair: tuple[int, ...]
    ) -> list[int]:
        """The facts a sentence restates: the closest in meaning, the pair it may join, and
        every fact one of whose values (other than time) it states."""
        found = [int(np.argmax(single))] if len(single) else []
        found += list(pair)
        content = {v for v in said if v[0] != "time"}
        found += [i for i, values in enumerate(grounds.values) if content & values]
        return list(dict.fromkeys(found))

    def _reasons(
        self,
        sentence: str,
        grounds: Grounds,
        single: np.ndarray,
        similarity: float,
        pair: tuple[int, ...] = (),
    ) -> list[str]:
        reasons: list[str] = []
        best = int(np.argmax(single)) if len(single) else -1
        words = _words(sentence)
        if _MARKUP.search(sentence):
            reasons.append("markup or symbols")
        if "?" in sentence:
            reasons.append("a question, not a statement")
        if len(words) < MIN_WORDS:
            reasons.append("a fragment")
        elif not sentence[:1].isupper() and not sentence[:1].isdigit():
            reasons.append("not a whole sentence (starts in lower case)")
        # The writer is given fact sentences without numbers: any number it writes is its own,
        # even one that happens to match a figure of the report.
        numbers = [c.text for c in check_numbers(sentence, _NO_NUMBERS, grounds.mask)]
        if numbers:
            reasons.append("numbers it was not given: " + ", ".join(numbers))
        extra = unlicensed_words(sentence, grounds)
        if extra:
            reasons.append("adds words the facts do not license: " + ", ".join(extra[:6]))
        if similarity < self.similarity_min:
            reasons.append(f"restates no fact (similarity {similarity:.2f})")
        said = values_of(sentence, grounds.context.ticker)
        restated = self._restated(said, grounds, single, pair)
        allowed: dict[str, set[str]] = {}
        for i in restated:
            for attribute, value in grounds.values[i]:
                allowed.setdefault(attribute, set()).add(value)
        everywhere = {a for values in grounds.values for a, _ in values}
        restated_words = {w.text for i in restated for w in _words(grounds.facts[i].text)}
        invented = [
            w.text for w in words if w.text in NUMBER_WORDS and w.text not in restated_words
        ]
        if invented:
            reasons.append("number words its facts do not use: " + ", ".join(invented))
        for attribute, value in sorted(said):
            if attribute not in allowed and attribute not in everywhere:
                reasons.append(f"states {attribute} ({value}), which the facts do not")
            elif not _consistent(value, allowed.get(attribute, set())):
                facts_say = "/".join(sorted(allowed.get(attribute, set()))) or "nothing"
                reasons.append(
                    f"says {attribute} is {value}; the facts it restates say {facts_say}"
                )
        if best >= 0:
            # It must say what its closest fact says: one of its values, or most of its meaning.
            states = any(
                {v for v in grounds.values[i] if v[0] != "time"} & said for i in (best, *pair)
            )
            if not states and similarity < CONTENT_SIMILARITY_MIN:
                reasons.append("says none of what its closest fact says")
        if any(w.stem in CAUSAL_STEMS for w in words):
            # A cause only as one fact states it: everything the sentence says is in that fact.
            content = {v for v in said if v[0] != "time"}
            stated_as_cause = (
                grounds.causal[i]
                and content <= grounds.values[i]
                and single[i] >= CAUSAL_SIMILARITY_MIN
                for i in range(len(grounds.facts))
            )
            if not any(stated_as_cause):
                reasons.append("states a cause the facts do not")
        if invented_links(sentence, grounds):
            reasons.append("links facts that the facts do not link")
        if best >= 0 and _negated(words) and not grounds.negated[best] and not said:
            reasons.append("negates what the facts say")
        return reasons

    @staticmethod
    def _covers(
        sentence: str, grounds: Grounds, best: int, pair: tuple[int, ...]
    ) -> tuple[str, ...]:
        said = values_of(sentence, grounds.context.ticker)
        keys = [grounds.facts[i].key for i in (best, *pair) if i >= 0]
        for fact, values in zip(grounds.facts, grounds.values, strict=True):
            if values and values <= said | {v for v in values if v[0] == "time"}:
                keys.append(fact.key)
        return tuple(dict.fromkeys(keys))


def _pair_similarity(vectors: np.ndarray, facts: np.ndarray) -> list[tuple[float, tuple[int, int]]]:
    """For each sentence, its best similarity to the normalised mean of two facts, and which."""
    n = len(facts)
    if n < 2:
        return [(0.0, ())] * len(vectors)  # type: ignore[list-item]
    index = [(i, j) for i in range(n) for j in range(i + 1, n)]
    means = np.stack([facts[i] + facts[j] for i, j in index])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    scores = vectors @ means.T
    out = []
    for row in scores:
        k = int(np.argmax(row))
        out.append((float(row[k]), index[k]))
    return out


@dataclass(frozen=True)
class Sentence:
    """One published narrative sentence: who wrote it and which facts it restates."""

    text: str
    source: str  # "model" (admitted by the gate) or "code" (a fact sentence)
    restates: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {"text": self.text, "source": self.source, "restates": list(self.restates)}


def assemble(facts: Sequence[Fact], verdicts: Sequence[SentenceVerdict]) -> list[Sentence]:
    """The slot's published sentences, in the facts' order: each fact is stated once, by the
    first admitted sentence that restates it, else by its own code-written sentence."""
    admitted = [v for v in verdicts if v.admitted]
    used: set[int] = set()
    stated: set[str] = set()
    out: list[Sentence] = []
    for fact in facts:
        if fact.key in stated:
            continue
        pick = next(
            (i for i, v in enumerate(admitted) if i not in used and fact.key in v.covers), None
        )
        if pick is None:
            out.append(Sentence(fact.text, "code", (fact.key,)))
            stated.add(fact.key)
            continue
        used.add(pick)
        verdict = admitted[pick]
        keys = tuple(k for k in verdict.covers if k in {f.key for f in facts})
        out.append(Sentence(verdict.text, "model", keys))
        stated |= set(keys)
    return out
