"""Data + features from scratch for the five default tickers, and Feast online read latency.

    .venv/bin/python -m bench.bench_data [--reads 1000]

Materializes feature_definitions, then ohlcv -> indicators -> online_features for each default
ticker on a fresh temporary Dagster instance (in-process, as a run would), timing the whole; then
reads one ticker's served features from the Feast online store ``--reads`` times.
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
    args = parser.parse_args()

    import dagster as dg

    from bench.common import write_results
    from stock_assets.defs.assets.features import feature_definitions, online_features
    from stock_assets.defs.assets.market import indicators, ohlcv
    from stock_assets.defs.partitions import TICKERS_PARTITION
    from stock_assets.defs.resources import resources_from_settings
    from stock_assets.domain.feature_store.store import OnlineFeatureReader
    from stock_assets.settings import DEFAULT_TICKERS, Settings

    with tempfile.TemporaryDirectory() as tmp, dg.instance_for_test(temp_dir=tmp) as instance:
        settings = Settings(data_dir=Path(tmp) / "data")
        resources = resources_from_settings(settings)
        start = time.perf_counter()
        dg.materialize([feature_definitions], instance=instance, resources=resources)
        instance.add_dynamic_partitions(TICKERS_PARTITION, list(DEFAULT_TICKERS))
        per_ticker = {}
        for ticker in DEFAULT_TICKERS:
            t0 = time.perf_counter()
            result = dg.materialize(
                [ohlcv, indicators, online_features],
                partition_key=ticker,
                instance=instance,
                resources=resources,
            )
            assert result.success, ticker
            per_ticker[ticker] = round(time.perf_counter() - t0, 2)
        total = time.perf_counter() - start

        reader = OnlineFeatureReader(resources["feast"].store())  # type: ignore[attr-defined]
        reader.read(["AAPL"])  # warm the connection
        latencies = []
        for _ in range(args.reads):
            t0 = time.perf_counter()
            reader.read(["AAPL"])
            latencies.append((time.perf_counter() - t0) * 1000)
        p50, p99 = np.percentile(latencies, [50, 99])

    write_results(
        "data_features",
        [
            {"figure": "data + features, 5 default tickers, from scratch", "value": round(total, 1),
             "unit": "s", "target": "-", "met": None},
            {"figure": f"Feast online read p50 ({args.reads} reads, 1 entity)",
             "value": round(float(p50), 3), "unit": "ms", "target": "-", "met": None},
            {"figure": f"Feast online read p99 ({args.reads} reads, 1 entity)",
             "value": round(float(p99), 3), "unit": "ms", "target": "-", "met": None},
        ],
        {"per_ticker_seconds": per_ticker},
    )  # fmt: skip


if __name__ == "__main__":
    main()
