"""Batches of tickers per run: the daily refresh and the replay ticks as a few runs, not one per
ticker.

A run pays its start-up (a process that imports the code location, on Kubernetes a pod) before
its first step; at thousands of tickers a run per ticker spends most of its life starting. A
``ticker_batch`` run starts once and then runs each ticker of its batch as a run of its own
inside that process (``execute_in_process`` on the same instance): every ticker keeps its own
run, partition, materializations, checks and metadata, exactly what the Dagster UI showed when
each ticker was launched alone, and a ticker that fails fails its own run with its reason while
the batch goes on. The batch run ends failed when any of its tickers failed, naming them and why,
so an operator sees it in the run list too. Each ticker's run is tagged with the batch's run id.

The batch size is ``STOCKOPS_RUN_BATCH_SIZE``: on Kubernetes each batch is one run pod, so the
pods a refresh starts are the tickers divided by the batch size.
"""

# No `from __future__ import annotations`: Dagster reads the op's config class from its
# annotation at definition time.

import itertools
import json
import math
import multiprocessing
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import dagster as dg

from stock_assets import names
from stock_assets.defs.instance_memo import partition_lookups_remembered, schema_checks_remembered
from stock_assets.defs.jobs import DATA_ASSETS
from stock_assets.defs.run_state import IN_PROGRESS, run_error
from stock_assets.settings import get_settings

# Run tags a ticker's run takes from its batch (why it ran, at which replayed session); Dagster's
# own tags (schedule, sensor, backfill) stay on the batch run.
INHERITED_TAGS = (names.TRIGGER_TAG, names.AS_OF_TAG, names.REQUEST_ID_TAG, names.SOURCE_TAG)
BATCH_OP = "run_ticker_batch"
# Any one storage statement of a batch (an event written, a run created) ends within a minute.
STATEMENT_TIMEOUT_MS = 60_000


class TickerBatchConfig(dg.Config):
    """Which job each ticker runs, for which tickers."""

    job: str = names.TICKER_REFRESH_JOB
    tickers: list[str]
    # Tickers that run only the job's data assets (no model to forecast with yet).
    data_only: list[str] = []
    # The run config every ticker's run gets, as JSON (op config: sizes in tests and benchmarks).
    run_config: str = "{}"


def _ticker_job(context: dg.OpExecutionContext, name: str) -> dg.JobDefinition:
    """The job each ticker runs, from the code location this run was loaded from (a run worker,
    a pod); executed in process (tests, benchmarks) there is none: the code location bound to
    the current settings, as the run worker would load it."""
    try:
        repository = context.repository_def
    except Exception:  # Dagster's invariant check: no repository when executed in process
        from stock_assets.definitions import build_definitions

        return build_definitions().resolve_job_def(name)
    return repository.get_job(name)


def _selected_config(
    run_config: Mapping[str, Any], job: dg.JobDefinition, selection: list[dg.AssetKey] | None
) -> dict[str, Any]:
    """The batch's run config with op config only for the ops this ticker's run executes
    (Dagster refuses config for an op outside the selection)."""
    ops = run_config.get("ops")
    if not ops:
        return dict(run_config)
    keys = selection if selection is not None else job.asset_layer.executable_asset_keys
    selected = {key.to_python_identifier() for key in keys}
    return {**run_config, "ops": {k: v for k, v in ops.items() if k in selected}}


def _ticker_tags(parent: Mapping[str, str], batch_run_id: str) -> dict[str, str]:
    tags = {k: v for k, v in parent.items() if k in INHERITED_TAGS}
    return {**tags, names.BATCH_TAG: batch_run_id}


@dataclass(frozen=True)
class TickerOutcome:
    ticker: str
    ok: bool
    seconds: float
    reason: str = ""
    skipped: bool = False

    @property
    def word(self) -> str:
        if self.skipped:
            return "skipped"
        return "success" if self.ok else "failure"


@dataclass(frozen=True)
class TickerShare:
    """Tickers to run one after another in one process, and what every run of them gets."""

    tickers: list[str]
    data_only: frozenset[str]
    run_config: dict[str, Any]
    tags: dict[str, str]


def run_tickers(
    instance: dg.DagsterInstance, job: dg.JobDefinition, share: TickerShare
) -> list[TickerOutcome]:
    """Each ticker's run of ``job``, one after another in this process; a failure is the
    ticker's own outcome, never an exception."""
    # A batch writes thousands of run events: keep its storage connections open between them
    # (PostgreSQL storage opens one per event otherwise; SQLite storage ignores this).
    instance.optimize_for_webserver(
        statement_timeout=STATEMENT_TIMEOUT_MS, pool_recycle=3600, max_overflow=4
    )
    outcomes = []
    with schema_checks_remembered(instance):
        for ticker in share.tickers:
            outcomes.append(_run_ticker(instance, job, share, ticker))
    return outcomes


def _run_ticker(
    instance: dg.DagsterInstance, job: dg.JobDefinition, share: TickerShare, ticker: str
) -> TickerOutcome:
    """One ticker's run; its failure is its outcome."""
    if job.name == names.TICKER_REFRESH_JOB and _retraining(instance, ticker):
        # Its training run writes the same forecast: two writers would race. It sits this batch
        # out; its next refresh catches up the sessions in between.
        why = "retraining: its training run is queued or running"
        return TickerOutcome(ticker, True, 0.0, why, skipped=True)
    begun = time.perf_counter()
    reason = ""
    try:
        selection = DATA_ASSETS if ticker in share.data_only else None
        with partition_lookups_remembered(instance):
            result = job.execute_in_process(
                run_config=_selected_config(share.run_config, job, selection),
                instance=instance,
                partition_key=ticker,
                asset_selection=selection,
                tags=share.tags,
                raise_on_error=False,
            )
        if not result.success:
            reason = _failure_reason(instance, result)
    except Exception as exc:  # a ticker's own problem (its config, its partition) only
        reason = f"{type(exc).__name__}: {exc}"
    seconds = round(time.perf_counter() - begun, 3)
    return TickerOutcome(ticker, not reason, seconds, reason)


def _retraining(instance: dg.DagsterInstance, ticker: str) -> bool:
    filters = dg.RunsFilter(
        job_name=names.TICKER_TRAINING_JOB,
        tags={names.PARTITION_TAG: ticker},
        statuses=IN_PROGRESS,
    )
    return instance.get_runs_count(filters) > 0


def _run_in_worker(instance_ref: Any, job_name: str, share: TickerShare) -> list[TickerOutcome]:
    """A share of a batch in a worker process: the code location and the instance opened here
    (the process was spawned, not forked: no connection or thread is shared)."""
    from stock_assets.definitions import defs

    with dg.DagsterInstance.from_ref(instance_ref) as instance:
        job = defs.resolve_job_def(job_name)
        return run_tickers(instance, job, share)


def _deal(tickers: Sequence[str], workers: int) -> list[list[str]]:
    """``tickers`` dealt round-robin to ``workers`` (each hand in the batch's order)."""
    return [list(tickers[i::workers]) for i in range(workers) if tickers[i::workers]]


@dg.op(
    name=BATCH_OP,
    # Nothing to store: the project's IO manager keeps asset tables, and the outcome is metadata.
    out=dg.Out(dg.Nothing),
    description="Run each ticker of the batch as its own run (in this process, or shared with "
    "worker processes to use every core of the run's pod); a failed ticker fails its own run, "
    "never the others.",
)
def run_ticker_batch(context: dg.OpExecutionContext, config: TickerBatchConfig) -> dg.Output[None]:
    try:
        run_config = json.loads(config.run_config)
        job = _ticker_job(context, config.job)
    except (ValueError, dg.DagsterInvariantViolationError) as exc:
        raise dg.Failure(description=f"Cannot run batch of {config.job}: {exc}") from exc
    tickers = list(dict.fromkeys(config.tickers))
    shares = [
        TickerShare(
            tickers=hand,
            data_only=frozenset(config.data_only),
            run_config=run_config,
            tags=_ticker_tags(context.run.tags, context.run_id),
        )
        for hand in _deal(tickers, max(get_settings().run_batch_workers, 1))
    ]
    started = time.perf_counter()
    outcomes: list[TickerOutcome] = []
    with ProcessPoolExecutor(
        max_workers=max(len(shares) - 1, 1), mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        # The first share runs here, the others in spawned workers at the same time.
        ref = context.instance.get_ref()
        futures = {pool.submit(_run_in_worker, ref, config.job, s): s for s in shares[1:]}
        if shares:
            outcomes += run_tickers(context.instance, job, shares[0])
        for future, share in futures.items():
            try:
                outcomes += future.result()
            except Exception as exc:  # the worker process itself died
                why = f"its worker process failed: {type(exc).__name__}: {exc}"
                outcomes += [TickerOutcome(t, False, 0.0, why) for t in share.tickers]
    total = time.perf_counter() - started
    order = {t: i for i, t in enumerate(tickers)}
    outcomes.sort(key=lambda o: order[o.ticker])
    for o in outcomes:
        context.log.info(f"batch: {o.ticker} {o.word} in {o.seconds:.2f} s {o.reason}".rstrip())
    metadata = _batch_metadata(outcomes, total)
    failed = [o for o in outcomes if not o.ok]
    if failed:
        said = "; ".join(f"{o.ticker}: {_one_line(o.reason)}" for o in failed)
        raise dg.Failure(
            description=f"{len(failed)} of {len(outcomes)} tickers failed (the others "
            f"finished): {said}",
            metadata=metadata,
        )
    return dg.Output(None, metadata=metadata)


def _failure_reason(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> str:
    """Why a ticker's run failed, on one line: the failed blocking checks in their own words
    (Dagster's error only names them), else the run's error."""
    failed = [
        f"{e.asset_key.to_user_string()} check {e.check_name} failed: {e.description or ''}"
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ]
    return "; ".join(failed) if failed else run_error(instance, result.run_id)


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.strip().splitlines()).replace("|", "/")


def _batch_metadata(outcomes: Sequence[TickerOutcome], total: float) -> dict[str, Any]:
    rows = "\n".join(
        f"| {o.ticker} | {o.word} | {o.seconds:.2f} | {_one_line(o.reason)} |" for o in outcomes
    )
    return {
        "tickers": dg.MetadataValue.int(len(outcomes)),
        "failed": dg.MetadataValue.int(sum(1 for o in outcomes if not o.ok)),
        "seconds": dg.MetadataValue.float(round(total, 2)),
        "seconds_per_ticker": dg.MetadataValue.float(round(total / max(len(outcomes), 1), 3)),
        "runs": dg.MetadataValue.md(
            "| ticker | outcome | seconds | reason |\n| --- | --- | --- | --- |\n" + rows
        ),
    }


@dg.job(
    name=names.TICKER_BATCH_JOB,
    description="Many tickers in one run: each ticker's run (daily refresh by default) executed "
    "in this run's process, start-up paid once per batch.",
)
def ticker_batch() -> None:
    run_ticker_batch()


def batches(tickers: Iterable[str], size: int, spread: int = 1) -> list[list[str]]:
    """``tickers`` (order kept, duplicates dropped) in consecutive batches of at most ``size``,
    as even as can be, in a multiple of ``spread`` batches when there are that many tickers:
    ``spread`` runs at once then finish together (501 tickers in batches of 250 at spread 2
    are four batches of about 125, not three, the third running alone)."""
    unique = list(dict.fromkeys(tickers))
    if not unique:
        return []
    spread = max(spread, 1)
    needed = math.ceil(len(unique) / max(size, 1))
    count = min(len(unique), math.ceil(needed / spread) * spread)
    bounds = [round(i * len(unique) / count) for i in range(count + 1)]
    return [unique[a:b] for a, b in itertools.pairwise(bounds)]


def batch_requests(
    tickers: Sequence[str],
    with_model: set[str],
    *,
    size: int,
    spread: int = 1,
    run_key: str,
    tags: Mapping[str, str],
    job: str = names.TICKER_REFRESH_JOB,
    run_config: Mapping[str, Any] | None = None,
) -> list[dg.RunRequest]:
    """One ``ticker_batch`` run request per batch of ``tickers``; tickers without a model
    (``with_model``) refresh their data only. Run keys are ``<run_key>:<n>`` (stable for the
    same tickers, so a re-evaluated tick asks for nothing twice)."""
    requests = []
    for n, batch in enumerate(batches(tickers, size, spread)):
        config = TickerBatchConfig(
            job=job,
            tickers=batch,
            data_only=[t for t in batch if t not in with_model],
            run_config=json.dumps(dict(run_config or {})),
        )
        requests.append(
            dg.RunRequest(
                run_key=f"{run_key}:{n}",
                job_name=names.TICKER_BATCH_JOB,
                run_config={"ops": {BATCH_OP: {"config": config.model_dump()}}},
                tags={**tags, names.BATCH_SIZE_TAG: str(len(batch))},
            )
        )
    return requests


def batch_runs(instance: dg.DagsterInstance, batch_run_id: str) -> list[dg.DagsterRun]:
    """The tickers' runs a batch run executed, in the order it ran them."""
    return list(reversed(instance.get_runs(dg.RunsFilter(tags={names.BATCH_TAG: batch_run_id}))))
