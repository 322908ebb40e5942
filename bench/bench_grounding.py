"""The grounding gate on its planted-claim sets: planted falsehoods dropped per kind, clean
restatements admitted.

    .venv/bin/python -m bench.bench_grounding [--quick]

Every set under ``bench/data/grounding_*.yaml`` (the development set the gate was tuned on, and
the held-out rounds written blind to it) is read against the facts of its scenarios
(``grounding_scenarios.yaml``): a planted sentence must be dropped, a clean one admitted. Each
held-out round's first read (before the gate learnt anything from it) is copied from the set's
header: that, not the score after tuning, is what the gate does on text it has not seen.
Targets on every set: at least 95% of the planted sentences of each kind dropped, at least 90%
of the clean ones admitted. ``--quick``: the development set only.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench.common import write_results
from devkit.reports import (
    ADMITTED,
    DROPPED,
    GroundingScore,
    first_read,
    score_grounding_set,
)
from devkit.reports import grounding_sets as sets


def figures(scores: dict[str, GroundingScore]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, score in scores.items():
        worst = min(score.rows(), key=lambda r: r["recall"])
        out.append(
            {
                "figure": f"{name}: clean sentences admitted",
                "value": f"{score.admitted_clean}/{score.clean}",
                "unit": "",
                "target": f">= {ADMITTED:.0%}",
                "met": score.clean_survival >= ADMITTED,
            }
        )
        out.append(
            {
                "figure": f"{name}: planted dropped, weakest kind ({worst['kind']})",
                "value": f"{worst['dropped']}/{worst['planted']}",
                "unit": "",
                "target": f">= {DROPPED:.0%} per kind",
                "met": all(r["recall"] >= DROPPED for r in score.rows()),
            }
        )
    return out


def table(name: str, score: GroundingScore, read: str | None) -> str:
    lines = [f"### {name}", ""]
    if read:
        lines += [f"First read (before tuning on it): {read}", ""]
    lines += [
        f"Now: {score.admitted_clean} of {score.clean} clean sentences admitted "
        f"({score.clean_survival:.2f}); {score.planted_sentences} planted.",
        "",
        "| kind | planted | dropped | share |",
        "| --- | --- | --- | --- |",
        *(
            f"| {r['kind']} | {r['planted']} | {r['dropped']} | {r['recall']:.2f} |"
            for r in score.rows()
        ),
    ]
    if score.errors:
        lines += ["", "Errors now:", "", *(f"- {e}" for e in score.errors)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the development set only")
    args = parser.parse_args()
    scores: dict[str, GroundingScore] = {}
    details = []
    started = time.perf_counter()
    for path in sets(args.quick):
        name = path.stem.removeprefix("grounding_")
        scores[name] = score_grounding_set(path)
        details.append(table(name, scores[name], first_read(path)))
    elapsed = time.perf_counter() - started
    cases = sum(s.clean + s.planted_sentences for s in scores.values())
    extra = {
        "sets": {
            n: {
                "clean": s.clean,
                "admitted_clean": s.admitted_clean,
                "kinds": s.rows(),
                "errors": s.errors,
            }
            for n, s in scores.items()
        },
        "seconds_per_sentence": round(elapsed / max(cases, 1), 4),
    }
    write_results("grounding", figures(scores), extra, "\n\n".join(details), quick=args.quick)


if __name__ == "__main__":
    main()
