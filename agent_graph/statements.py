"""The fact sentences of a report: what code knows, said in words, one claim each.

Every narrative sentence a report publishes either is one of these (written by code) or
restates them (written by the model and admitted by :mod:`agent_graph.grounding`). They carry no
number: numbers live in the code-written lead lines and tables, where the critic checks each one;
the writer is told the facts in words only.

Each :class:`Fact` has a key (what it is about, e.g. ``market.volatility``) and a kind (the
sentence kinds a report is checked by: outlook, stance, skill, advice, relative_strength,
volatility, volume, news, technicals, drift, risk, answer). A narrative slot is a list of facts;
the writer is asked to make them read well, and any fact the model's text does not restate is
stated by its code-written sentence, so a slot is always complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent_graph.facts import Facts
from agent_graph.tools.base import ToolResult, ran

# RSI(14) zones as technical analysts read them.
RSI_OVERBOUGHT, RSI_OVERSOLD = 70.0, 30.0
# The uncertainty band at the last horizon, in percent of the last close.
BAND_NARROW_PCT, BAND_WIDE_PCT = 4.0, 10.0


@dataclass(frozen=True)
class Fact:
    key: str
    kind: str
    text: str


def band_word(facts: Facts) -> str:
    width = facts.interval_width_pct
    return "narrow" if width < BAND_NARROW_PCT else "wide" if width > BAND_WIDE_PCT else "moderate"


def expected_move(facts: Facts) -> str:
    """The forecast's move in words: "little change" inside the stance threshold."""
    if facts.stance == "neutral":
        return "little change"
    change = abs(facts.expected_change_pct)
    size = "a small" if change < 2 else "a moderate" if change < 5 else "a large"
    return f"{size} {'rise' if facts.expected_change_pct > 0 else 'fall'}"


def forecast_fact(facts: Facts) -> Fact:
    return Fact(
        "forecast.move",
        "outlook",
        f"The model expects {expected_move(facts)} in the price of {facts.ticker} over the next "
        "week.",
    )


def band_fact(facts: Facts) -> Fact:
    return Fact("forecast.band", "outlook", f"Its uncertainty band is {band_word(facts)}.")


def stance_fact(facts: Facts) -> Fact:
    return Fact("stance", "stance", f"The stance of this report is {facts.stance}.")


def skill_fact(facts: Facts) -> Fact:
    if facts.beats_naive is None:
        text = "The model has no backtest yet, so its accuracy is unknown."
    elif facts.model == "mix":
        # Each horizon is served by its own model: the sentence speaks of the next session (what
        # ``beats_naive`` measures); the per-horizon table beside it states the rest.
        text = (
            "In a walk-forward backtest the served forecast for the next session was more "
            "accurate than a naive forecast that repeats the last price, and the difference was "
            "statistically significant."
            if facts.beats_naive
            else "In a walk-forward backtest the served forecast for the next session showed no "
            "statistically significant edge over a naive forecast that repeats the last price."
        )
    elif facts.model == "naive":
        text = (
            "No model beat the naive forecast, which repeats the last price, in a walk-forward "
            "backtest, so the naive forecast is served."
        )
    elif facts.beats_naive:
        text = (
            "In a walk-forward backtest the served model was more accurate than a naive forecast "
            "that repeats the last price, and the difference was statistically significant."
        )
    else:
        text = (
            "In a walk-forward backtest the served model showed no statistically significant "
            "edge over a naive forecast that repeats the last price."
        )
    return Fact("skill", "skill", text)


def advice_fact(facts: Facts) -> Fact:
    lead = {None: "Until the model is backtested, treat", True: "Even so, treat"}.get(
        facts.beats_naive, "Treat"
    )
    return Fact(
        "advice", "advice", f"{lead} the forecast as one scenario inside its band, not a target."
    )


def relative_strength_fact(facts: Facts, tools: Sequence[ToolResult]) -> Fact | None:
    rs = ran(tools, "relative_strength")
    if rs is None:
        return None
    verb = "outperformed" if rs.data.get("leader") else "underperformed"
    return Fact(
        "market.relative_strength",
        "relative_strength",
        f"{facts.ticker} {verb} the index over the last month.",
    )


def volatility_fact(tools: Sequence[ToolResult]) -> Fact | None:
    vol = ran(tools, "volatility_regime")
    if vol is None:
        return None
    return Fact(
        "market.volatility",
        "volatility",
        f"Volatility is {vol.data['regime']} compared with recent years.",
    )


def volume_fact(tools: Sequence[ToolResult]) -> Fact | None:
    volume = ran(tools, "volume_anomalies")
    if volume is None:
        return None
    word = "unusual" if volume.data["anomalies"] else "normal"
    return Fact("market.volume", "volume", f"Trading volume was {word} in recent sessions.")


def news_fact(tools: Sequence[ToolResult]) -> Fact:
    news = ran(tools, "news_sentiment")
    if news is None:
        return Fact("market.news", "news", "No news was available for this report.")
    return Fact("market.news", "news", f"Recent headlines are {news.data['label']} in tone.")


def rsi_fact(facts: Facts) -> Fact | None:
    rsi = facts.indicators.get("rsi_14")
    if rsi is None:
        return None
    if rsi > RSI_OVERBOUGHT:
        text = "The RSI is high, in the zone read as overbought."
    elif rsi < RSI_OVERSOLD:
        text = "The RSI is low, in the zone read as oversold."
    else:
        text = "The RSI is in its middle range."
    return Fact("market.rsi", "technicals", text)


def macd_fact(facts: Facts) -> Fact | None:
    hist = facts.indicators.get("macd_hist")
    if hist is None:
        return None
    return Fact(
        "market.macd", "technicals", f"MACD momentum is {'positive' if hist > 0 else 'negative'}."
    )


def drift_fact(facts: Facts) -> Fact:
    status = facts.drift.status
    if status == "drift":
        text = "The recent data has drifted from the data the model was trained on."
    elif status == "no drift":
        text = "The recent data has not drifted from the data the model was trained on."
    else:
        text = "Data drift has not been checked for this stock yet."
    return Fact("drift", "drift", text)


def no_edge_fact() -> Fact:
    return Fact(
        "risk.skill", "risk", "The served model has no demonstrated edge over the naive forecast."
    )


def risk_facts(facts: Facts, tools: Sequence[ToolResult]) -> list[Fact]:
    """What could make the forecast wrong, in words (the risks section states the figures)."""
    out = [
        Fact(
            "risk.band",
            "risk",
            f"The uncertainty band is {band_word(facts)}, and outcomes outside it are expected "
            "about one time in five.",
        )
    ]
    if facts.beats_naive is not True:
        out.append(no_edge_fact())
    vol = ran(tools, "volatility_regime")
    if vol is not None and vol.data.get("regime") == "high":
        swings = "Volatility is high, so price swings may exceed recent history."
        out.append(Fact("risk.volatility", "risk", swings))
    volume = ran(tools, "volume_anomalies")
    if volume is not None and volume.data.get("anomalies"):
        out.append(Fact("risk.volume", "risk", "Trading volume was unusual in recent sessions."))
    if facts.drift.status != "no drift":
        out.append(drift_fact(facts))
    return out


def market_facts(facts: Facts, tools: Sequence[ToolResult]) -> list[Fact]:
    found = [
        relative_strength_fact(facts, tools),
        volatility_fact(tools),
        volume_fact(tools),
        news_fact(tools),
        rsi_fact(facts),
        macd_fact(facts),
        drift_fact(facts),
    ]
    return [f for f in found if f is not None]


def slot_facts(slot: str, facts: Facts, tools: Sequence[ToolResult]) -> list[Fact]:
    """The facts a narrative slot states (the answer's come from :mod:`agent_graph.answers`)."""
    if slot == "summary":
        return [forecast_fact(facts), band_fact(facts), stance_fact(facts)]
    if slot == "analyst":
        return [skill_fact(facts), advice_fact(facts)]
    if slot == "market":
        return market_facts(facts, tools)
    raise ValueError(f"unknown narrative slot {slot!r}")


def all_facts(facts: Facts, tools: Sequence[ToolResult]) -> list[Fact]:
    """Every fact sentence of a report, each once, in slot order."""
    seen: dict[str, Fact] = {}
    for slot in ("summary", "analyst", "market"):
        for fact in slot_facts(slot, facts, tools):
            seen.setdefault(fact.key, fact)
    for fact in risk_facts(facts, tools):
        seen.setdefault(fact.key, fact)
    return list(seen.values())
