"""How often the drift check would fire on real, unchanged history, and on a shifted one.

For every sample ticker, rolling windows every 20 sessions: current = 60 rows, reference = the
504 rows before them (the drift report's defaults). Per column the Wasserstein distance in
reference standard deviations (Evidently's ``wasserstein`` method, computed here directly so the
sweep takes seconds); a window "drifts" when more than half of the five inputs reach the column
threshold. The shifted case amplifies the last 60 daily moves 4x (what tests/defs/test_drift.py
does). This is what the default threshold (0.75) was chosen from.

Also what one ticker's drift scores cost a run, which starts in a fresh interpreter: the scores
computed with numpy (what ``drift_report`` does) against Evidently's report and HTML (what it did
for every ticker, and still does when drift is found or someone asks), each beyond the same set-up
(imports, AAPL's indicators, the windows), median of three fresh processes.

    .venv/bin/python -m bench.bench_drift [--quick]

``--quick``: AAPL alone, a window every 200 sessions (seconds; not a measurement).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import numpy as np
import pandas as pd
from scipy.stats import wasserstein_distance

from bench.common import write_results
from devkit.series import amplify_recent_moves
from stock_assets.domain.indicators import compute_indicators
from stock_assets.domain.market_data import OfflineSampleProvider
from stock_assets.domain.monitoring import DRIFT_FEATURE_COLUMNS

TICKERS = ("^GSPC", "AAPL", "MSFT", "IBM", "GOOG")
THRESHOLDS = (0.2, 0.5, 0.75, 1.0)
CURRENT, REFERENCE, STEP = 60, 504, 20


def _scores(reference: pd.DataFrame, current: pd.DataFrame) -> list[float]:
    return [
        wasserstein_distance(reference[c], current[c]) / max(float(np.std(reference[c])), 1e-3)
        for c in DRIFT_FEATURE_COLUMNS
    ]


def _drifts(scores: list[float], threshold: float) -> bool:
    return sum(s >= threshold for s in scores) / len(scores) > 0.5


SETUP = """
import tempfile
import pandas as pd
from stock_assets.domain.indicators import compute_indicators
from stock_assets.domain.market_data import OfflineSampleProvider
from stock_assets.domain.monitoring import DriftSettings, compute_drift, drift_windows
from stock_assets.domain.monitoring import render_drift_html
settings = DriftSettings()
frame = compute_indicators(OfflineSampleProvider().fetch("AAPL"))
windows = drift_windows(frame, pd.Timestamp("2012-03-01"), settings)
"""
STEPS = {
    "set-up only": "",
    "numpy scores": "compute_drift(windows, settings, ticker='AAPL')",
    "Evidently report and HTML": "render_drift_html(windows, settings, "
    "tempfile.mkdtemp() + '/r.html')",
}


def fresh_process_s(code: str, repeats: int) -> float:
    """Median wall time of ``python -c SETUP + code`` in a fresh interpreter."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", SETUP + code], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="AAPL, a window every 200 sessions")
    args = parser.parse_args()
    tickers, step = (("AAPL",), 10 * STEP) if args.quick else (TICKERS, STEP)
    provider = OfflineSampleProvider()
    fired = {t: [] for t in THRESHOLDS}  # type: ignore[var-annotated]
    caught = {t: 0 for t in THRESHOLDS}
    for ticker in tickers:
        raw = provider.fetch(ticker)
        table = compute_indicators(raw).dropna().reset_index(drop=True)
        for end in range(CURRENT + REFERENCE, len(table) + 1, step):
            scores = _scores(
                table.iloc[end - CURRENT - REFERENCE : end - CURRENT],
                table.iloc[end - CURRENT : end],
            )
            for t in THRESHOLDS:
                fired[t].append(_drifts(scores, t))
        shifted = (
            compute_indicators(amplify_recent_moves(raw, CURRENT, 4.0))
            .dropna()
            .reset_index(drop=True)
        )
        n = len(shifted)
        scores = _scores(
            shifted.iloc[n - CURRENT - REFERENCE : n - CURRENT], shifted.iloc[n - CURRENT :]
        )
        for t in THRESHOLDS:
            caught[t] += _drifts(scores, t)
    figures = []
    for t in THRESHOLDS:
        rate = 100 * float(np.mean(fired[t]))
        figures.append(
            {
                "figure": f"column threshold {t}: unchanged windows flagged (n={len(fired[t])})",
                "value": round(rate, 1),
                "unit": "%",
                "target": "<= 5% at the default (0.75)" if t == 0.75 else "-",
                "met": rate <= 5 if t == 0.75 else None,
            }
        )
        figures.append(
            {
                "figure": f"column threshold {t}: 4x-amplified last 60 days flagged",
                "value": f"{caught[t]}/{len(tickers)}",
                "unit": "tickers",
                "target": "all at the default" if t == 0.75 else "-",
                "met": caught[t] == len(tickers) if t == 0.75 else None,
            }
        )
    repeats = 1 if args.quick else 3
    cost = {name: fresh_process_s(code, repeats) for name, code in STEPS.items()}
    for name in ("numpy scores", "Evidently report and HTML"):
        figures.append(
            {
                "figure": f"one ticker's drift in a fresh process: {name}, beyond the set-up",
                "value": round(cost[name] - cost["set-up only"], 2),
                "unit": "s",
                "target": "-",
                "met": None,
            }
        )
    write_results(
        "drift_calibration",
        figures,
        {"current_rows": CURRENT, "reference_rows": REFERENCE},
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
