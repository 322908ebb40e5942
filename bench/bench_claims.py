"""The critic's claim reader on its regression set: recall and precision per claim kind.

    .venv/bin/python -m bench.bench_claims

Reads every case of ``bench/data/claim_regression.yaml`` against its scenario's facts, and the
code-written text of a full report per scenario (claims flagged there are false alarms), with
the MiniLM claim reader the critic uses. Prints and writes per kind, for the regression cases
and apart for the held-out ones: planted contradictions, caught, false alarms, recall,
precision; and the time to fit the reader and to read one case. Targets on the regression
cases: recall >= 95% and precision >= 90% for every claim kind (off-topic text is reported
beside them without a target). The held-out cases were written after
the reader was tuned; their first read is recorded in the set's header.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from agent_graph.claims import ClaimReader
from bench.common import write_results
from devkit.reports import SetScore, score_set

RECALL, PRECISION = 0.95, 0.90


def measure() -> tuple[SetScore, SetScore, dict[str, float]]:
    reader = ClaimReader()
    started = time.perf_counter()
    reader.load()
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    tuned = score_set(reader, holdout=False)
    read_s = time.perf_counter() - started
    held_out = score_set(reader, holdout=True)
    return tuned, held_out, {"fit_s": load_s, "per_case_ms": read_s / tuned.cases * 1e3}


def figures(tuned: SetScore, held_out: SetScore, timing: dict[str, float]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, score in (("regression", tuned), ("held out", held_out)):
        for row in score.rows():
            for measure, target in (("recall", RECALL), ("precision", PRECISION)):
                held = name == "regression" and row["kind"] != "topic"  # the claim kinds
                out.append(
                    {
                        "figure": f"{name}, {row['kind']}: {measure}",
                        "value": row[measure],
                        "unit": "",
                        "target": f">= {target}" if held else "",
                        "met": row[measure] >= target if held else None,
                    }
                )
    out.append(
        {
            "figure": "fit the reader (prototype embeddings cached per machine)",
            "value": round(timing["fit_s"], 2),
            "unit": "s",
            "target": "",
            "met": None,
        }
    )
    out.append(
        {
            "figure": "read one case",
            "value": round(timing["per_case_ms"], 1),
            "unit": "ms",
            "target": "",
            "met": None,
        }
    )
    return out


def table(score: SetScore, title: str) -> str:
    lines = [
        f"### {title}",
        "",
        f"{score.cases} cases ({score.clean_cases} clean)"
        + (
            " and the code-written text of one full report per scenario."
            if title.startswith("Regression")
            else "."
        ),
        "",
        "| kind | planted | caught | false alarms | recall | precision |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in score.rows():
        lines.append(
            f"| {r['kind']} | {r['planted']} | {r['caught']} | {r['false_alarms']} | "
            f"{r['recall']:.3f} | {r['precision']:.3f} |"
        )
    if score.errors:
        lines += ["", "Misses and false alarms:", "", *(f"- {e}" for e in score.errors)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the same sets, written apart")
    args = parser.parse_args()
    tuned, held_out, timing = measure()
    text = table(tuned, "Regression cases") + "\n\n" + table(held_out, "Held-out cases")
    print(text)
    print(f"\nreader fitted in {timing['fit_s']:.2f} s; {timing['per_case_ms']:.1f} ms per case")
    extra = {
        "regression": tuned.rows(),
        "held_out": held_out.rows(),
        "errors": tuned.errors + held_out.errors,
    }
    write_results("claims", figures(tuned, held_out, timing), extra, text, quick=args.quick)


if __name__ == "__main__":
    main()
