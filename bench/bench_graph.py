"""The full default graph from scratch: data, features, parent, four children, backtests,
promotion and forecasts, with the full model sizes, on a fresh temporary instance.

    .venv/bin/python -m bench.bench_graph

Runs in-process and sequentially (the worst case: `make up` runs two at a time). Reports the
wall time per stage and in total, training throughput and peak memory. Target: <= 15 minutes on
2 CPU cores.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("FEAST_USAGE", "False")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
TARGET_S = 15 * 60


def main() -> None:
    import dagster as dg
    import torch

    from bench.common import write_results
    from stock_assets.definitions import ASSETS
    from stock_assets.defs.partitions import TICKERS_PARTITION
    from stock_assets.defs.resources import resources_from_settings
    from stock_assets.settings import DEFAULT_TICKERS, INDEX_TICKER, Settings

    stages: dict[str, float] = {}
    throughput: dict[str, float] = {}
    served: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp, dg.instance_for_test(temp_dir=tmp) as instance:
        resources = resources_from_settings(Settings(data_dir=Path(tmp) / "data"))

        def run(selection: list[str], partition: str | None = None) -> dg.ExecuteInProcessResult:
            return dg.materialize(
                ASSETS,
                selection=selection,
                partition_key=partition,
                instance=instance,
                resources=resources,
                raise_on_error=False,
            )

        start = time.perf_counter()
        run(["feature_definitions"])
        instance.add_dynamic_partitions(TICKERS_PARTITION, list(DEFAULT_TICKERS))
        t0 = time.perf_counter()
        for ticker in DEFAULT_TICKERS:
            assert run(["ohlcv", "indicators", "online_features"], ticker).success
        stages["data + features (5 tickers)"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        parent = run(["parent_model"])
        assert parent.success
        stages["parent model"] = time.perf_counter() - t0
        meta = parent.asset_materializations_for_node("parent_model")[0].metadata
        throughput["parent"] = float(meta["samples_per_s"].value)

        for ticker in [t for t in DEFAULT_TICKERS if t != INDEX_TICKER]:
            t0 = time.perf_counter()
            result = run(["child_model", "backtest", "champion_model", "forecast"], ticker)
            stages[f"{ticker}: child + backtest + promotion + forecast"] = time.perf_counter() - t0
            child_meta = result.asset_materializations_for_node("child_model")[0].metadata
            throughput[ticker] = float(child_meta["samples_per_s"].value)
            bt = result.asset_materializations_for_node("backtest")[0].metadata
            served[ticker] = (
                f"{bt['served_model'].value} ({bt['outcome'].value}; rel. MAE h1 "
                f"{float(bt['served_relative_mae_h1'].value):.3f}, p vs naive "
                f"{float(bt['served_p_vs_naive_h1'].value):.3f})"
            )
        total = time.perf_counter() - start

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = [
        {"figure": "full default graph, sequential, from scratch", "value": round(total, 1),
         "unit": "s", "target": f"<= {TARGET_S} s", "met": total <= TARGET_S},
        *({"figure": f"stage: {name}", "value": round(sec, 1), "unit": "s", "target": "-",
           "met": None} for name, sec in stages.items()),
        *({"figure": f"training throughput: {name}", "value": round(sps), "unit": "samples/s",
           "target": "-", "met": None} for name, sps in throughput.items()),
        *({"figure": f"served by the promotion policy: {t}", "value": v, "unit": "",
           "target": "-", "met": None} for t, v in served.items()),
        {"figure": "peak resident memory", "value": round(peak_mib), "unit": "MiB",
         "target": "-", "met": None},
    ]  # fmt: skip
    write_results("full_graph", figures, {"torch_threads": torch.get_num_threads()})


if __name__ == "__main__":
    main()
