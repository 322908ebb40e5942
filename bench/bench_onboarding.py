"""`make up` from an empty data dir to a served forecast for every default ticker, as a newcomer.

    .venv/bin/python -m bench.bench_onboarding [--timeout 1800] [--quick]

Runs the README's `make up` (the install step is a no-op once `.venv` exists) with a fresh
``STOCKOPS_DATA_DIR`` and the default ports (3000, 8000, 8501 must be free), then watches the
Dagster run storage: the onboarding is done when every default stock has a materialized
``forecast`` and ``/predict-child`` answers 200 for each. Reports the wall time from `make up` to
that moment (target: <= 5 min on two cores), to the first served forecast, each onboarding run's
duration by job, and then stops `make up` the way a terminal's Ctrl-C does (SIGINT to its
process group) and times how long it takes to exit. ``--quick``: the index and AAPL at the tiny
model sizes, every service on a free port (a minute or two; not a measurement).

``--replay-minutes M`` (with ``--replay-start``, default 2008-09-02, and
``--sessions-per-tick``, default 20): `make up` in replay mode, as the README's market replay
runs it; after the onboarding, M minutes of the replay running on its own, then the sessions a
minute the replay clock advanced, the runs launched per tick and any that failed (written as
``replay_make_up``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.common import REPO, write_results

TARGET_S = 300.0


def _progress(home: Path) -> tuple[set[str], list[tuple[str, str, Any, Any]]]:
    """Tickers with a materialized forecast, and every run (job, status, start, end)."""
    import dagster as dg

    from stock_assets.defs.assets.forecasting import FORECAST_KEY

    if not (home / "dagster.yaml").exists() or not (home / "storage").exists():
        return set(), []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        done = set(instance.get_materialized_partitions(FORECAST_KEY))
        runs = instance.get_run_records()
        return done, [
            (r.dagster_run.job_name, r.dagster_run.status.value, r.start_time, r.end_time)
            for r in runs
        ]


def _watch_replay(data: Path, seconds: float, make: subprocess.Popen[bytes]) -> dict[str, Any]:
    """The replay clock and the runs over ``seconds`` of `make up` replaying on its own."""
    from stock_assets.domain.calendar import session_number
    from stock_assets.domain.market_data.replay import read_clock

    clock_path = data / "replay" / "clock.json"
    first = read_clock(clock_path)
    _, before = _progress(data / "dagster")
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if make.poll() is not None:
            raise SystemExit(f"make up exited during the replay ({make.returncode})")
        time.sleep(5)
    elapsed = time.monotonic() - started
    last = read_clock(clock_path)
    _, after = _progress(data / "dagster")
    new = after[: len(after) - len(before)]  # newest first
    by_job: dict[str, int] = defaultdict(int)
    for job, _, _, _ in new:
        by_job[job] += 1
    return {
        "from": first.as_of,
        "to": last.as_of,
        "sessions": session_number(last.as_of) - session_number(first.as_of),
        "ticks": last.ticks - first.ticks,
        "minutes": elapsed / 60,
        "runs": dict(by_job),
        "failed": sum(1 for _, status, _, _ in new if status == "FAILURE"),
    }


def _write_replay(replay: dict[str, Any], per_tick: int) -> None:
    rate = replay["sessions"] / replay["minutes"]
    ticks = max(replay["ticks"], 1)
    figures = [
        {
            "figure": f"make up in replay mode, {per_tick} sessions per tick: sessions a minute",
            "value": round(rate, 1),
            "unit": "sessions/min",
            "target": ">= 10",
            "met": rate >= 10,
        },
        {
            "figure": "replayed (from, to, minutes)",
            "value": f"{replay['from']} -> {replay['to']} in {replay['minutes']:.1f} min",
        },
        *(
            {"figure": f"runs of {job} per tick", "value": round(count / ticks, 2)}
            for job, count in sorted(replay["runs"].items())
        ),
        {"figure": "runs failed", "value": replay["failed"], "met": replay["failed"] == 0},
    ]
    write_results("replay_make_up", figures, extra={"replay": replay})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--quick", action="store_true", help="AAPL, tiny sizes, free ports")
    parser.add_argument("--replay-minutes", type=float, default=0.0)
    parser.add_argument("--replay-start", default="2008-09-02")
    parser.add_argument("--sessions-per-tick", type=int, default=20)
    args = parser.parse_args()
    import httpx

    from devkit.servers import free_port
    from devkit.sizes import TINY_RUNS
    from stock_assets.settings import DEFAULT_TICKERS, INDEX_TICKER

    tickers = (INDEX_TICKER, "AAPL") if args.quick else DEFAULT_TICKERS
    stocks = [t for t in tickers if t != INDEX_TICKER]
    root = Path(tempfile.mkdtemp(prefix="stockops-onboarding-"))
    data = root / "data"
    env = {**os.environ, "STOCKOPS_DATA_DIR": str(data), "DAGSTER_HOME": str(data / "dagster")}
    env.pop("STOCKOPS_REPLAY_START", None)
    if args.replay_minutes:
        env["STOCKOPS_REPLAY_START"] = args.replay_start
        env["STOCKOPS_REPLAY_SESSIONS_PER_TICK"] = str(args.sessions_per_tick)
    api_port = 8000
    if args.quick:
        api_port = free_port()
        env.update(
            {
                "STOCKOPS_API_PORT": str(api_port),
                "DAGSTER_PORT": str(free_port()),
                "UI_PORT": str(free_port()),
                "STOCKOPS_DEFAULT_TICKERS": ",".join(tickers),
                "STOCKOPS_RUN_CONFIG_OVERRIDES": json.dumps(TINY_RUNS),
            }
        )
    api = f"http://127.0.0.1:{api_port}"
    log = root / "make-up.log"
    started = time.monotonic()
    with log.open("wb") as out:
        make = subprocess.Popen(
            ["make", "up"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    served: dict[str, float] = {}
    replay: dict[str, Any] | None = None
    runs: Any = []
    done_at = None
    try:
        with httpx.Client(timeout=10) as client:
            while time.monotonic() - started < args.timeout:
                if make.poll() is not None:
                    raise SystemExit(f"make up exited early ({make.returncode}); see {log}")
                # Only tickers whose forecast exists are asked for: a request for a ticker
                # without a model would start the API's own onboarding of it.
                with_forecast, runs = _progress(data / "dagster")
                for ticker in sorted(with_forecast & set(stocks) - set(served)):
                    with contextlib.suppress(httpx.HTTPError):
                        answer = client.post(f"{api}/predict-child", json={"ticker": ticker})
                        if answer.status_code == 200:
                            served[ticker] = time.monotonic() - started
                if len(served) == len(stocks):
                    done_at = time.monotonic() - started
                    break
                time.sleep(2)
        if done_at is not None and args.replay_minutes:
            replay = _watch_replay(data, args.replay_minutes * 60, make)
        # The runs that served the last forecasts still archive and score it: let them end.
        settle = time.monotonic() + 120
        while time.monotonic() < settle:
            _, runs = _progress(data / "dagster")
            if all(status in {"SUCCESS", "FAILURE", "CANCELED"} for _, status, _, _ in runs):
                break
            time.sleep(2)
    finally:
        # Ctrl-C in a terminal: SIGINT to the foreground process group.
        stop_started = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGINT)
        try:
            make.wait(timeout=60)
            exit_s: float | None = time.monotonic() - stop_started
        except subprocess.TimeoutExpired:
            exit_s = None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGKILL)
        make.wait(timeout=30)
    if done_at is None:
        raise SystemExit(f"onboarding did not finish within {args.timeout:.0f} s; see {log}")
    if replay is not None:
        _write_replay(replay, args.sessions_per_tick)
        return

    by_job: dict[str, list[float]] = defaultdict(list)
    failed = 0
    for job, status, start, end in runs:
        if status != "SUCCESS":
            failed += 1
        if start and end:
            by_job[job].append(end - start)
    figures = [
        {
            "figure": "make up on an empty data dir -> every default stock served",
            "value": round(done_at, 1),
            "unit": "s",
            "target": f"<= {TARGET_S:.0f} s",
            "met": done_at <= TARGET_S,
        },
        {
            "figure": "make up -> first forecast served (/predict-child 200)",
            "value": round(min(served.values()), 1),
            "unit": "s",
        },
        {
            "figure": "onboarding runs (failed)",
            "value": f"{len(runs)} ({failed})",
            "target": "0 failed",
            "met": failed == 0,
        },
        {
            "figure": "make up exits after Ctrl-C (SIGINT to its process group)",
            "value": round(exit_s, 1) if exit_s is not None else "no exit in 60 s",
            "unit": "s",
            "target": "<= 10 s",
            "met": exit_s is not None and exit_s <= 10,
        },
    ]
    for job, durations in sorted(by_job.items()):
        figures.append(
            {
                "figure": f"run duration, {job} ({len(durations)} runs, median / max)",
                "value": f"{statistics.median(durations):.1f} / {max(durations):.1f}",
                "unit": "s",
            }
        )
    first = min(start for _, _, start, _ in runs if start)
    timeline = "\n".join(
        [
            "## Runs (seconds after the first run started)",
            "",
            "| job | status | start | end |",
            "| --- | --- | --- | --- |",
            *(
                f"| {job} | {status} | {start - first:.1f} | "
                f"{(end - first) if end else float('nan'):.1f} |"
                for job, status, start, end in sorted(runs, key=lambda r: r[2] or 0)
                if start
            ),
        ]
    )
    write_results(
        "onboarding",
        figures,
        extra={"served_s": served, "runs": runs},
        markdown=timeline,
        quick=args.quick,
    )
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
