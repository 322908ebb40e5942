"""The critic's claim reader on its regression set: recall and precision per claim kind.

    .venv/bin/python -m bench.bench_claims

Reads every case of ``bench/data/claim_regression.yaml`` against its scenario's facts, and the
code-written text of a full report per scenario (claims flagged there are false alarms), with
the MiniLM claim reader the critic uses. Prints and writes per kind: planted contradictions,
caught, false alarms, recall, precision; and the time to embed the prototypes and to read one
report. Targets: recall >= 95% and precision >= 90% for every kind.
"""

from __future__ import annotations

import time
from typing import Any

from agent_graph.claims import ClaimReader
from bench.claim_regression import SetScore, load_set, score_set
from bench.common import write_results

RECALL, PRECISION = 0.95, 0.90


def measure() -> tuple[SetScore, dict[str, float]]:
    reader = ClaimReader()
    started = time.perf_counter()
    reader.load()
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    score = score_set(reader)
    read_s = time.perf_counter() - started
    cases = len(load_set()["cases"])
    return score, {"prototypes_s": load_s, "set_s": read_s, "per_case_ms": read_s / cases * 1e3}


def figures(score: SetScore, timing: dict[str, float]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row in score.rows():
        out.append({"figure": f"{row['kind']}: recall", "value": row["recall"], "unit": "",
                    "target": f">= {RECALL}", "met": row["recall"] >= RECALL})  # fmt: skip
        out.append({"figure": f"{row['kind']}: precision", "value": row["precision"], "unit": "",
                    "target": f">= {PRECISION}", "met": row["precision"] >= PRECISION})  # fmt: skip
    out.append(
        {
            "figure": "embed the prototypes (once per process)",
            "value": round(timing["prototypes_s"], 2),
            "unit": "s",
            "target": "",
            "met": None,
        }
    )
    out.append({"figure": "read one case", "value": round(timing["per_case_ms"], 1),
                "unit": "ms", "target": "", "met": None})  # fmt: skip
    return out


def table(score: SetScore) -> str:
    lines = [
        f"{score.cases} cases ({score.clean_cases} clean) and the code-written text of one full "
        "report per scenario.",
        "",
        "| kind | planted | caught | false alarms | recall | precision |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in score.rows():
        lines.append(f"| {r['kind']} | {r['planted']} | {r['caught']} | {r['false_alarms']} | "
                     f"{r['recall']:.3f} | {r['precision']:.3f} |")  # fmt: skip
    if score.errors:
        lines += ["", "Misses and false alarms:", "", *(f"- {e}" for e in score.errors)]
    return "\n".join(lines)


def main() -> None:
    score, timing = measure()
    text = table(score)
    print(text)
    print(f"\nprototypes embedded in {timing['prototypes_s']:.2f} s; "
          f"{timing['per_case_ms']:.1f} ms per case")  # fmt: skip
    write_results("claims", figures(score, timing), {"kinds": score.rows(),
                  "errors": score.errors}, markdown=text)  # fmt: skip


if __name__ == "__main__":
    main()
