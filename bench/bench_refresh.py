"""The daily refresh at scale, end to end: N synthetic tickers through the real schedule and
real batch runs, each batch in a fresh interpreter (what the local run launcher or a run pod
starts).

    .venv/bin/python -m bench.bench_refresh [--tickers 500] [--with-model 8] [--concurrency 2]

Set-up (not timed): a data directory and a Dagster instance of their own (SQLite, the instance
file ``make up`` uses), N synthetic tickers (random-walk OHLCV, 1,500 sessions each, files read
by the ``files`` provider, as a user's own data would be), the Feast registry, the index's data
and parent, and ``--with-model`` tickers onboarded at the tiny model sizes; the others have no
model yet and refresh their data and features only, like the index.

Measured: the daily schedule's requests (batch size and spread from the settings), every batch
executed by a fresh interpreter that imports the code location and runs the ``ticker_batch``
job, ``--concurrency`` at once (two: ``max_concurrent_runs`` in config/dagster.yaml). Reported:
wall time, runs launched, start-up (the import) per batch, CPU seconds per ticker (all batch
processes' user + system time over the tickers), work per ticker (each ticker's run, start to
end, from the run records) for tickers with and without a model, and the peak memory of a batch
process. ``bench.cost_model`` reads these figures.

``--workers 2 --concurrency 1 --storage postgres``: what one 2-vCPU run pod does on Kubernetes
(the chart's ``STOCKOPS_RUN_BATCH_WORKERS``), written as ``refresh_postgres_pod``: wall time
times pods is then pod time. ``--quick``: 12 tickers, one with a model, batches of 5 (seconds;
not a measurement).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SESSIONS = 1500
WALL_TARGET_S = 600.0  # 500 tickers in under 10 minutes


def _environment(root: Path, folder: Path, batch_size: int) -> dict[str, str]:
    return {
        "STOCKOPS_DATA_DIR": str(root / "data"),
        "DAGSTER_HOME": str(root / "dagster"),
        "STOCKOPS_MARKET_DATA_PROVIDER": "files",
        "STOCKOPS_MARKET_DATA_DIR": str(folder),
        "STOCKOPS_RUN_BATCH_SIZE": str(batch_size),
        "STOCKOPS_TORCH_THREADS": "1",
        "FEAST_USAGE": "False",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "HF_HUB_OFFLINE": "1",
        "STOCKOPS_LOG_LEVEL": "WARNING",
    }


def worker(spec_path: Path) -> None:
    """One batch run, as a run worker does it: import the code location, execute the run."""
    started = time.perf_counter()
    import dagster as dg

    from stock_assets.definitions import defs

    imported = time.perf_counter() - started
    spec = json.loads(spec_path.read_text())
    with dg.DagsterInstance.get() as instance:
        job = defs.resolve_job_def(spec["job"])
        result = job.execute_in_process(
            run_config=spec["run_config"],
            instance=instance,
            tags=spec["tags"],
            raise_on_error=False,
        )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)  # the batch's spawned workers
    spec_path.with_suffix(".out.json").write_text(
        json.dumps(
            {
                "run_id": result.run_id,
                "success": result.success,
                "import_s": imported,
                "total_s": time.perf_counter() - started,
                "cpu_s": usage.ru_utime + usage.ru_stime + workers.ru_utime + workers.ru_stime,
                "max_rss_mib": max(usage.ru_maxrss, workers.ru_maxrss) / 1024,
            }
        )
    )


def spread(tickers: list[str], k: int) -> list[str]:
    """``k`` tickers evenly through the list, none at its start: a batch process's first
    ticker runs pay its one-off imports (PyTorch, matplotlib), a cost of the process that the
    figures count once, not a with-model ticker's own."""
    step = len(tickers) / max(k, 1)
    return [tickers[int(step * (i + 0.5))] for i in range(min(k, len(tickers)))]


def _result_name(args: argparse.Namespace) -> str:
    """``refresh`` (SQLite, the local default), ``refresh_postgres``, ``..._pod`` when each batch
    run uses two processes as a 2-vCPU pod does, ``..._5000`` for 5,000 tickers."""
    name = "refresh" if args.storage == "sqlite" else f"refresh_{args.storage}"
    name = f"{name}_pod" if args.workers > 1 else name
    # 500 tickers is the default measurement; another count keeps its own results file.
    return name if args.quick or args.tickers == 500 else f"{name}_{args.tickers}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument("--with-model", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the setting's")
    parser.add_argument("--concurrency", type=int, default=2, help="batch runs at once")
    parser.add_argument(
        "--workers", type=int, default=1, help="processes per batch run (2: a 2-vCPU pod's)"
    )
    parser.add_argument(
        "--storage",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="the instance's storage: SQLite (`make up`) or PostgreSQL on localhost (production)",
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    from devkit.servers import postgres_storage, scratch_database

    root = Path(tempfile.mkdtemp(prefix="stockops-refresh-bench-"))
    folder = root / "market"
    (root / "dagster").mkdir(parents=True)
    shutil.copy(REPO / "config" / "dagster.yaml", root / "dagster" / "dagster.yaml")
    with contextlib.ExitStack() as stack:
        if args.storage == "postgres":
            database = stack.enter_context(scratch_database("stockops_refresh_bench"))
            instance_file = root / "dagster" / "dagster.yaml"
            instance_file.write_text(instance_file.read_text() + postgres_storage(database))
        _measure(args, root, folder)


def _measure(args: argparse.Namespace, root: Path, folder: Path) -> None:
    """Set up, then refresh every ticker as the daily schedule asks; write the figures."""
    count = 12 if args.quick else args.tickers
    with_model = 1 if args.quick else args.with_model
    batch_size = 5 if args.quick else args.batch_size

    import pandas as pd

    from stock_assets.domain.market_data import OfflineSampleProvider
    from stock_assets.settings import INDEX_TICKER, Settings

    default_size = Settings().run_batch_size
    env = _environment(root, folder, batch_size or default_size)
    env["STOCKOPS_RUN_BATCH_WORKERS"] = str(args.workers)
    env["STOCKOPS_RUN_BATCH_SPREAD"] = str(args.concurrency)
    os.environ.update(env)

    import dagster as dg

    from bench.common import write_results
    from devkit.platform import tiny_platform
    from devkit.series import random_walk_ohlcv, write_market_folder
    from stock_assets import names
    from stock_assets.defs.schedules import daily_refresh_schedule
    from stock_assets.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    index = OfflineSampleProvider().fetch(INDEX_TICKER)
    end = str(pd.Timestamp(index["date"].max()).date())
    tickers = [f"SYN{i:04d}" for i in range(count)]
    t0 = time.perf_counter()
    histories = {
        t: random_walk_ohlcv(SESSIONS, seed=i, end=end, vol=0.015) for i, t in enumerate(tickers)
    }
    write_market_folder(folder, {INDEX_TICKER: index, **histories})
    print(f"{count} synthetic tickers written in {time.perf_counter() - t0:.0f} s", flush=True)

    with tiny_platform(root, settings=settings, dagster_home=root / "dagster") as platform:
        t0 = time.perf_counter()
        platform.bootstrap()
        modelled = spread(tickers, with_model)
        for ticker in modelled:
            platform.onboard(ticker)
        platform.register(*tickers)
        print(
            f"set-up: parent and {with_model} models in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
        when = pd.Timestamp(end, tz="America/New_York").replace(hour=17, minute=30).to_pydatetime()
        context = dg.build_schedule_context(
            instance=platform.instance, scheduled_execution_time=when
        )
        requests = list(daily_refresh_schedule(context))

        specs = []
        for n, request in enumerate(requests):
            spec = root / f"batch-{n:04d}.json"
            spec.write_text(
                json.dumps(
                    {
                        "job": names.TICKER_BATCH_JOB,
                        "run_config": request.run_config,
                        "tags": dict(request.tags),
                    }
                )
            )
            specs.append(spec)

        def launch(spec: Path) -> dict[str, Any]:
            subprocess.run(
                [sys.executable, "-m", "bench.bench_refresh", "--worker", str(spec)],
                cwd=REPO,
                env={**os.environ, **env},
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            return json.loads(spec.with_suffix(".out.json").read_text())

        print(
            f"refresh: {count + 1} tickers in {len(specs)} batch runs, {args.concurrency} at once",
            flush=True,
        )
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            outcomes = list(pool.map(launch, specs))
        wall = time.perf_counter() - started

        instance = platform.instance
        refreshes = instance.get_run_records(
            dg.RunsFilter(job_name=names.TICKER_REFRESH_JOB, tags={names.TRIGGER_TAG: "daily"})
        )
        work: dict[bool, list[float]] = {True: [], False: []}
        failed = []
        for record in refreshes:
            ticker = record.dagster_run.tags[names.PARTITION_TAG]
            if record.dagster_run.status != dg.DagsterRunStatus.SUCCESS:
                failed.append(ticker)
            if record.start_time and record.end_time:
                work[ticker in modelled].append(record.end_time - record.start_time)

    total = count + 1
    cpu = sum(o["cpu_s"] for o in outcomes)
    imports = [o["import_s"] for o in outcomes]
    figures = [
        {
            "figure": f"daily refresh of {total} tickers, wall",
            "value": round(wall, 1),
            "unit": "s",
            "target": f"< {WALL_TARGET_S:.0f} s for 500 tickers",
            "met": wall < WALL_TARGET_S if count >= 500 else None,
        },
        {"figure": "runs launched (batch runs)", "value": len(specs), "unit": "runs"},
        {"figure": "ticker runs inside them", "value": len(refreshes), "unit": "runs"},
        {"figure": "ticker runs failed", "value": len(failed), "unit": "runs", "met": not failed},
        {
            "figure": "start-up per batch (import of the code location, median)",
            "value": round(statistics.median(imports), 2),
            "unit": "s",
        },
        {"figure": "CPU per ticker, all in", "value": round(cpu / total, 3), "unit": "s"},
        {
            "figure": "wall per ticker x concurrency",
            "value": round(wall * args.concurrency / total, 3),
            "unit": "s",
        },
        {
            "figure": "work per ticker without a model (run start to end, median)",
            "value": round(statistics.median(work[False]), 3),
            "unit": "s",
        },
        {
            "figure": "work per ticker with a model (run start to end, median)",
            "value": round(statistics.median(work[True]), 3) if work[True] else None,
            "unit": "s",
        },
        {
            "figure": "peak memory of a batch process",
            "value": round(max(o["max_rss_mib"] for o in outcomes)),
            "unit": "MiB",
        },
    ]
    write_results(
        _result_name(args),
        figures,
        extra={
            "tickers": total,
            "with_model": with_model,
            "batch_size": batch_size or default_size,
            "concurrency": args.concurrency,
            "workers": args.workers,
            "storage": args.storage,
            "batches": [
                {k: o[k] for k in ("success", "import_s", "total_s", "cpu_s", "max_rss_mib")}
                for o in outcomes
            ],
        },
        quick=args.quick,
    )
    for f in figures:
        print(f"{f['figure']}: {f['value']} {f.get('unit', '')}")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
