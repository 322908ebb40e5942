"""The report's fixed sections: code writes every table and number, the LLM adds narrative.

A narrative piece is either the LLM's (cleaned) text or a deterministic sentence made from the
facts; the writer label of a report says which kind it contains.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from agent_graph.facts import Facts
from agent_graph.numbers import sentences
from agent_graph.tools.base import ToolResult, ran

SECTIONS: dict[str, str] = {
    "summary": "Summary",
    "forecast": "Forecast",
    "model_quality": "Model quality vs naive",
    "market_context": "Market context",
    "risks": "Risks",
    "disclaimer": "Disclaimer",
}
PIECES = ("summary", "analyst", "market")  # narrative slots the LLM may fill
MAX_SENTENCES = 3
MAX_PIECE_CHARS = 600
Source = Literal["llm", "deterministic"]


@dataclass(frozen=True)
class Piece:
    text: str
    source: Source


@dataclass
class Report:
    markdown: str
    sections: dict[str, str]
    stance: str
    confidence: float
    writer: Source
    llm: str
    revisions: int
    verified_numbers: int
    unverified_numbers: int
    critique: str | None
    tools: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_MARKUP = re.compile(r"[*_`#>]+")


def clean_narrative(text: str) -> str:
    """LLM text as at most three plain sentences: no headings, lists, markup or preambles."""
    lines = [ln.strip() for ln in text.replace("\r", "").split("\n")]
    kept = [ln for ln in lines if ln and not ln.startswith("#") and not ln.endswith(":")]
    flat = _MARKUP.sub("", " ".join(re.sub(r"^(?:[-*\u2022]|\d+[.)])\s+", "", ln) for ln in kept))
    flat = re.sub(r"\s+", " ", flat).strip()
    flat = re.sub(r"^(?:sure|certainly|here is|here's)[^.:!]*[.:!]\s*", "", flat, flags=re.I)
    chosen = sentences(flat)[:MAX_SENTENCES]
    out = " ".join(chosen).strip()
    if len(out) > MAX_PIECE_CHARS:
        out = out[:MAX_PIECE_CHARS].rsplit(" ", 1)[0]
    if out and out[-1] not in ".!?":
        # An unfinished last sentence (max_tokens reached) is dropped, or closed if it is alone.
        whole = sentences(out)
        out = " ".join(whole[:-1]) if len(whole) > 1 else out + "."
    return out


# --- qualitative descriptions: what the LLM is told (it never sees a number) -------------------
def describe_forecast(facts: Facts) -> str:
    change = facts.expected_change_pct
    width = facts.interval_width_pct
    band = "narrow" if width < 4 else "wide" if width > 10 else "moderate"
    if facts.stance == "neutral":  # a move inside the stance threshold is no call either way
        expects = "little change"
    else:
        size = "a small" if abs(change) < 2 else "a moderate" if abs(change) < 5 else "a large"
        expects = f"{size} {'rise' if change > 0 else 'fall'}"
    return f"The model expects {expects} over the next week; its uncertainty band is {band}."


def describe_quality(facts: Facts) -> str:
    if facts.beats_naive is None:
        return "The model has no backtest yet, so its accuracy is unknown."
    if facts.model == "naive":
        return (
            "No model beat the naive forecast, which repeats the last price, in a walk-forward "
            "backtest, so that naive forecast is what is served."
        )
    if facts.beats_naive:
        return (
            "In a walk-forward backtest the served model was more accurate than a naive forecast "
            "that repeats the last price, and the difference was statistically significant."
        )
    return (
        "In a walk-forward backtest the served model showed no statistically significant edge "
        "over a naive forecast that repeats the last price."
    )


def describe_market(facts: Facts, tools: list[ToolResult]) -> str:
    parts = []
    by_name = {t.name: t for t in tools if t.ran}
    if rs := by_name.get("relative_strength"):
        verb = "outperformed" if rs.data.get("leader") else "underperformed"
        parts.append(f"the stock {verb} the index over the last month")
    if vol := by_name.get("volatility_regime"):
        parts.append(f"volatility is {vol.data['regime']} compared with recent years")
    if volu := by_name.get("volume_anomalies"):
        parts.append("trading volume was unusual recently" if volu.data["anomalies"]
                     else "trading volume was normal")  # fmt: skip
    if news := by_name.get("news_sentiment"):
        parts.append(f"recent headlines are {news.data['label']} in tone")
    else:
        parts.append("no news was available")
    if facts.drift.status == "drift":
        parts.append("the recent data has drifted from the training data")
    return "; ".join(parts) + "."


def brief(facts: Facts, tools: list[ToolResult] | tuple[ToolResult, ...]) -> list[str]:
    """What the writers are told, in words: the grounds a narrative sentence must stand on."""
    out = [describe_forecast(facts), describe_quality(facts), describe_market(facts, list(tools))]
    return [*out, facts.skill] if facts.skill else out


# --- deterministic narrative (the fallback writer) ---------------------------------------------
def deterministic_piece(slot: str, facts: Facts, tools: list[ToolResult]) -> Piece:
    if slot == "summary":
        text = describe_forecast(facts) + " " + describe_quality(facts)
    elif slot == "analyst":
        text = describe_quality(facts) + (
            " Treat the forecast as one scenario inside its band, not a target."
        )
    else:
        text = "Market backdrop: " + describe_market(facts, tools)
        text = text[0] + text[1:]
    return Piece(text, "deterministic")


# --- sections ------------------------------------------------------------------------------------
def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _p(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


MODEL_LABELS = {
    "lstm": "the LSTM (champion)",
    "champion": "the LSTM (champion)",
    "naive": "the naive forecast (last close), the best baseline",
    "drift": "the drift baseline (constant trend), the best baseline",
    "linear": "the linear baseline, the best baseline",
}


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def summary_section(facts: Facts, piece: Piece) -> str:
    last = facts.forecast[-1]
    lead = (
        f"**Stance: {facts.stance}** (confidence {facts.confidence:.2f}, derived from the "
        f"forecast and the model's track record). The median forecast for {last.date} is "
        f"{last.median:.2f}, {last.change_pct:+.2f}% from the last close of "
        f"{facts.last_close:.2f} on {facts.as_of}."
    )
    return f"{lead}\n\n{piece.text}".strip()


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


def quality_section(facts: Facts, piece: Piece) -> str:
    if not facts.quality:
        return f"No backtest summary is stored for this model yet.\n\n{piece.text}".strip()
    rows = [
        f"| {q.horizon} | {_ratio(q.relative_mae)} | {_p(q.p_vs_naive)} | "
        f"{_pct(q.directional_accuracy)} | {_pct(q.up_rate)} | {_pct(q.coverage)} |"
        for q in facts.quality
    ]
    lead = (
        f"{facts.skill or describe_quality(facts)} Skill is claimed only where a Diebold-Mariano "
        "test against the naive forecast is significant (p < 0.05); a relative MAE near 1 is "
        "the honest expectation for daily prices, and direction is compared with the always-up "
        "rate of the same windows."
    )
    table = [
        "| horizon | relative MAE | p vs naive | direction hit rate | always-up rate | "
        "interval coverage |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
    ]
    return "\n".join([lead, "", *table, "", piece.text]).strip()


def market_section(facts: Facts, tools: list[ToolResult], piece: Piece) -> str:
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
    ran = [t.name for t in tools if t.ran]
    skipped = [f"{t.name} ({t.summary.rstrip('.')})" for t in tools if not t.ran]
    lines.append(
        "- Tools run: " + (", ".join(ran) or "none")
        + ("; not run: " + "; ".join(skipped) if skipped else "") + "."
    )  # fmt: skip
    return "\n".join([*lines, "", piece.text]).strip()


def risks_section(facts: Facts, tools: list[ToolResult]) -> str:
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
    "them; the narrative is {who}."
)


def compose(
    facts: Facts, tools: list[ToolResult], pieces: dict[str, Piece]
) -> tuple[str, dict[str, str], Source]:
    """(markdown, sections, writer label) from the facts, tool results and narrative pieces."""
    writer: Source = "llm" if any(p.source == "llm" and p.text for p in pieces.values()) else (
        "deterministic"
    )  # fmt: skip
    who = "written by a language model" if writer == "llm" else "written by code (no LLM)"
    sections = {
        "summary": summary_section(facts, pieces["summary"]),
        "forecast": forecast_section(facts),
        "model_quality": quality_section(facts, pieces["analyst"]),
        "market_context": market_section(facts, tools, pieces["market"]),
        "risks": risks_section(facts, tools),
        "disclaimer": DISCLAIMER.format(who=who),
    }
    body = [f"# {facts.ticker}: analyst report as of {facts.as_of}", ""]
    for key, title in SECTIONS.items():
        body += [f"## {title}", "", sections[key], ""]
    return "\n".join(body).rstrip() + "\n", sections, writer


def split_sections(markdown: str) -> dict[str, str]:
    """Sections found in a markdown report by their fixed headings (for the evaluator)."""
    found: dict[str, str] = {}
    titles = {title: key for key, title in SECTIONS.items()}
    parts = re.split(r"^## (.+)$", markdown, flags=re.M)
    for title, text in zip(parts[1::2], parts[2::2], strict=False):
        key = titles.get(title.strip())
        if key:
            found[key] = text.strip()
    return found


def report_prose(markdown: str) -> str:
    """The sentences of a report: headings, table rows and the list of tool names left out,
    list items as sentences, bold marks removed."""
    lines = (
        ln.strip().removeprefix("- ").strip().replace("**", "") for ln in markdown.splitlines()
    )
    return " ".join(ln for ln in lines if ln and not ln.startswith(("#", "|", "Tools run:")))
