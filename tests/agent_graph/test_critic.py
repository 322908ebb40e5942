"""The critic: every number of a report checked against the facts, unsupported claims flagged."""

from __future__ import annotations

from agent_graph.critic import claim_problems, review, strip_unsupported
from agent_graph.facts import Facts
from agent_graph.numbers import Evidence, check_numbers
from agent_graph.report import SECTIONS, Piece, compose, split_sections

MASK = ("AAPL", "^GSPC")


def _evidence(facts: Facts) -> Evidence:
    return Evidence.of(facts.numbers(), facts.dates())


def _pieces(**texts: str) -> dict[str, Piece]:
    base = {"summary": "A calm week.", "analyst": "Weigh it lightly.", "market": "Quiet."}
    return {k: Piece(v, "llm") for k, v in {**base, **texts}.items()}


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


def test_review_of_a_composed_report_flags_planted_numbers_and_claims(facts: Facts) -> None:
    ev = _evidence(facts)
    clean = _pieces()
    markdown, sections, writer = compose(facts, [], clean)
    assert writer == "llm"
    assert set(split_sections(markdown)) == set(SECTIONS)
    ok = review(markdown, sections, clean, facts=facts, tools=[], evidence=ev, mask=MASK)
    assert ok.ok and ok.verified > 60 and not ok.unverified

    planted = _pieces(
        analyst="The model beats the naive forecast by 37%. It is a useful guide.",
        market="Earnings news lifted the shares. Gains are guaranteed.",
        summary="The stock will rise to 512.30 next week.",
    )
    markdown, sections, _ = compose(facts, [], planted)
    found = review(markdown, sections, planted, facts=facts, tools=[], evidence=ev, mask=MASK)
    assert not found.ok
    assert found.unverified == ["512.30", "37%"]
    reasons = " | ".join(found.claims)
    assert "skill the backtest does not show" in reasons  # relative MAE > 1
    assert "news, but no news source ran" in reasons
    assert "certainty" in reasons
    assert f"upward call against a {facts.stance} stance" in reasons
    assert found.flagged_slots == {"analyst", "market", "summary"}
    assert "Unsupported numbers: 512.30, 37%" in found.summary()


def test_missing_sections_are_flagged(facts: Facts) -> None:
    pieces = _pieces()
    markdown, sections, _ = compose(facts, [], pieces)
    sections = {**sections, "risks": ""}
    found = review(
        markdown, sections, pieces, facts=facts, tools=[], evidence=_evidence(facts), mask=MASK
    )
    assert found.missing_sections == ["risks"]


def test_strip_unsupported_keeps_only_grounded_sentences(facts: Facts) -> None:
    text = (
        "Treat the forecast as one scenario. It will surely rise 40%. "
        f"The last close was {facts.last_close:.2f}. Analysts expect a rebound."
    )
    kept = strip_unsupported(text, facts, [], _evidence(facts), MASK)
    assert kept == f"Treat the forecast as one scenario. The last close was {facts.last_close:.2f}."


def test_claims_follow_the_facts_not_the_words(facts: Facts) -> None:
    # A bearish stance: an upward call is unsupported, a downward one is not.
    assert facts.stance == "bearish"
    assert claim_problems("Prices will rise.", facts, [])
    assert not claim_problems("Prices will fall.", facts, [])
    # No news ran: saying so is fine, claiming news is not.
    assert not claim_problems("There was no news to weigh.", facts, [])
    assert claim_problems("Headlines were upbeat.", facts, [])
