"""The report's fixed sections: code writes every table, number and fact sentence; the model may
restate fact sentences in the narrative paragraphs, one admitted sentence at a time.

Every paragraph of a report records who wrote each of its sentences (``model`` or ``code``), so
the API and the front end can show it; model text is escaped before it enters the Markdown, so it
never turns into LaTeX, HTML, links or code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from agent_graph.facts import Facts
from agent_graph.grounding import Sentence
from agent_graph.numbers import sentences
from agent_graph.statements import Fact, all_facts, slot_facts
from agent_graph.tools.base import ToolResult, ran

SECTIONS: dict[str, str] = {
    "summary": "Summary",
    "forecast": "Forecast",
    "model_quality": "Model quality vs naive",
    "market_context": "Market context",
    "risks": "Risks",
    "disclaimer": "Disclaimer",
}
# Shown first, and only when the reader asked a question.
ANSWER_SECTION = ("answer", "Your question")
# The narrative slot of each section that has one.
SLOT_SECTION = {
    "answer": "answer",
    "summary": "summary",
    "analyst": "model_quality",
    "market": "market_context",
}
NARRATIVE_SLOTS = ("summary", "analyst", "market")
MAX_PIECE_CHARS = 1200
Source = Literal["llm", "deterministic"]


@dataclass
class Report:
    markdown: str
    sections: dict[str, str]
    stance: str
    confidence: float
    writer: Source
    llm: str
    verified_numbers: int
    unverified_numbers: int
    critique: str | None
    paragraphs: list[dict[str, Any]] = field(default_factory=list)
    gate: list[dict[str, Any]] = field(default_factory=list)  # every generated sentence, judged
    question: dict[str, Any] | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_MARKUP = re.compile(r"[*_`#>]+")
_ESCAPE = re.compile(r"([\\`*_{}\[\]<>#|~$])")


def escape_markdown(text: str) -> str:
    """Text that renders as itself in Markdown and Streamlit: no LaTeX (``$``), HTML (``<``),
    links (``[``), code (backticks) or emphasis."""
    return _ESCAPE.sub(r"\\\1", text)


def clean_narrative(text: str) -> list[str]:
    """The sentences of an LLM answer: no headings, list marks, markup or preambles, and no
    unfinished last sentence (the token budget ran out)."""
    lines = [ln.strip() for ln in text.replace("\r", "").split("\n")]
    kept = [ln for ln in lines if ln and not ln.startswith("#") and not ln.endswith(":")]
    out: list[str] = []
    for line in kept:
        plain = re.sub(r"^(?:[-*\u2022]|\d+[.)])\s+", "", line)
        plain = re.sub(r"^(?:sure|certainly|here is|here's)[^.:!]*[.:!]\s*", "", plain, flags=re.I)
        out += sentences(re.sub(r"\s+", " ", _MARKUP.sub("", plain)).strip())
    whole = [s for s in out if s and s[-1] in ".!?"]
    return [s[:MAX_PIECE_CHARS] for s in whole]


def deterministic(slot_fact_list: Sequence[Fact]) -> list[Sentence]:
    return [Sentence(f.text, "code", (f.key,)) for f in slot_fact_list]


def brief(facts: Facts, tools: Sequence[ToolResult]) -> list[str]:
    """Every fact sentence of a report: the grounds any narrative sentence must stand on."""
    out = [f.text for f in all_facts(facts, tools)]
    return [*out, facts.skill] if facts.skill else out


# --- sections ------------------------------------------------------------------------------------
def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _p(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


MODEL_LABELS = {
    "lstm": "the LSTM (champion)",
    "champion": "the LSTM (champion)",
    "naive": "the naive forecast (last close), the best baseline",
    "drift": "the drift baseline (constant trend), the best baseline",
    "linear": "the linear baseline, the best baseline",
    "additive": "the additive (spline) baseline, the best baseline",
    "boosted": "the boosted-trees baseline, the best baseline",
    "mix": "one model per horizon, each where it earned its place (see the backtest table)",
}


def paragraph_text(narrative: Sequence[Sentence]) -> str:
    return " ".join(escape_markdown(s.text) if s.source == "model" else s.text for s in narrative)


def summary_lead(facts: Facts) -> str:
    last = facts.forecast[-1]
    return (
        f"**Stance: {facts.stance}** (confidence {facts.confidence:.2f}, derived from the "
        f"forecast and the model's track record). The median forecast for {last.date} is "
        f"{last.median:.2f}, {last.change_pct:+.2f}% from the last close of "
        f"{facts.last_close:.2f} on {facts.as_of}."
    )


def forecast_section(facts: Facts) -> str:
    low, high = facts.quantiles[0] * 100, facts.quantiles[-1] * 100
    rows = [
        f"| {r.horizon} | {r.date} | {r.median:.2f} | {r.lower:.2f} | {r.upper:.2f} | "
        f"{r.change_pct:+.2f}% |"
        for r in facts.forecast
    ]
    status = MODEL_LABELS.get(facts.model, facts.model)
    return "\n".join(
        [
            f"Next {len(facts.forecast)} NYSE sessions after {facts.as_of} (last close "
            f"{facts.last_close:.2f}); {facts.nominal_coverage * 100:.0f}% interval from the "
            f"{low:.0f}th to the {high:.0f}th percentile. Model: {status}.",
            "",
            "| horizon | date | median | lower | upper | change |",
            "| --- | --- | --- | --- | --- | --- |",
            *rows,
        ]
    )


def quality_lead(facts: Facts) -> list[str]:
    """The skill statement and the backtest table (no table before the first backtest)."""
    if not facts.quality:
        return ["No backtest summary is stored for this model yet."]
    # A mix names the model serving each horizon.
    mixed = len({q.model for q in facts.quality}) > 1
    rows = [
        f"| {q.horizon} | {f'{q.model} | ' if mixed else ''}{_ratio(q.relative_mae)} | "
        f"{_p(q.p_vs_naive)} | {_pct(q.directional_accuracy)} | {_pct(q.up_rate)} | "
        f"{_pct(q.coverage)} |"
        for q in facts.quality
    ]
    lead = (
        f"{facts.skill or slot_facts('analyst', facts, [])[0].text} Skill is claimed only where "
        "a Diebold-Mariano test against the naive forecast is significant (p < 0.05, adjusted "
        "over the horizons); a "
        "relative MAE near 1 is the honest expectation for daily prices, and direction is "
        "compared with the always-up rate of the same windows."
    )
    table = "\n".join(
        [
            f"| horizon | {'served by | ' if mixed else ''}relative MAE | p vs naive | "
            "direction hit rate | always-up rate | interval coverage |",
            f"| --- | {'--- | ' if mixed else ''}--- | --- | --- | --- | --- |",
            *rows,
        ]
    )
    return [lead, table]


def market_lines(facts: Facts, tools: Sequence[ToolResult]) -> str:
    lines = [f"- {t.summary}" for t in tools if t.ran]
    ind = facts.indicators
    if ind:
        parts = []
        if "rsi_14" in ind:
            parts.append(f"RSI(14) {ind['rsi_14']:.1f}")
        if "macd_hist" in ind:
            parts.append(f"MACD histogram {ind['macd_hist']:+.3f}")
        if "volatility_20" in ind:
            parts.append(f"20-day volatility {ind['volatility_20'] * 100:.1f}%")
        if "volume_z_20" in ind:
            parts.append(f"volume z-score {ind['volume_z_20']:+.2f}")
        lines.append("- Latest indicators: " + ", ".join(parts) + ".")
    drift = facts.drift
    if drift.status == "not computed":
        lines.append("- Data drift: not computed yet.")
    else:
        share = f"{drift.drift_share * 100:.1f}%" if drift.drift_share is not None else "n/a"
        lines.append(
            f"- Data drift ({drift.as_of}): {drift.status}; share of drifted columns {share}."
        )
    names = [t.name for t in tools if t.ran]
    skipped = [f"{t.name} ({t.summary.rstrip('.')})" for t in tools if not t.ran]
    lines.append(
        "- Tools run: "
        + (", ".join(names) or "none")
        + ("; not run: " + "; ".join(skipped) if skipped else "")
        + "."
    )
    return "\n".join(lines)


def risks_section(facts: Facts, tools: Sequence[ToolResult]) -> str:
    items = []
    if facts.beats_naive is not True:
        items.append(
            "The served model has no demonstrated edge over the naive forecast: weigh the "
            "forecast accordingly."
        )
    items.append(
        f"By the last session the {facts.nominal_coverage * 100:.0f}% interval spans "
        f"{facts.interval_width_pct:.1f}% of the last close; outcomes outside it are expected "
        "about one time in five."
    )
    if facts.drift.status == "drift":
        items.append("Recent data has drifted from the training window: consider retraining.")
    elif facts.drift.status == "not computed":
        items.append("Data drift has not been checked for this ticker yet.")
    vol = ran(tools, "volatility_regime")
    if vol is not None and vol.data.get("regime") == "high":
        items.append("Volatility is in a high regime: price swings may exceed recent history.")
    items.append("Backtest quality describes the past; it does not guarantee future accuracy.")
    return "\n".join(f"- {item}" for item in items)


DISCLAIMER = (
    "Generated automatically from a statistical model and daily price data; not investment "
    "advice. Numbers are computed by code and every number in this report was checked against "
    "them; {who}"
)


def _who(model_sentences: int) -> str:
    if not model_sentences:
        return "every sentence of the narrative is written by code from the facts (no LLM)."
    return (
        "some sentences of the narrative were written by a language model, each admitted only "
        "because it restates the facts; the rest are written by code."
    )


@dataclass(frozen=True)
class Composed:
    markdown: str
    sections: dict[str, str]
    writer: Source
    paragraphs: list[dict[str, Any]]


TITLES = dict([ANSWER_SECTION, *SECTIONS.items()])


def _paragraph(section: str, text: str, narrative: Sequence[Sentence] = ()) -> dict[str, Any]:
    sources = {s.source for s in narrative} or {"code"}
    source = sources.pop() if len(sources) == 1 else "mixed"
    return {
        "section": section,
        "title": TITLES[section],
        "source": source,
        "text": text,
        "sentences": [s.to_dict() for s in narrative],
    }


def compose(
    facts: Facts,
    tools: Sequence[ToolResult],
    narrative: Mapping[str, Sequence[Sentence]],
    question: str | None = None,
) -> Composed:
    """The report from the facts, the tool results and each slot's published sentences
    (``narrative["answer"]`` only when a question was asked)."""
    model = sum(s.source == "model" for slot in narrative.values() for s in slot)
    writer: Source = "llm" if model else "deterministic"
    paragraphs: dict[str, list[dict[str, Any]]] = {}

    def narrated(slot: str) -> dict[str, Any]:
        said = narrative.get(slot, ())
        return _paragraph(SLOT_SECTION[slot], paragraph_text(said), said)

    if question is not None and "answer" in narrative:
        asked = _paragraph("answer", f"**Asked:** {escape_markdown(question.strip())}")
        paragraphs["answer"] = [asked, narrated("answer")]
    paragraphs["summary"] = [_paragraph("summary", summary_lead(facts)), narrated("summary")]
    paragraphs["forecast"] = [_paragraph("forecast", forecast_section(facts))]
    paragraphs["model_quality"] = [
        *(_paragraph("model_quality", part) for part in quality_lead(facts)),
        narrated("analyst"),
    ]
    paragraphs["market_context"] = [
        _paragraph("market_context", market_lines(facts, tools)),
        narrated("market"),
    ]
    paragraphs["risks"] = [_paragraph("risks", risks_section(facts, tools))]
    paragraphs["disclaimer"] = [_paragraph("disclaimer", DISCLAIMER.format(who=_who(model)))]
    sections = {
        key: "\n\n".join(p["text"] for p in parts if p["text"]).strip()
        for key, parts in paragraphs.items()
    }
    body = [f"# {facts.ticker}: analyst report as of {facts.as_of}", ""]
    for key, text in sections.items():
        body += [f"## {TITLES[key]}", "", text, ""]
    flat = [p for parts in paragraphs.values() for p in parts if p["text"]]
    return Composed("\n".join(body).rstrip() + "\n", sections, writer, flat)


def split_sections(markdown: str) -> dict[str, str]:
    """Sections found in a markdown report by their headings (for the evaluator)."""
    found: dict[str, str] = {}
    titles = {title: key for key, title in [ANSWER_SECTION, *SECTIONS.items()]}
    parts = re.split(r"^## (.+)$", markdown, flags=re.M)
    for title, text in zip(parts[1::2], parts[2::2], strict=False):
        key = titles.get(title.strip())
        if key:
            found[key] = text.strip()
    return found


def report_prose(markdown: str) -> str:
    """The sentences of a report: headings, table rows and the list of tool names left out,
    list items as sentences, bold marks and escapes removed."""
    lines = (
        ln.strip().removeprefix("- ").strip().replace("**", "") for ln in markdown.splitlines()
    )
    skip = ("#", "|", "Tools run:", "Asked:")  # the reader's question is not the report's
    kept = " ".join(ln for ln in lines if ln and not ln.startswith(skip))
    return re.sub(r"\\(.)", r"\1", kept)
