"""The full default graph from scratch: data, features, parent, four children, backtests,
promotion and forecasts, with the full model sizes, on a fresh temporary instance.

    .venv/bin/python -m bench.bench_graph [--quick]

Runs in-process and sequentially (the worst case: `make up` runs two at a time), the onboarding
plan's selections (``stock_assets.defs.jobs``) on the code location's own assets. Reports the
wall time per stage and in total, training throughput and peak memory. Target: <= 15 minutes on
2 CPU cores. ``--quick``: the index and AAPL at the tiny sizes (seconds; not a measurement).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("FEAST_USAGE", "False")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
TARGET_S = 15 * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the index and AAPL, tiny sizes")
    args = parser.parse_args()

    import torch

    from bench.common import write_results
    from devkit.platform import tiny_platform
    from devkit.sizes import FULL_SIZE, TINY
    from stock_assets import names
    from stock_assets.defs.assets.features import FEATURE_DEFINITIONS_KEY
    from stock_assets.defs.assets.models import PARENT_KEY
    from stock_assets.defs.jobs import DATA_ASSETS, TRAINING_ASSETS
    from stock_assets.settings import DEFAULT_TICKERS, INDEX_TICKER

    tickers = (INDEX_TICKER, "AAPL") if args.quick else DEFAULT_TICKERS
    stages: dict[str, float] = {}
    throughput: dict[str, float] = {}
    served: dict[str, str] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        tiny_platform(Path(tmp), config=TINY if args.quick else FULL_SIZE) as platform,
    ):
        start = time.perf_counter()
        platform.must([FEATURE_DEFINITIONS_KEY])
        platform.register(*tickers)
        t0 = time.perf_counter()
        for ticker in tickers:
            platform.must(DATA_ASSETS, ticker)
        stages[f"data + features ({len(tickers)} tickers)"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        parent = platform.must([PARENT_KEY])
        stages["parent model"] = time.perf_counter() - t0
        meta = parent.asset_materializations_for_node(names.PARENT_MODEL)[0].metadata
        throughput["parent"] = float(meta["samples_per_s"].value)

        for ticker in [t for t in tickers if t != INDEX_TICKER]:
            t0 = time.perf_counter()
            result = platform.must(TRAINING_ASSETS, ticker)
            stages[f"{ticker}: child + backtest + promotion + forecast"] = time.perf_counter() - t0
            child = result.asset_materializations_for_node(names.CHILD_MODEL)[0].metadata
            throughput[ticker] = float(child["samples_per_s"].value)
            bt = result.asset_materializations_for_node(names.BACKTEST)[0].metadata
            served[ticker] = (
                f"{bt['plan'].value} ({bt['outcome'].value}; rel. MAE h1 "
                f"{float(bt['served_relative_mae_h1'].value):.3f}, p vs naive "
                f"{float(bt['served_p_vs_naive_h1'].value):.3f})"
            )
        total = time.perf_counter() - start

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = [
        {
            "figure": "full default graph, sequential, from scratch",
            "value": round(total, 1),
            "unit": "s",
            "target": f"<= {TARGET_S} s",
            "met": total <= TARGET_S,
        },
        *(
            {"figure": f"stage: {name}", "value": round(sec, 1), "unit": "s"}
            for name, sec in stages.items()
        ),
        *(
            {"figure": f"training throughput: {name}", "value": round(sps), "unit": "samples/s"}
            for name, sps in throughput.items()
        ),
        *(
            {"figure": f"served by the promotion policy: {ticker}", "value": value}
            for ticker, value in served.items()
        ),
        {"figure": "peak resident memory", "value": round(peak_mib), "unit": "MiB"},
    ]
    write_results(
        "full_graph",
        figures,
        {"tickers": list(tickers), "torch_threads": torch.get_num_threads()},
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
