"""Data + features from scratch for the five default tickers, and Feast online read latency.

    .venv/bin/python -m bench.bench_data [--reads 1000] [--quick]

Materializes feature_definitions, then ohlcv -> indicators -> online_features for each default
ticker on a fresh temporary Dagster instance (in-process, as a run would), timing the whole; then
reads one ticker's served features from the Feast online store ``--reads`` times. ``--quick``:
the index and AAPL, 20 reads (seconds; not a measurement).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("FEAST_USAGE", "False")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reads", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="two tickers, 20 reads")
    args = parser.parse_args()

    from bench.common import write_results
    from devkit.platform import tiny_platform
    from stock_assets.defs.assets.features import FEATURE_DEFINITIONS_KEY
    from stock_assets.defs.jobs import DATA_ASSETS
    from stock_assets.domain.feature_store.store import OnlineFeatureReader
    from stock_assets.settings import DEFAULT_TICKERS, INDEX_TICKER

    tickers = (INDEX_TICKER, "AAPL") if args.quick else DEFAULT_TICKERS
    reads = 20 if args.quick else args.reads
    with tempfile.TemporaryDirectory() as tmp, tiny_platform(Path(tmp)) as platform:
        start = time.perf_counter()
        platform.must([FEATURE_DEFINITIONS_KEY])
        platform.register(*tickers)
        per_ticker = {}
        for ticker in tickers:
            t0 = time.perf_counter()
            platform.must(DATA_ASSETS, ticker)
            per_ticker[ticker] = round(time.perf_counter() - t0, 2)
        total = time.perf_counter() - start

        reader = OnlineFeatureReader(platform.resources["feast"].store())
        reader.read(["AAPL"])  # warm the connection
        latencies = []
        for _ in range(reads):
            t0 = time.perf_counter()
            reader.read(["AAPL"])
            latencies.append((time.perf_counter() - t0) * 1000)
        p50, p99 = np.percentile(latencies, [50, 99])

    figures = [
        {
            "figure": f"data + features, {len(tickers)} default tickers, from scratch",
            "value": round(total, 1),
            "unit": "s",
        },
        {
            "figure": f"Feast online read p50 ({reads} reads, 1 entity)",
            "value": round(float(p50), 3),
            "unit": "ms",
        },
        {
            "figure": f"Feast online read p99 ({reads} reads, 1 entity)",
            "value": round(float(p99), 3),
            "unit": "ms",
        },
    ]
    write_results("data_features", figures, {"per_ticker_seconds": per_ticker}, quick=args.quick)


if __name__ == "__main__":
    main()
