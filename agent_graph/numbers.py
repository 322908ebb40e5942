"""Every number in a text, and whether the facts support it (within rounding).

A number written with ``d`` decimals is supported by a fact ``v`` when it equals ``v`` rounded
to ``d`` decimals, give or take half a unit in the last place. A fraction fact may be written as
a percent (0.8 -> 80%) and a percent fact as a fraction; an unsigned number may state a
negative fact ("down 1.2%" for -1.2). ISO dates must be one of the facts' dates exactly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

# A date, or a number not glued to a word (h1, MP3 and SmolLM2 are words, not numbers).
_TOKEN = re.compile(
    r"(?P<date>\b\d{4}-\d{2}-\d{2}\b)"
    r"|(?P<frac>[\u00bc-\u00be\u2150-\u215e])"  # vulgar fractions: never a fact's notation
    r"|(?<![A-Za-z0-9_.])(?P<sign>[+\-\u2212])?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?:st|nd|rd|th)?(?![A-Za-z0-9_])"
    r"(?P<pct>\s?%)?"
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'*\-])")


@dataclass(frozen=True)
class NumberCheck:
    text: str
    value: float | None  # None for a date
    verified: bool
    matched: str | None  # label of the supporting fact
    start: int
    end: int


@dataclass(frozen=True)
class Evidence:
    """What a report may state: labelled numbers and ISO dates."""

    numbers: tuple[tuple[str, float], ...]
    dates: frozenset[str]

    @classmethod
    def of(cls, numbers: Iterable[tuple[str, float]], dates: Iterable[str]) -> Evidence:
        clean = tuple((k, float(v)) for k, v in numbers if v is not None and math.isfinite(v))
        return cls(clean, frozenset(dates))


def _decimals(text: str) -> int:
    return len(text.split(".", 1)[1]) if "." in text else 0


def _supports(value: float, decimals: int, signed: bool, fact: float) -> bool:
    tolerance = 0.5 * 10.0**-decimals * 1.0001 + 1e-12
    for candidate in (fact, fact * 100.0, fact / 100.0):
        target = candidate if signed else abs(candidate)
        if abs(value - target) <= tolerance:
            return True
    return False


def check_numbers(text: str, evidence: Evidence, mask: Iterable[str] = ()) -> list[NumberCheck]:
    """Check every number in ``text``; substrings in ``mask`` (e.g. the ticker) are skipped."""
    masked = text
    for word in mask:
        if word:
            masked = masked.replace(word, " " * len(word))
    checks: list[NumberCheck] = []
    for match in _TOKEN.finditer(masked):
        raw = text[match.start() : match.end()]
        if match["frac"]:
            checks.append(NumberCheck(raw, None, False, None, *match.span()))
            continue
        if match["date"]:
            ok = match["date"] in evidence.dates
            checks.append(NumberCheck(raw, None, ok, "date" if ok else None, *match.span()))
            continue
        digits = match["num"].replace(",", "")
        value = float(digits)
        sign = match["sign"]
        if sign in {"-", "\u2212"}:
            value = -value
        decimals = _decimals(digits)
        label = next(
            (k for k, fact in evidence.numbers if _supports(value, decimals, bool(sign), fact)),
            None,
        )
        checks.append(NumberCheck(raw, value, label is not None, label, *match.span()))
    return checks


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text.strip()) if s.strip()]


def unsupported_numbers(text: str, evidence: Evidence, mask: Iterable[str] = ()) -> list[str]:
    return [c.text for c in check_numbers(text, evidence, mask) if not c.verified]
