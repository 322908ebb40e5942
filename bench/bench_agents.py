"""Agents: fresh ``/analyze`` reports for every offline stock, with no question and with two,
timed cold (the local LLM writes) and from the semantic cache, and what the grounding gate did
with the model's sentences.

    .venv/bin/python -m bench.bench_agents [--quick] [--runtime transformers]

Onboards the offline stocks (tiny model sizes, the real promotion policy) into a data dir and a
Dagster home of their own, serves the API with uvicorn (its production entry point, the default
local model) and calls it over HTTP. Every report is ``refresh: true`` (the semantic cache
skipped, the whole graph run): 4 stocks x (no question, "Is the trend holding?", "What are the
main risks this week?") = 12 reports. Per report: the cold time, the sentences the model wrote,
admitted and dropped by the gate, the narrative sentences published by the model and by code,
the evaluator's grounding (every published model sentence read again by a fresh gate), whether
the question was answered or said to be outside the facts, numbers verified, claims the facts do
not allow. The first request of the process (it may wait for the models to load) is reported
apart; then the same requests without ``refresh`` are semantic-cache hits. Targets (2 cores):
cold median <= 10 s, cache hit p50 <= 100 ms, every published sentence grounded, every question
answered or declined, 100 % of numbers verified, no claim the facts do not allow.
``--quick``: AAPL with one question, fewer cache hits.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import write_results
from devkit.platform import served_platform
from devkit.servers import running_api

TICKERS = ("AAPL", "MSFT", "IBM", "GOOG")
QUESTIONS = (None, "Is the trend holding?", "What are the main risks this week?")
COLD_S, HIT_MS = 10.0, 100.0


def peak_rss_mib(pid: int) -> float | None:
    """The process's peak resident memory (VmHWM), from /proc."""
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def report_row(ticker: str, question: str | None, cold_s: float, body: dict[str, Any]) -> dict:
    report, evaluation = body["report"], body["evaluation"]
    counts = evaluation["sentences"]
    asked = report.get("question")
    return {
        "ticker": ticker,
        "question": question,
        "cold_s": round(cold_s, 2),
        "generated": counts["generated"],
        "admitted": counts["admitted"],
        "dropped": counts["dropped"],
        "published_model": counts["published_model"],
        "published_code": counts["published_code"],
        "grounded": evaluation["grounded"],
        "ungrounded": evaluation["ungrounded_sentences"],
        "answered": None if asked is None else asked["answered"],
        "declined": None if asked is None else bool(asked["unanswered"]),
        "verified": report["verified_numbers"],
        "unverified": report["unverified_numbers"],
        "unsupported_claims": evaluation["unsupported_claims"],
        "faithfulness": evaluation["faithfulness"],
        "reasons": [g["reasons"][0].split(":")[0] for g in report["gate"] if not g["admitted"]],
        "model_sentences": [
            s["text"]
            for p in report["paragraphs"]
            for s in p["sentences"]
            if s["source"] == "model"
        ],
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| ticker | question | cold s | written | admitted | dropped | published by model / "
        "code | grounded | question |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        question = r["question"] or "-"
        answer = "-" if r["answered"] is None else "answered" if r["answered"] else "declined"
        lines.append(
            f"| {r['ticker']} | {question} | {r['cold_s']} | {r['generated']} | {r['admitted']} "
            f"| {r['dropped']} | {r['published_model']} / {r['published_code']} | "
            f"{r['grounded']:.2f} | {answer} |"
        )
    reasons = collections.Counter(reason for r in rows for reason in r["reasons"])
    lines += ["", "Why the gate dropped the model's sentences (first reason of each):", ""]
    lines += [f"- {reason}: {n}" for reason, n in reasons.most_common()]
    lines += ["", "Sentences of the model that were published:", ""]
    lines += [f"- {r['ticker']}: {text}" for r in rows for text in r["model_sentences"]]
    return "\n".join(lines)


def figures(
    rows: list[dict[str, Any]], first_s: float, warm: list[float], peak: float | None
) -> list[dict[str, Any]]:
    cold = [r["cold_s"] for r in rows]
    warm_ms = np.asarray(warm) * 1000
    written = sum(r["generated"] for r in rows)
    admitted = sum(r["admitted"] for r in rows)
    grounded = sum(r["grounded"] == 1.0 and not r["ungrounded"] for r in rows)
    asked = [r for r in rows if r["answered"] is not None]
    replied = sum(r["answered"] or r["declined"] for r in asked)
    verified = sum(r["verified"] for r in rows)
    total = verified + sum(r["unverified"] for r in rows)
    wrong = [c for r in rows for c in r["unsupported_claims"]]
    hit50, hit95 = float(np.percentile(warm_ms, 50)), float(np.percentile(warm_ms, 95))
    n = len(rows)
    return [
        {
            "figure": f"/analyze cold, local LLM: median over {n} fresh reports",
            "value": round(statistics.median(cold), 2),
            "unit": "s",
            "target": f"<= {COLD_S:.0f} s",
            "met": statistics.median(cold) <= COLD_S,
        },
        {
            "figure": "/analyze cold, local LLM: slowest report",
            "value": round(max(cold), 2),
            "unit": "s",
            "target": "-",
            "met": None,
        },
        {
            "figure": "/analyze first request of the process (may wait for the models)",
            "value": round(first_s, 2),
            "unit": "s",
            "target": "-",
            "met": None,
        },
        {
            "figure": f"/analyze semantic-cache hit p50 ({len(warm)} requests)",
            "value": round(hit50, 1),
            "unit": "ms",
            "target": f"<= {HIT_MS:.0f} ms",
            "met": hit50 <= HIT_MS,
        },
        {
            "figure": "/analyze semantic-cache hit p95",
            "value": round(hit95, 1),
            "unit": "ms",
            "target": "-",
            "met": None,
        },
        {
            "figure": "sentences the model wrote / admitted / dropped",
            "value": f"{written} / {admitted} / {written - admitted}",
            "unit": "",
            "target": "-",
            "met": None,
        },
        {
            "figure": "share of the model's sentences admitted",
            "value": round(admitted / written, 3) if written else 0.0,
            "unit": "",
            "target": "-",
            "met": None,
        },
        {
            "figure": "narrative sentences published by the model / by code",
            "value": f"{sum(r['published_model'] for r in rows)} / "
            f"{sum(r['published_code'] for r in rows)}",
            "unit": "",
            "target": "-",
            "met": None,
        },
        {
            "figure": "reports whose every published sentence restates the facts",
            "value": f"{grounded}/{n}",
            "unit": "",
            "target": "all",
            "met": grounded == n,
        },
        {
            "figure": "reports asked a question that answer it or say the facts do not",
            "value": f"{replied}/{len(asked)}",
            "unit": "",
            "target": "all",
            "met": replied == len(asked),
        },
        {
            "figure": f"numbers verified by the critic ({verified}/{total})",
            "value": round(100.0 * verified / total, 2) if total else 100.0,
            "unit": "%",
            "target": "100 %",
            "met": verified == total,
        },
        {
            "figure": "claims the facts do not allow, in the final reports",
            "value": len(wrong),
            "unit": "",
            "target": "0",
            "met": not wrong,
        },
        {
            "figure": "API server peak resident memory",
            "value": peak,
            "unit": "MiB",
            "target": "-",
            "met": None,
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="AAPL, one question")
    parser.add_argument(
        "--runtime",
        choices=["transformers", "llama-cpp"],
        default="transformers",
        help="local LLM runtime (llama-cpp needs the llamacpp extra); results of a runtime "
        "other than the default go to agents_<runtime>.json",
    )
    args = parser.parse_args()
    tickers = TICKERS[:1] if args.quick else TICKERS
    questions = QUESTIONS[1:2] if args.quick else QUESTIONS
    with served_platform("agents", tickers=tickers) as (root, prepare_s):
        run(args, root, prepare_s, tickers, questions)


def run(
    args: argparse.Namespace,
    root: Path,
    prepare_s: float,
    tickers: tuple[str, ...],
    questions: tuple[str | None, ...],
) -> None:
    import httpx

    print(f"onboarded {', '.join(tickers)} in {prepare_s:.0f} s under {root}")
    settings = {"STOCKOPS_RATE_LIMIT_ENABLED": "false", "STOCKOPS_LLM_RUNTIME": args.runtime}
    if args.quick:  # a smoke run: one restated fact per paragraph
        settings["STOCKOPS_AGENT_SENTENCE_BUDGET"] = "1"
    rows: list[dict[str, Any]] = []
    warm: list[float] = []
    with running_api(root, **settings) as api, httpx.Client(base_url=api.url, timeout=180) as http:

        def analyze(ticker: str, question: str | None, refresh: bool) -> tuple[float, dict]:
            started = time.perf_counter()
            body = {"ticker": ticker, "refresh": refresh, "question": question}
            answer = http.post("/analyze", json=body)
            elapsed = time.perf_counter() - started
            assert answer.status_code == 200, answer.text
            return elapsed, answer.json()

        # The first request may wait for the models to load: timed apart (a quick run skips it).
        first_s = 0.0 if args.quick else analyze(tickers[0], None, True)[0]
        for ticker in tickers:
            for question in questions:
                cold_s, body = analyze(ticker, question, True)
                assert body["cache_hit"] is False, body["cache_status"]
                rows.append(report_row(ticker, question, cold_s, body))
                print(f"{ticker} {question or '-'}: {cold_s:.2f} s", flush=True)
        for _ in range(3 if args.quick else 5):
            for ticker in tickers:
                for question in questions:
                    elapsed, body = analyze(ticker, question, False)
                    assert body["cache_hit"] is True, body["cache_status"]
                    warm.append(elapsed)
        peak = peak_rss_mib(api.pid)
    details = table(rows)
    print(details)
    extra = {"runtime": args.runtime, "prepare_s": round(prepare_s, 1), "reports": rows}
    name = (
        "agents" if args.runtime == "transformers" else f"agents_{args.runtime.replace('-', '_')}"
    )
    write_results(name, figures(rows, first_s, warm, peak), extra, details, quick=args.quick)
    with contextlib.suppress(OSError):
        print(f"server log: {api.log}")


if __name__ == "__main__":
    main()
