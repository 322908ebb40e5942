"""The grounding gate: a sentence is admitted only when it restates the facts, for every kind of
fact sentence a report has; planted-claim sets hold their scores; the lexicon keeps polarity.

Real parts: MiniLM embeddings of the shipped model and the fitted claim reader.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from agent_graph.grounding import GroundingGate, Grounds, values_of
from agent_graph.lexicon import CONCEPTS, stem
from agent_graph.report import quality_lead
from agent_graph.statements import all_facts, slot_facts
from devkit.reports import (
    ADMITTED,
    DATA_DIR,
    DROPPED,
    first_read,
    grounds_for,
    load_set,
    scenario,
    score_grounding_set,
    synthetic_facts,
)
from devkit.reports import grounding_sets as sets

SCENARIOS = load_set(DATA_DIR / "grounding_scenarios.yaml")["scenarios"]
# The rounds the gate was not tuned on keep at least what they read today; the target (0.90 of
# the clean sentences admitted) is not met on them yet: see bench/results/grounding.md.
CLEAN_FLOORS = {"grounding_heldout_round5": 0.88}  # round 6 meets the target


@pytest.fixture(scope="module")
def gate() -> GroundingGate:
    return GroundingGate()


def _grounds(name: str) -> Grounds:
    return grounds_for(*scenario(SCENARIOS[name]))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_fact_sentence_is_admitted_by_its_own_slot(name: str, gate: GroundingGate) -> None:
    facts, tools = scenario(SCENARIOS[name])
    for slot in ("summary", "analyst", "market"):
        own = slot_facts(slot, facts, tools)
        grounds = Grounds(own, facts, tools, None, ("AAPL",))
        verdicts = gate.judge([f.text for f in own], grounds)
        assert all(v.admitted for v in verdicts), [v for v in verdicts if not v.admitted]
        # Each restates its own fact.
        assert [f.key in v.covers for f, v in zip(own, verdicts, strict=True)] == [True] * len(own)


# (scenario, kind, restatements that must pass, additions or changes that must not)
CASES = [
    (
        "bear_noskill",
        "outlook",
        ["The model anticipates a modest decline in AAPL over the coming week."],
        [
            "The model expects a small rise in AAPL over the next week.",
            "A sharp fall is expected over the next week.",
            "The model expects a small fall over the next month.",
        ],
    ),
    (
        "bear_noskill",
        "band",
        ["The uncertainty band is of moderate width."],
        ["The uncertainty band is narrow.", "The forecast is precise."],
    ),
    (
        "bull_skill",
        "stance",
        ["This report takes a bullish stance."],
        [
            "The stance of this report is bearish.",
            "Given the strong headlines, the stance is bullish.",
        ],
    ),
    (
        "bull_skill",
        "skill",
        [
            "In a walk-forward backtest the model proved more accurate than the naive forecast, "
            "and the difference was statistically significant."
        ],
        [
            "The model has no edge over the naive forecast.",
            "The model has beaten the naive forecast for ten years.",
        ],
    ),
    (
        "bear_untested",
        "skill",
        ["The model's accuracy is unknown because it has not been backtested."],
        [
            "The model is backtested, so treat the forecast as one scenario.",
            "The model beat the naive forecast.",
        ],
    ),
    (
        "bear_noskill",
        "advice",
        ["Treat the forecast as one possible scenario, not a target."],
        ["The forecast is a target you can rely on.", "Treat the forecast as a buying signal."],
    ),
    (
        "bull_noskill_badnews",
        "relative_strength",
        ["AAPL trailed the index over the last month."],
        [
            "AAPL outperformed the index over the last month.",
            "The index underperformed AAPL over the last month.",
            "AAPL underperformed the Nasdaq over the last month.",
            # A tie with the index is a third value, not a restatement of either.
            "AAPL moved in line with the index over the last month.",
            "AAPL kept pace with the broader market over the last month.",
        ],
    ),
    (
        "bear_noskill",
        "volatility",
        ["Volatility is elevated compared with recent years."],
        [
            "Volatility is subdued compared with recent years.",
            "Volatility is high because of the Fed's meeting.",
        ],
    ),
    (
        "neutral_naive",
        "volatility",
        ["Volatility is in line with recent years."],
        ["Volatility is elevated compared with recent years."],
    ),
    # A degree or frequency that no fact gives, and denials of what the facts say.
    (
        "bull_skill",
        "volume",
        ["Trading volume was unusual in recent sessions."],
        ["AAPL traded on record volume in recent sessions."],
    ),
    (
        "bull_skill",
        "skill",
        ["The model beat the naive forecast, and the difference was statistically significant."],
        ["The model beat the naive forecast, but the difference was too small to be significant."],
    ),
    (
        "bull_noskill_badnews",
        "relative_strength",
        ["AAPL lagged the index over the last month."],
        [
            "AAPL trailed the index only marginally over the last month.",
            "AAPL lagged the index by a wide margin over the last month.",
        ],
    ),
    (
        "bear_noskill",
        "risk",
        ["Volatility is high, so price swings could be larger than recent history."],
        ["Volatility is high, but price swings should stay within recent history."],
    ),
    (
        "bear_noskill",
        "band",
        ["Outcomes outside the band are expected roughly once in every five cases."],
        [
            "Outcomes outside the band are expected most of the time.",
            "Outcomes outside the band are rarely expected.",
            "Outcomes outside the band are expected most weeks.",
            "Outcomes outside the moderate band are not expected at all.",
        ],
    ),
    (
        "bull_skill",
        "drift",
        ["Recent data remains consistent with the data the model was trained on."],
        ["AAPL's recent data no longer matches the data the model was trained on."],
    ),
    (
        "bear_noskill",
        "advice",
        ["Treat the forecast as one scenario within its band rather than a target."],
        [
            "The small fall can be used as a price target.",
            "The model's forecast is a reliable target for next week.",
        ],
    ),
    (
        "bear_noskill",
        "skill",
        ["The served model has no demonstrated edge over the naive forecast."],
        ["The model did worse than the naive forecast in the backtest."],
    ),
    (
        "neutral_naive",
        "rsi",
        ["The RSI is in its middle range."],
        ["The RSI is in its middle range and rising."],
    ),
    (
        "bull_skill",
        "cause",
        ["MACD momentum is positive."],
        ["Positive MACD momentum is behind the model's bullish forecast."],
    ),
    (
        "bull_skill",
        "relative_strength",
        ["AAPL was ahead of the index over the last month."],
        ["AAPL was the index's best performer over the last month."],
    ),
    (
        "bull_skill",
        "stance",
        ["The report takes a bullish stance on AAPL."],
        [
            "The report takes a very bullish stance on AAPL.",
            "AAPL's positive MACD momentum is the result of its outperformance.",
        ],
    ),
    # Garbles a small model writes when it copies a fact badly.
    (
        "bear_noskill",
        "advice",
        ["The forecast is one scenario inside its band, not a target."],
        [
            "The forecast is a one-to-one scenario, not a target.",
            "The uncertainty band is moderate, and outcomes outside it are expected to be within "
            "it in one time in five.",
        ],
    ),
    (
        "bull_skill",
        "volume",
        ["Trading volume was out of the ordinary in recent sessions."],
        [
            "Trading volume was normal in recent sessions.",
            "Trading volume was unusual as insiders sold shares.",
        ],
    ),
    (
        "neutral_naive",
        "news",
        ["No headlines were available for this report."],
        ["Recent headlines are upbeat.", "News of a lawsuit weighed on the shares."],
    ),
    (
        "bull_noskill_badnews",
        "technicals",
        ["The RSI is low, in oversold territory, and MACD momentum is negative."],
        [
            "The RSI is high, in overbought territory.",
            "The RSI of 28 signals a rebound.",
            "The stock sits below its fifty-day moving average.",
        ],
    ),
    (
        "neutral_naive",
        "drift",
        ["The recent data has shifted away from the training data."],
        [
            "The recent data has not drifted from the training data.",
            "The data drifted after the March split.",
        ],
    ),
    (
        "bear_noskill",
        "risk",
        ["Volatility is high, so price swings may exceed recent history."],
        [
            "Volatility is high, so a crash is likely.",
            "AAPL underperformed the index, so volatility is high.",
        ],
    ),
]


@pytest.mark.parametrize(("name", "kind", "clean", "planted"), CASES, ids=[c[1] for c in CASES])
def test_each_sentence_kind_admits_restatements_and_drops_additions(
    name: str, kind: str, clean: list[str], planted: list[str], gate: GroundingGate
) -> None:
    grounds = _grounds(name)
    for verdict in gate.judge(clean, grounds):
        assert verdict.admitted, (kind, verdict)
    for verdict in gate.judge(planted, grounds):
        assert not verdict.admitted and verdict.reasons, (kind, verdict)


def test_chatter_events_people_and_markup_are_dropped(gate: GroundingGate) -> None:
    texts = [
        "The stock has been hit hard by COVID-SARS and now faces another challenge.",
        "A bat and a ball costs $ in of your question I am asking about data analysis.",
        "The stock MSFT was designed to provide results based on data analysis.",
        "What's the future of AI and machine learning?",
        "Tim Cook said the model expects a small fall.",
        "I am happy to help you with your report.",
        "the model expects a small fall",
    ]
    verdicts = gate.judge(texts, _grounds("bear_noskill"))
    assert not any(v.admitted for v in verdicts), [v.text for v in verdicts if v.admitted]


def test_values_are_read_with_their_negations() -> None:
    assert values_of("Trading volume was nothing out of the ordinary.") == {("volume", "normal")}
    assert values_of("No model beat the naive forecast.") == {("skill", "worse")}
    assert values_of("Data drift has yet to be checked.") == {("drift", "unchecked")}
    assert ("relative", "underperformed") in values_of("The index outperformed AAPL.", "AAPL")
    assert values_of("The RSI is neither high nor low.") == {
        ("rsi", "overbought-not"),
        ("rsi", "oversold-not"),
    }


def test_paraphrase_classes_never_cross_a_polarity() -> None:
    opposed = [
        ("up", "down"),
        ("high", "low"),
        ("wide", "narrow"),
        ("good", "bad"),
        ("bullish", "bearish"),
        ("outperform", "underperform"),
        ("small", "large"),
    ]
    shared_on_purpose = {stem("edge")}  # "edge higher" and "edge lower": read by direction words
    for left, right in opposed:
        a = {stem(w) for w in CONCEPTS[left].split()}
        b = {stem(w) for w in CONCEPTS[right].split()}
        assert not (a & b) - shared_on_purpose, (left, right, a & b)


@pytest.mark.parametrize("path", sets(), ids=lambda p: Path(p).stem)
def test_planted_claim_sets_hold_their_scores(path: Path, gate: GroundingGate) -> None:
    score = score_grounding_set(path, gate)
    assert score.clean >= 40 or path.stem == "grounding_dev"
    assert score.clean_survival >= CLEAN_FLOORS.get(path.stem, ADMITTED), score.errors
    for row in score.rows():
        assert row["recall"] >= DROPPED, (row, score.errors)


def test_every_held_out_round_records_its_first_read() -> None:
    rounds = [p for p in sets() if "heldout" in p.stem]
    assert len(rounds) >= 2
    for path in rounds:
        read = first_read(path)
        assert read and "clean sentences admitted" in read, path


def test_the_whole_reports_facts_ground_each_other(gate: GroundingGate) -> None:
    facts, tools = scenario(SCENARIOS["bull_skill"])
    grounds = grounds_for(facts, tools)
    texts = [f.text for f in all_facts(facts, tools)]
    assert all(v.admitted for v in gate.judge(texts, grounds))


@pytest.mark.parametrize("skilled", [(1, 2), (5, 6, 7)])
def test_a_mix_states_its_next_session_skill_and_every_fact_is_admitted(
    skilled: tuple[int, ...], gate: GroundingGate
) -> None:
    """A mix (one model per horizon) speaks of the next session in its skill sentence, names
    each horizon's model in the report's table, and its fact sentences pass the gate."""
    base = synthetic_facts(skill=True)
    quality = tuple(
        replace(q, model="lstm" if q.horizon <= 2 else "naive", significant=q.horizon in skilled)
        for q in base.quality
    )
    facts = replace(base, model="mix", model_kind="mixed", quality=quality)
    assert facts.beats_naive is (1 in skilled)
    skill = next(f for f in slot_facts("analyst", facts, []) if f.key == "skill")
    assert "for the next session" in skill.text
    assert ("no statistically significant edge" in skill.text) is (1 not in skilled)
    for slot in ("summary", "analyst", "market"):
        own = slot_facts(slot, facts, [])
        verdicts = gate.judge([f.text for f in own], Grounds(own, facts, [], None, ("AAPL",)))
        assert all(v.admitted for v in verdicts), [v for v in verdicts if not v.admitted]
    _, table = quality_lead(facts)
    assert table.splitlines()[0].startswith("| horizon | served by |")
    assert "| 1 | lstm |" in table and "| 7 | naive |" in table
