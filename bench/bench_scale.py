"""Automation at scale: sensor and schedule ticks and the UI's GraphQL queries at 500-5,000 tickers.

    .venv/bin/python -m bench.bench_scale [--sizes 500 2000 5000] [--backends sqlite postgres]
                                          [--quick] [--no-graphql]

For each storage backend (an on-disk SQLite instance as `make up` uses; PostgreSQL as production
uses, the local server) and each size, on a fresh instance:

1. registers the tickers as partitions of ``tickers`` (one call) and writes, in batches, what a
   platform half-way through onboarding holds: the Feast registry, the parent, every ticker's
   ``ohlcv``/``indicators``/``online_features`` and half the tickers' ``child_model`` and
   ``forecast`` (the state the slow ticks were measured in);
2. times each automation tick the daemon evaluates: the onboarding sensor (first tick with an
   empty cursor, then again with its own cursor), the retrain sensor, the daily and weekly
   schedules; the onboarding sensor's requests are then given their materializations, as if the
   runs had finished, and the sensor is timed with nothing new (every ticker onboarded);
3. starts a real ``dagster-webserver`` on the instance and times the GraphQL queries the UI makes
   for partition status (the asset graph's partition counts, one asset's partition bar, the runs
   page, one partition's latest materialization).

Targets (issue figures): every tick <= 5 s with nothing new at 5,000 tickers; GraphQL <= 2 s.
The results also feed ``bench/cost_model.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from stock_assets import names

os.environ.setdefault("FEAST_USAGE", "False")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

TICK_TARGET_S = 5.0
GRAPHQL_TARGET_S = 2.0
POSTGRES_URL = os.environ.get("STOCKOPS_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
_BATCH = 500

GRAPHQL_QUERIES: dict[str, tuple[str, dict[str, Any]]] = {
    # The asset graph / catalog: partition counts of every asset.
    "asset graph partition counts": (
        """query { assetNodes { assetKey { path } partitionStats {
            numMaterialized numPartitions numFailed numMaterializing } } }""",
        {},
    ),
    # One asset's page: the partition status bar over every ticker.
    f"{names.CHILD_MODEL} partition bar": (
        """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) {
            ... on AssetNode { assetPartitionStatuses {
              ... on DefaultPartitionStatuses { materializedPartitions failedPartitions
                                                 materializingPartitions } } } } }""",
        {"key": {"path": [names.CHILD_MODEL]}},
    ),
    # The runs page.
    "runs page (25 latest)": (
        """query { runsOrError(limit: 25) { ... on Runs { results {
            runId status jobName tags { key value } } } } }""",
        {},
    ),
    # One partition's detail: its latest materialization.
    "one ticker's latest forecast": (
        """query($key: AssetKeyInput!, $p: [String!]) { assetNodeOrError(assetKey: $key) {
            ... on AssetNode { assetMaterializations(partitions: $p, limit: 1) {
              runId timestamp partition } } } }""",
        {"key": {"path": [names.FORECAST]}, "p": ["T00001"]},
    ),
}


def ticker_names(n: int) -> list[str]:
    return [f"T{i:05d}" for i in range(n)]


def _instance_yaml(backend: str, home: Path, db: str) -> str:
    if backend == "sqlite":
        return f"storage:\n  sqlite:\n    base_dir: {home}\ntelemetry:\n  enabled: false\n"
    # psycopg2 explicitly: SQLAlchemy maps plain postgresql:// to psycopg 3 (not installed).
    url = f"{POSTGRES_URL.replace('postgresql://', 'postgresql+psycopg2://', 1)}/{db}"
    return f"storage:\n  postgres:\n    postgres_url: {url}\ntelemetry:\n  enabled: false\n"


@contextlib.contextmanager
def fresh_instance(backend: str, n: int) -> Iterator[Any]:
    """A new on-disk (or PostgreSQL) Dagster instance, removed afterwards."""
    import dagster as dg

    home = Path(tempfile.mkdtemp(prefix=f"stockops-scale-{backend}-{n}-"))
    db = f"stockops_bench_scale_{n}"
    if backend == "postgres":
        _psql(f"DROP DATABASE IF EXISTS {db}")
        _psql(f"CREATE DATABASE {db}")
    (home / "dagster.yaml").write_text(_instance_yaml(backend, home, db))
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dg.DagsterInstance.get() as instance:
            yield instance, home
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous
        shutil.rmtree(home, ignore_errors=True)
        if backend == "postgres":
            _psql(f"DROP DATABASE IF EXISTS {db}")


def _psql(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(f"{POSTGRES_URL}/postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def report_materializations(
    instance: Any, key: Any, partitions: list[str | None], timestamp: float | None = None
) -> None:
    """Runless materializations written ``_BATCH`` at a time (one storage call per batch)."""
    import dagster as dg
    from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
    from dagster._core.events.log import EventLogEntry
    from dagster._core.instance import RUNLESS_JOB_NAME, RUNLESS_RUN_ID

    stamp = timestamp or time.time()
    entries = [
        EventLogEntry(
            user_message="",
            level=logging.INFO,
            job_name=RUNLESS_JOB_NAME,
            run_id=RUNLESS_RUN_ID,
            error_info=None,
            timestamp=stamp,
            dagster_event=DagsterEvent(
                event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
                job_name=RUNLESS_JOB_NAME,
                event_specific_data=StepMaterializationData(
                    dg.AssetMaterialization(asset_key=key, partition=p)
                ),
            ),
        )
        for p in partitions
    ]
    for start in range(0, len(entries), _BATCH):
        instance.event_log_storage.store_event_batch(entries[start : start + _BATCH])


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def _requests(result: Any) -> list[Any]:
    if result is None or hasattr(result, "skip_message"):
        return []
    if hasattr(result, "run_requests"):
        return list(result.run_requests or [])
    return list(result)


def measure_ticks(instance: Any, n: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Seed the instance, then time every tick; returns the rows and the seeding times."""
    import dagster as dg

    from stock_assets.defs.assets.features import FEATURE_DEFINITIONS_KEY, ONLINE_FEATURES_KEY
    from stock_assets.defs.assets.forecasting import FORECAST_KEY
    from stock_assets.defs.assets.market import INDICATORS_KEY, OHLCV_KEY
    from stock_assets.defs.assets.models import CHILD_KEY, PARENT_KEY
    from stock_assets.defs.partitions import TICKERS_PARTITION
    from stock_assets.defs.schedules import daily_refresh_schedule, weekly_agent_report_schedule
    from stock_assets.defs.sensors.onboarding import new_ticker_sensor
    from stock_assets.defs.sensors.retrain import retrain_sensor
    from stock_assets.names import (
        DAILY_REFRESH_SCHEDULE,
        NEW_TICKER_SENSOR,
        RETRAIN_SENSOR,
        WEEKLY_AGENT_REPORT_SCHEDULE,
    )
    from stock_assets.settings import INDEX_TICKER

    tickers = [INDEX_TICKER, *ticker_names(n)]
    half = tickers[1 : 1 + n // 2]
    seed: dict[str, Any] = {}
    seed["register_s"], _ = timed(
        lambda: instance.add_dynamic_partitions(TICKERS_PARTITION, tickers)
    )

    def seed_all() -> None:
        report_materializations(instance, FEATURE_DEFINITIONS_KEY, [None])
        report_materializations(instance, PARENT_KEY, [None])
        for key in (OHLCV_KEY, INDICATORS_KEY, ONLINE_FEATURES_KEY):
            report_materializations(instance, key, list(tickers))
        for key in (CHILD_KEY, FORECAST_KEY):
            report_materializations(instance, key, list(half))

    seed["materializations_s"], _ = timed(seed_all)
    seed["events"] = 2 + 3 * len(tickers) + 2 * len(half)

    rows: list[dict[str, Any]] = []

    def row(name: str, state: str, seconds: float, result: Any) -> None:
        rows.append(
            {
                "tickers": n,
                "tick": name,
                "state": state,
                "seconds": round(seconds, 3),
                "requests": len(_requests(result)),
            }
        )

    seconds, first = timed(lambda: new_ticker_sensor(dg.build_sensor_context(instance=instance)))
    row(NEW_TICKER_SENSOR, "half onboarded, empty cursor", seconds, first)
    cursor = first.cursor
    seconds, again = timed(
        lambda: new_ticker_sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
    )
    row(NEW_TICKER_SENSOR, "half onboarded, its own cursor", seconds, again)
    seconds, retrain = timed(lambda: retrain_sensor(dg.build_sensor_context(instance=instance)))
    row(RETRAIN_SENSOR, "no check evaluated yet", seconds, retrain)
    import datetime as dt

    when = dt.datetime(2026, 11, 24, 22, 30, tzinfo=dt.UTC)
    seconds, daily = timed(
        lambda: list(
            daily_refresh_schedule(
                dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
            )
        )
    )
    row(DAILY_REFRESH_SCHEDULE, "one request per batch of tickers", seconds, daily)
    seconds, weekly = timed(
        lambda: list(
            weekly_agent_report_schedule(
                dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
            )
        )
    )
    row(WEEKLY_AGENT_REPORT_SCHEDULE, "one request per forecast", seconds, weekly)

    # The training runs the sensor asked for "finish": every ticker is onboarded.
    rest = tickers[1 + n // 2 :]
    report_materializations(instance, CHILD_KEY, rest)
    report_materializations(instance, FORECAST_KEY, rest)
    seconds, done = timed(
        lambda: new_ticker_sensor(dg.build_sensor_context(instance=instance, cursor=again.cursor))
    )
    row(NEW_TICKER_SENSOR, "all onboarded (marks them done)", seconds, done)
    steady_cursor = done.cursor if hasattr(done, "cursor") else again.cursor
    seconds, idle = timed(
        lambda: new_ticker_sensor(dg.build_sensor_context(instance=instance, cursor=steady_cursor))
    )
    row(NEW_TICKER_SENSOR, "nothing new", seconds, idle)
    seconds, retrain_idle = timed(
        lambda: retrain_sensor(dg.build_sensor_context(instance=instance, cursor=retrain.cursor))
    )
    row(RETRAIN_SENSOR, "nothing new", seconds, retrain_idle)
    return rows, seed


def measure_graphql(home: Path, n: int, repeats: int) -> list[dict[str, Any]]:
    """Start dagster-webserver on the instance and time each UI query (median of repeats)."""
    import statistics

    import httpx

    from devkit.servers import BIN, REPO, free_port, start, stop, wait_for_code_location

    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    cmd = [
        str(BIN / "dagster-webserver"),
        *("-h", "127.0.0.1", "-p", str(port), "-w", str(REPO / "workspace.yaml")),
    ]
    server = start(cmd, env, home / "webserver.log")
    url = f"http://127.0.0.1:{port}/graphql"
    rows = []
    try:
        wait_for_code_location(url, server, home / "webserver.log", timeout_s=180)
        with httpx.Client(timeout=120) as client:
            for name, (query, variables) in GRAPHQL_QUERIES.items():
                times = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    answer = client.post(url, json={"query": query, "variables": variables})
                    times.append(time.perf_counter() - start)
                    body = answer.json()
                    if answer.status_code != 200 or body.get("errors"):
                        raise SystemExit(f"{name}: {answer.status_code} {body.get('errors')}")
                rows.append(
                    {
                        "tickers": n,
                        "query": name,
                        "median_s": round(statistics.median(times), 3),
                        "max_s": round(max(times), 3),
                    }
                )
    finally:
        stop(server)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000, 5000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--quick", action="store_true", help="50 tickers, SQLite, one repeat")
    parser.add_argument("--no-graphql", action="store_true")
    parser.add_argument("--repeats", type=int, default=3, help="GraphQL repeats per query")
    args = parser.parse_args()
    sizes, backends = ([50], ["sqlite"]) if args.quick else (args.sizes, args.backends)
    repeats = 1 if args.quick else args.repeats

    import pandas as pd

    from bench.common import write_results

    tick_rows: list[dict[str, Any]] = []
    graphql_rows: list[dict[str, Any]] = []
    seeds: list[dict[str, Any]] = []
    for backend in backends:
        for n in sizes:
            print(f"{backend}: {n} tickers ...", flush=True)
            with fresh_instance(backend, n) as (instance, home):
                rows, seed = measure_ticks(instance, n)
                for r in rows:
                    r["backend"] = backend
                tick_rows += rows
                seeds.append({"backend": backend, "tickers": n, **seed})
                if not args.no_graphql:
                    for r in measure_graphql(home, n, repeats):
                        r["backend"] = backend
                        graphql_rows.append(r)

    figures = []
    largest = max(sizes)
    for backend in backends:
        at = [r for r in tick_rows if r["backend"] == backend and r["tickers"] == largest]
        idle = [r for r in at if r["state"] == "nothing new"]
        for r in idle:
            figures.append(
                {
                    "figure": f"{r['tick']} tick, nothing new, {largest} tickers ({backend})",
                    "value": r["seconds"],
                    "unit": "s",
                    "target": f"<= {TICK_TARGET_S:.0f} s",
                    "met": r["seconds"] <= TICK_TARGET_S,
                }
            )
        for r in at:
            if r["state"] == "nothing new":
                continue
            figures.append(
                {
                    "figure": f"{r['tick']} tick, {r['state']}, {largest} tickers ({backend})",
                    "value": r["seconds"],
                    "unit": "s",
                    "target": f"<= {TICK_TARGET_S:.0f} s",
                    "met": r["seconds"] <= TICK_TARGET_S,
                }
            )
        gq = [r for r in graphql_rows if r["backend"] == backend and r["tickers"] == largest]
        if gq:
            worst = max(gq, key=lambda r: r["median_s"])
            figures.append(
                {
                    "figure": f"slowest UI GraphQL query, {largest} tickers ({backend}): "
                    f"{worst['query']}",
                    "value": worst["median_s"],
                    "unit": "s",
                    "target": f"<= {GRAPHQL_TARGET_S:.0f} s",
                    "met": worst["median_s"] <= GRAPHQL_TARGET_S,
                }
            )
    ticks = pd.DataFrame(tick_rows)
    markdown = [
        "## Every tick (seconds; requests = run requests the tick returned)",
        "",
        ticks.pivot_table(
            index=["tick", "state"], columns=["backend", "tickers"], values="seconds"
        ).to_markdown(),
        "",
    ]
    if graphql_rows:
        markdown += [
            "## UI GraphQL queries through a real dagster-webserver (median seconds)",
            "",
            pd.DataFrame(graphql_rows)
            .pivot_table(index="query", columns=["backend", "tickers"], values="median_s")
            .to_markdown(),
            "",
        ]
    markdown += [
        "## Seeding the instance",
        "",
        pd.DataFrame(seeds).to_markdown(index=False),
    ]
    write_results(
        "scale",
        figures,
        extra={"ticks": tick_rows, "graphql": graphql_rows, "seeding": seeds},
        markdown="\n".join(markdown),
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
