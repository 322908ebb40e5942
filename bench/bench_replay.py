"""Market replay throughput and what a replayed year says about live against backtest skill.

    .venv/bin/python -m bench.bench_replay [--sessions 252] [--start 2008-01-02] [--quick]

The five default tickers on the offline sample, default model sizes, on a fresh temporary
instance: onboarding at the start session (not timed as replay), then ``--sessions`` replay
ticks exactly as the replay sensor and the retrain sensor request them, every requested run
executed in process and in sequence (what `make up` runs two at a time, each in its own process
that first imports the code location: see the README for the real sessions per minute there).

Reports sessions per minute retrains included, the time of one daily tick per ticker without a
retrain (median and p90 of the refresh runs; target < 5 s), the retrains and their outcomes,
and, per ticker and horizon, live relative MAE and coverage beside the backtest's promise.
``--quick``: the index and AAPL at the tiny sizes, three sessions (seconds; not a measurement).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("FEAST_USAGE", "False")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
TICK_TARGET_S = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=252, help="replay ticks (252: a year)")
    parser.add_argument("--start", default="2008-01-02", help="first as-of session")
    parser.add_argument("--quick", action="store_true", help="two tickers, tiny, 3 sessions")
    args = parser.parse_args()
    sessions = 3 if args.quick else args.sessions

    tmp = tempfile.mkdtemp(prefix="stockops-replay-bench-")
    os.environ["STOCKOPS_DATA_DIR"] = str(Path(tmp) / "data")
    os.environ["STOCKOPS_REPLAY_START"] = args.start
    os.environ["STOCKOPS_MARKET_DATA_PROVIDER"] = "sample"

    import dagster as dg
    import pandas as pd

    from bench.common import write_results
    from devkit.platform import tiny_platform
    from devkit.sizes import FULL_SIZE, TINY
    from stock_assets import names
    from stock_assets.defs.assets.evaluation import CHAMPION_KEY
    from stock_assets.defs.jobs import REFRESH_ASSETS, TRAINING_ASSETS
    from stock_assets.defs.sensors.replay import market_replay_sensor
    from stock_assets.defs.sensors.retrain import retrain_sensor
    from stock_assets.domain import layout
    from stock_assets.domain.market_data.replay import read_clock, start_clock
    from stock_assets.settings import DEFAULT_TICKERS, INDEX_TICKER, get_settings

    get_settings.cache_clear()
    settings = get_settings()
    start_clock(settings.replay_clock_path, args.start)
    tickers = (INDEX_TICKER, "AAPL") if args.quick else DEFAULT_TICKERS
    sizes = TINY if args.quick else FULL_SIZE
    with tiny_platform(Path(tmp), settings=settings, config=sizes) as platform:
        instance = platform.instance

        def run(
            keys: list[dg.AssetKey] | None, partition: str | None, tags: dict[str, str]
        ) -> dg.ExecuteInProcessResult:
            """A requested run: its selection, or the whole ``ticker_refresh`` job."""
            return platform.must(keys or REFRESH_ASSETS, partition, tags=tags)

        started = time.perf_counter()
        platform.bootstrap()
        onboarding = {names.TRIGGER_TAG: names.ONBOARDING_TRIGGER}
        for ticker in tickers:
            if ticker != INDEX_TICKER:
                platform.onboard(ticker, tags=onboarding)
        onboarding_s = time.perf_counter() - started
        print(f"onboarded at {args.start} in {onboarding_s:.0f} s", flush=True)

        retrain_cursor = retrain_sensor(dg.build_sensor_context(instance=instance)).cursor
        tick_times: dict[str, list[float]] = {t: [] for t in tickers}
        retrains: list[dict[str, str]] = []
        retrain_s = 0.0
        replay_started = time.perf_counter()
        for i in range(sessions):
            outcome = market_replay_sensor(dg.build_sensor_context(instance=instance))
            if not isinstance(outcome, dg.SensorResult):
                print(f"replay stopped: {outcome.skip_message}")
                break
            for request in outcome.run_requests or []:
                batch = platform.run_batch(request)
                assert batch.result.success, f"a batch failed at {outcome.cursor}"
                for ticker, ticker_run in batch.runs.items():
                    record = instance.get_run_record_by_id(ticker_run.run.run_id)
                    assert record is not None and record.end_time and record.start_time
                    tick_times[ticker].append(record.end_time - record.start_time)
            decided = retrain_sensor(
                dg.build_sensor_context(instance=instance, cursor=retrain_cursor)
            )
            retrain_cursor = decided.cursor
            for request in decided.run_requests or []:
                t0 = time.perf_counter()
                result = run(TRAINING_ASSETS, request.partition_key, request.tags)
                retrain_s += time.perf_counter() - t0
                (champion,) = [
                    m
                    for m in result.get_asset_materialization_events()
                    if m.asset_key == CHAMPION_KEY
                ]
                retrains.append(
                    {
                        "ticker": str(request.partition_key),
                        "as_of": read_clock(settings.replay_clock_path).as_of,
                        "trigger": request.tags[names.TRIGGER_TAG],
                        "outcome": str(champion.materialization.metadata["outcome"].value),
                    }
                )
                print(f"  retrain {retrains[-1]}", flush=True)
            if (i + 1) % 20 == 0:
                as_of = read_clock(settings.replay_clock_path).as_of
                rate = (i + 1) / (time.perf_counter() - replay_started) * 60
                print(f"{i + 1} sessions, at {as_of}, {rate:.1f} sessions/min", flush=True)
        replay_s = time.perf_counter() - replay_started
        done = read_clock(settings.replay_clock_path)

        live_rows = []
        for ticker in tickers:
            table = layout.read_table(settings.tables_dir, layout.LIVE_SKILL, ticker)
            if ticker == INDEX_TICKER or table is None:
                continue
            overall = table[table["window"] == 0]
            for row in overall.itertuples():
                live_rows.append(
                    {
                        "ticker": ticker,
                        "horizon": int(row.horizon),
                        "n": int(row.n),
                        "live MAE/naive": round(float(row.relative_mae), 3),
                        "backtest MAE/naive": None
                        if pd.isna(row.promised_relative_mae)
                        else round(float(row.promised_relative_mae), 3),
                        "live coverage": round(float(row.coverage), 3),
                        "backtest coverage": None
                        if pd.isna(row.promised_coverage)
                        else round(float(row.promised_coverage), 3),
                        "decayed now": bool(row.decayed),
                    }
                )

    per_run = [t for times in tick_times.values() for t in times]
    model_runs = [t for k, times in tick_times.items() if k != INDEX_TICKER for t in times]
    median_tick = statistics.median(model_runs) if model_runs else float("nan")
    p90_tick = (
        statistics.quantiles(model_runs, n=10)[-1] if len(model_runs) >= 10 else max(model_runs)
    )
    ticks_done = done.ticks
    outcomes = Counter(r["outcome"] for r in retrains)
    figures = [
        {
            "figure": f"replay throughput, {len(tickers)} tickers, retrains included ({ticks_done} "
            f"sessions from {args.start})",
            "value": round(ticks_done / replay_s * 60, 2),
            "unit": "sessions/min",
        },
        {
            "figure": "daily tick per ticker with a model, no retrain (median, in process)",
            "value": round(median_tick, 2),
            "unit": "s",
            "target": f"< {TICK_TARGET_S:.0f} s",
            "met": median_tick < TICK_TARGET_S,
        },
        {
            "figure": "daily tick per ticker with a model, no retrain (p90, in process)",
            "value": round(p90_tick, 2),
            "unit": "s",
        },
        {
            "figure": "daily tick of the index (data only, median)",
            "value": round(statistics.median(tick_times[INDEX_TICKER]), 2),
            "unit": "s",
        },
        {
            "figure": "challengers trained (promoted / kept champion / baseline served)",
            "value": f"{len(retrains)} ({outcomes.get('promote', 0)} / "
            f"{outcomes.get('keep', 0)} / {outcomes.get('serve_baseline', 0)})",
        },
        {
            "figure": "time in retrains",
            "value": round(retrain_s, 1),
            "unit": "s",
        },
    ]
    live = pd.DataFrame(live_rows)
    markdown = "\n".join(
        [
            f"Replayed {args.start} .. {done.as_of} ({ticks_done} sessions) in {replay_s:.0f} s "
            f"after {onboarding_s:.0f} s of onboarding; {len(per_run)} refresh runs.",
            "",
            "## Retrains",
            "",
            pd.DataFrame(retrains).to_markdown(index=False) if retrains else "None.",
            "",
            "## Live skill beside the backtest's promise (all matured forecasts of the replay)",
            "",
            live.to_markdown(index=False) if not live.empty else "No live skill.",
        ]
    )
    print(markdown)
    write_results(
        "replay",
        figures,
        extra={
            "retrains": retrains,
            "live": live_rows,
            "sessions": ticks_done,
            "start": args.start,
        },
        markdown=markdown,
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
