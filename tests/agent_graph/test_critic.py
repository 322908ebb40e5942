"""The critic: the gate publishes a slot from admitted sentences and code-written facts; the
review checks every number of the composed report, the model's claims and the sections."""

from __future__ import annotations

from agent_graph.critic import gate_slot, review
from agent_graph.facts import Facts
from agent_graph.grounding import Sentence
from agent_graph.numbers import Evidence, check_numbers
from agent_graph.report import NARRATIVE_SLOTS, SECTIONS, compose, deterministic, split_sections
from agent_graph.statements import slot_facts

MASK = ("AAPL", "^GSPC")


def _evidence(facts: Facts) -> Evidence:
    return Evidence.of(facts.numbers(), facts.dates())


def test_numbers_within_rounding_percent_and_dates_are_verified(facts: Facts) -> None:
    ev = _evidence(facts)
    last = facts.forecast[-1]
    text = (
        f"Close {facts.last_close:.2f} ({facts.last_close:.0f}), median {last.median:.1f} on "
        f"{last.date}, an 80% band, RSI(14) {facts.indicators['rsi_14']:.1f}, "
        f"down {abs(last.change_pct):.2f}% or {last.change_pct:+.1f}%, the 90th percentile."
    )
    checks = check_numbers(text, ev, MASK)
    assert len(checks) == 10
    assert all(c.verified for c in checks), [c for c in checks if not c.verified]


def test_planted_wrong_numbers_are_caught(facts: Facts) -> None:
    ev = _evidence(facts)
    last = facts.forecast[-1]
    planted = [
        f"{last.median + 0.02:.2f}",  # off by more than rounding
        f"+{abs(last.change_pct):.2f}%",  # the sign flipped on a signed number
        "2013-03-15",  # a session that is not in the forecast
        "12.5%",  # invented
        "¼",  # a fraction glyph
    ]
    text = "Median " + planted[0] + ", change " + planted[1] + " by " + planted[2] + ". "
    text += "Upside " + planted[3] + " over a " + planted[4] + "-week."
    bad = [c.text for c in check_numbers(text, ev, MASK) if not c.verified]
    assert bad == planted


def test_a_slot_publishes_admitted_sentences_and_code_states_the_rest(facts: Facts) -> None:
    own = slot_facts("summary", facts, [])
    drafted = [
        "The model anticipates a modest decline in AAPL over the coming week.",  # restates
        "Apple will report earnings on Tuesday, and the shares will jump.",  # invents
    ]
    gated = gate_slot(drafted, own, facts=facts, tools=[], evidence=_evidence(facts), mask=MASK)
    assert [v.admitted for v in gated.verdicts] == [True, False]
    assert "adds words the facts do not license" in " ".join(gated.dropped[0].reasons)
    published = gated.published
    assert published[0] == Sentence(drafted[0], "model", ("forecast.move",))
    # The band and the stance were not restated: their code-written sentences state them.
    assert [s.source for s in published] == ["model", "code", "code"]
    assert [s.text for s in published[1:]] == [f.text for f in own[1:]]


def test_review_passes_a_composed_report_and_flags_what_a_broken_gate_let_through(
    facts: Facts,
) -> None:
    ev = _evidence(facts)
    narrative = {s: deterministic(slot_facts(s, facts, [])) for s in NARRATIVE_SLOTS}
    composed = compose(facts, [], narrative)
    assert composed.writer == "deterministic"
    assert set(split_sections(composed.markdown)) == set(SECTIONS)
    ok = review(composed, narrative, facts=facts, tools=[], evidence=ev, mask=MASK)
    assert ok.ok and ok.verified > 60 and not ok.unverified

    # Sentences no gate would admit, published as the model's: the review reads them again.
    planted = {
        **narrative,
        "analyst": [Sentence("The model beats the naive forecast by 37%.", "model", ("skill",))],
        "summary": [Sentence("The stock will certainly rise to 512.30.", "model", ())],
    }
    composed = compose(facts, [], planted)
    found = review(composed, planted, facts=facts, tools=[], evidence=ev, mask=MASK)
    assert not found.ok
    assert found.unverified == ["512.30", "37%"]
    reasons = " | ".join(found.claims)
    assert "skill the backtest does not show" in reasons  # relative MAE > 1
    assert "certainty" in reasons
    assert f"upward call against a {facts.stance} stance" in reasons
    assert "Unsupported numbers: 512.30, 37%" in found.summary()


def test_missing_sections_are_flagged(facts: Facts) -> None:
    narrative = {s: deterministic(slot_facts(s, facts, [])) for s in NARRATIVE_SLOTS}
    composed = compose(facts, [], narrative)
    composed = type(composed)(
        composed.markdown,
        {**composed.sections, "risks": ""},
        composed.writer,
        composed.paragraphs,
    )
    found = review(composed, narrative, facts=facts, tools=[], evidence=_evidence(facts), mask=MASK)
    assert found.missing_sections == ["risks"]
