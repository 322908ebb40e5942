"""What the narrative of a report claims, read by meaning, and whether the facts allow it.

A sentence is cut into clauses (at ``;`` and at joining words such as ``but`` or
``, and``); each clause is embedded with the MiniLM model the semantic cache already ships and
classified by a logistic regression fitted on labelled prototype sentences
(:mod:`agent_graph.claim_prototypes`): one ``kind:value`` label or ``none``, and a second label
of another kind when it is nearly as probable.

Kinds and what the facts allow (:func:`contradiction`):

* ``direction`` (up / down / flat): only the fact-derived stance (bullish / bearish / neutral).
* ``skill`` (claimed / denied): claimed only when the backtest shows significant skill over
  naive, denied only when it does not.
* ``certainty``: never; no forecast is certain.
* ``news`` (positive / negative / mention / absent): only when a news source ran, in its tone;
  "no news" only when none ran.
* ``volatility`` (high / low / normal) and ``volume`` (unusual / normal): only what the market
  tools found, and nothing when they did not run.
* ``topic`` (off): never; text about nothing in the report (assistant chatter, essays, unrelated
  events) is not analysis, however harmless it reads.

Embeddings keep the meaning of paraphrases that keyword lists miss ("an optimistic outlook",
"predictions with high accuracy"); on their own they weigh a decisive word ("not", "normal")
lightly against the topic, which is why a classifier is fitted on near pairs across values
rather than taking the nearest prototype. How well this works is measured on a regression set
of planted contradictions (``bench/bench_claims.py``), not assumed.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from agent_graph.claim_prototypes import PROTOTYPES
from agent_graph.claim_values import STANCE_WORDS, value_of, words
from agent_graph.facts import Facts
from agent_graph.llm import default_cache_dir
from agent_graph.numbers import sentences
from agent_graph.report import brief
from agent_graph.tools.base import ToolResult, ran

log = logging.getLogger(__name__)

KINDS = ("direction", "skill", "certainty", "news", "volatility", "volume", "topic")
# A clause is about a kind when the kind's labels together are at least this probable; the two
# most probable kinds count ("an optimistic outlook is a testament to its high accuracy" claims
# direction and skill at once).
MIN_PROBABILITY = 0.3
# With no word that decides the value, the classifier's value counts only at this confidence.
FALLBACK_PROBABILITY = 0.6
# Kinds whose value only words decide: "the model is cautious" is about the model, not a claim
# of skill, and the classifier alone cannot tell the two apart.
WORDS_DECIDE = frozenset({"skill"})
# A clause whose best cosine similarity to the brief and to every report-like prototype is below
# this is about something else (measured: the drivel of the local model scores 0.22-0.40, the
# clean cases of the regression set 0.32 and up).
GROUNDED_MIN = 0.30
OFF_TOPIC = "topic:off"
# Inverse regularisation of the classifier: prototypes are few, so keep the weights small.
REGULARISATION_C = 32.0

_CLAUSE = re.compile(
    r"\s*;\s*|,?\s+(?:but|while|whereas|although|though|yet)\s+|,\s+(?:and|so|as)\s+",
    re.I,
)


@dataclass(frozen=True)
class Claim:
    kind: str
    value: str
    clause: str
    score: float  # the kind's probability; for ungrounded text, its best cosine similarity

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.value}"


def clauses(sentence: str) -> list[str]:
    """The clauses of one sentence, each long enough to claim something."""
    plain = sentence.replace("*", "")
    parts = [p.strip(" ,.") for p in _CLAUSE.split(plain)]
    return [p for p in parts if len(p.split()) >= 2]


class ClaimReader:
    """A linear classifier over MiniLM embeddings, fitted on the prototypes once per process;
    safe to share between threads."""

    def __init__(
        self, prototypes: dict[str, tuple[str, ...]] = PROTOTYPES, cache_dir: Path | None = None
    ) -> None:
        self.prototypes = prototypes
        self.cache_dir = cache_dir
        self.labels: list[str] = sorted(prototypes)
        self._model: Any = None
        self._report_like: np.ndarray = np.empty((0, 0))
        self._lock = threading.Lock()

    def load(self) -> None:
        """Embed the prototypes and fit the classifier (a few seconds on one core, once)."""
        with self._lock:
            if self._model is not None:
                return
            from sklearn.linear_model import LogisticRegression

            texts = [t for label in self.labels for t in self.prototypes[label]]
            y = [label for label in self.labels for _ in self.prototypes[label]]
            model = LogisticRegression(C=REGULARISATION_C, max_iter=5000, class_weight="balanced")
            matrix = self._prototype_embeddings(texts)
            model.fit(matrix, y)
            self._report_like = matrix[[label != OFF_TOPIC for label in y]]
            self.labels = list(model.classes_)
            self._model = model

    def _prototype_embeddings(self, texts: list[str]) -> np.ndarray:
        """Embeddings of the prototypes, kept per machine beside the converted LLM: embedding
        them takes seconds on one core, reading them back milliseconds. The file name holds a
        digest of the texts, so an edited prototype is embedded afresh."""
        digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
        path = (self.cache_dir or default_cache_dir()) / f"claim-prototypes-{digest}.npy"
        try:
            matrix = np.load(path)
            if matrix.shape[0] == len(texts):
                return matrix
        except (OSError, ValueError):
            pass  # not there yet, or unreadable: embed again
        matrix = _embed_many(texts)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npy", delete=False) as f:
                np.save(f, matrix)
            Path(f.name).replace(path)  # whole or absent, whoever writes at the same time
        except OSError:
            log.warning("Could not keep the claim prototypes' embeddings in %s", path.parent)
        return matrix

    def read_sentences(
        self, text: str, context: Sequence[str] = ()
    ) -> list[tuple[str, list[Claim]]]:
        """Every sentence of ``text`` with its claims, clause by clause, in order.

        ``context``: what the writer was told (the report's brief). A clause close to neither
        the brief nor anything a report says (the prototypes other than off-topic text) is
        off-topic too: the classifier knows only the drivel it was shown, this knows the rest.
        """
        self.load()
        split = [(s, clauses(s)) for s in sentences(text)]
        parts = [c for _, cs in split for c in cs]
        if not parts:
            return [(s, []) for s, _ in split]
        clause_vectors = _embed_many(parts)
        reference = np.vstack([self._report_like, *_embed_context(tuple(context))])
        grounding = (clause_vectors @ reference.T).max(axis=1)
        probabilities = self._model.predict_proba(clause_vectors)
        rows = iter(zip(probabilities, grounding, strict=True))
        out = []
        for sentence, cs in split:
            found: list[Claim] = []
            for clause in cs:
                row, grounded = next(rows)
                claims = self._claims(clause, row)
                if grounded < GROUNDED_MIN and not any(c.kind == "topic" for c in claims):
                    claims.append(Claim("topic", "off", clause, round(float(grounded), 3)))
                found += claims
            out.append((sentence, found))
        return out

    def read(self, text: str, context: Sequence[str] = ()) -> list[Claim]:
        """Every claim of ``text``, in order."""
        return [c for _, claims in self.read_sentences(text, context) for c in claims]

    def _claims(self, clause: str, row: np.ndarray) -> list[Claim]:
        by_label = dict(zip(self.labels, row, strict=True))
        topic = {k: sum(p for lab, p in by_label.items() if lab.startswith(k + ":")) for k in KINDS}
        ranked = sorted(KINDS, key=lambda k: -topic[k])[:2]
        kinds = [k for k in ranked if topic[k] >= MIN_PROBABILITY]
        # A certainty or stance word claims it whatever the clause is about.
        if "certainty" not in kinds and value_of("certainty", clause) == "certain":
            kinds.append("certainty")
        if "direction" not in kinds and any(w in STANCE_WORDS for w in words(clause)):
            kinds.append("direction")
        found = []
        for kind in kinds:
            value = value_of(kind, clause)
            if value == "":
                continue  # a hedge: "far from certain"
            if value is None:
                if kind in WORDS_DECIDE or topic[kind] < FALLBACK_PROBABILITY:
                    continue  # no word decides the value, and the classifier may not either
                own = {lab: p for lab, p in by_label.items() if lab.startswith(kind + ":")}
                value = max(own, key=lambda lab: own[lab]).split(":", 1)[1]
            found.append(Claim(kind, value, clause, round(float(topic[kind]), 3)))
        return found


def _embed_many(texts: list[str]) -> np.ndarray:
    from agent_graph.cache import embed_many

    return np.asarray(embed_many(texts), dtype=np.float32)


@lru_cache(maxsize=16)
def _embed_context(context: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    """Embeddings of a report's brief, reused by every read of the same report."""
    return (_embed_many(list(context)),) if context else ()


@lru_cache(maxsize=1)
def claim_reader() -> ClaimReader:
    """The process's reader (fitted on first use)."""
    from stock_assets.settings import Settings

    return ClaimReader(cache_dir=Settings().llm_cache_dir)


STANCE_OF = {"up": "bullish", "down": "bearish", "flat": "neutral"}
CALL = {"up": "upward call", "down": "downward call", "flat": "flat call"}


def contradiction(claim: Claim, facts: Facts, tools: Sequence[ToolResult]) -> str | None:
    """Why the facts do not allow ``claim``, or None when they do."""
    kind, value = claim.kind, claim.value
    if kind == "direction" and STANCE_OF[value] != facts.stance:
        return f"{CALL[value]} against a {facts.stance} stance"
    if kind == "skill":
        if value == "claimed" and facts.beats_naive is not True:
            return "skill the backtest does not show"
        if value == "denied" and facts.beats_naive is True:
            return "denies the skill the backtest shows"
    if kind == "certainty":
        return "certainty no forecast has"
    if kind == "topic":
        return "not about this stock, its forecast or its market"
    if kind == "news":
        news = ran(tools, "news_sentiment")
        if news is None and value != "absent":
            return "news, but no news source ran"
        if news is not None and value == "absent":
            return "says there is no news, but headlines were scored"
        if news is not None and value in ("positive", "negative") and news.data["label"] != value:
            return f"{value} news against {news.data['label']} headlines"
    if kind == "volatility":
        vol = ran(tools, "volatility_regime")
        if vol is None:
            return "volatility, but the regime was not measured"
        if vol.data["regime"] != value:
            return f"{value} volatility against a {vol.data['regime']} regime"
    if kind == "volume":
        volume = ran(tools, "volume_anomalies")
        if volume is None:
            return "volume, but it was not measured"
        unusual = volume.data["anomalies"] > 0
        if unusual != (value == "unusual"):
            return f"{value} volume, but {'unusual' if unusual else 'no unusual'} sessions found"
    return None


# Claims the facts never make, whatever the reader finds in their own sentences.
NEVER_ALLOWED = frozenset({"certainty", "topic"})


def own_claims(texts: Sequence[str], reader: ClaimReader | None = None) -> frozenset[str]:
    """The labels the reader finds in the fact sentences themselves. Those are true by
    construction, whatever the reader makes of their words ("MACD momentum is positive" reads
    as an upward call), so the same claim in a restatement is allowed; certainty and off-topic
    text never are."""
    found = (reader or claim_reader()).read(" ".join(texts))
    return frozenset(c.label for c in found if c.kind not in NEVER_ALLOWED)


def unsupported_claims(
    text: str, facts: Facts, tools: Sequence[ToolResult], reader: ClaimReader | None = None
) -> list[tuple[Claim, str]]:
    """(claim, reason) for each claim of ``text`` the facts do not allow."""
    found = (reader or claim_reader()).read(text, brief(facts, tools))
    return [(c, why) for c in found if (why := contradiction(c, facts, tools)) is not None]
