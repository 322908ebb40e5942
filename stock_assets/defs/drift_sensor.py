"""Auto-healing: retrain a ticker's child when its drift check fails, once per drift episode.

An episode starts with a failed ``drift_share_within_threshold`` evaluation after a passed one
(or after none) and lasts until the check passes again. Each episode asks for one
``ticker_training`` run, with a run key tied to the evaluation that opened it, so Dagster never
launches it twice; a cool-down (``STOCKOPS_DRIFT_RETRAIN_COOLDOWN_S``, default 24 h) between
drift retrains of one ticker keeps a flapping check from retraining more often. The sensor's
state (last evaluation seen, open episodes, last retrain per ticker) lives in its cursor, so the
Dagster UI shows every tick, its cursor and the runs it requested.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from stock_assets.defs.assets.monitoring import DRIFT_CHECK, DRIFT_KEY
from stock_assets.defs.automation import ticker_training_job
from stock_assets.settings import get_settings

DRIFT_CHECK_KEY = dg.AssetCheckKey(DRIFT_KEY, DRIFT_CHECK)
TRIGGER_TAG = "stockops/trigger"
_PAGE = 100
_IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dataclass(frozen=True)
class Evaluation:
    """One completed drift-check evaluation of one ticker."""

    id: int  # storage id: increases with time
    ticker: str
    passed: bool
    drift_share: float | None = None


@dataclass
class TickerState:
    episode: int | None = None  # id of the evaluation that opened the current episode
    retrained_episode: int | None = None
    last_retrain: float | None = None  # unix time of the last drift retrain requested


@dataclass
class DriftCursor:
    after: int = 0
    tickers: dict[str, TickerState] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> DriftCursor:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            after=int(data.get("after", 0)),
            tickers={t: TickerState(**s) for t, s in data.get("tickers", {}).items()},
        )

    def dump(self) -> str:
        return json.dumps(
            {"after": self.after, "tickers": {t: asdict(s) for t, s in self.tickers.items()}},
            sort_keys=True,
        )


@dataclass(frozen=True)
class Decision:
    ticker: str
    episode: int
    drift_share: float | None


def plan_retrains(
    cursor: DriftCursor,
    evaluations: Iterable[Evaluation],
    *,
    now: float,
    cooldown_s: float,
    busy: set[str] | frozenset[str] = frozenset(),
) -> tuple[list[Decision], list[str]]:
    """Advance ``cursor`` over new evaluations (oldest first); return retrains and reasons.

    For ``busy`` tickers (a training run queued or running) that run is the episode's retrain.
    """
    latest_share: dict[str, float | None] = {}
    for ev in sorted(evaluations, key=lambda e: e.id):
        if ev.id <= cursor.after:
            continue
        state = cursor.tickers.setdefault(ev.ticker, TickerState())
        if ev.passed:
            state.episode = None
        elif state.episode is None:
            state.episode = ev.id
        latest_share[ev.ticker] = ev.drift_share
        cursor.after = ev.id
    decisions: list[Decision] = []
    notes: list[str] = []
    for ticker, state in sorted(cursor.tickers.items()):
        if state.episode is None:
            continue
        if state.retrained_episode == state.episode:
            notes.append(f"{ticker}: drift episode {state.episode} already has its retrain")
            continue
        if state.last_retrain is not None and now - state.last_retrain < cooldown_s:
            left = cooldown_s - (now - state.last_retrain)
            notes.append(f"{ticker}: drifted, cooling down ({left / 3600:.1f} h left)")
            continue
        state.retrained_episode = state.episode
        state.last_retrain = now
        if ticker in busy:
            # Someone (the API, the UI) is retraining it already: that run heals this episode.
            notes.append(f"{ticker}: drifted, a training run in progress serves as its retrain")
            continue
        decisions.append(Decision(ticker, state.episode, latest_share.get(ticker)))
    return decisions, notes


def _share(record: Any) -> float | None:
    try:
        value = record.event.dagster_event.event_specific_data.metadata["drift_share"].value
        return float(value)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def _run_partition(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """The ticker of the run that evaluated the check (records written without a partition)."""
    run = instance.get_run_by_id(run_id)
    return run.tags.get("dagster/partition") if run is not None else None


def new_evaluations(instance: dg.DagsterInstance, after: int) -> list[Evaluation]:
    """Completed drift-check evaluations with a storage id above ``after``."""
    found: list[Evaluation] = []
    page_cursor: int | None = None
    storage = instance.event_log_storage
    while True:
        records = storage.get_asset_check_execution_history(
            DRIFT_CHECK_KEY, limit=_PAGE, cursor=page_cursor
        )
        for record in records:
            if record.id <= after:
                return found
            if record.status not in (
                AssetCheckExecutionRecordStatus.SUCCEEDED,
                AssetCheckExecutionRecordStatus.FAILED,
            ):
                continue  # planned or skipped: nothing to act on
            ticker = record.partition or _run_partition(instance, record.run_id)
            if ticker is None:
                continue
            found.append(
                Evaluation(
                    id=record.id,
                    ticker=ticker,
                    passed=record.status == AssetCheckExecutionRecordStatus.SUCCEEDED,
                    drift_share=_share(record),
                )
            )
        if len(records) < _PAGE:
            return found
        page_cursor = records[-1].id


def _busy(instance: dg.DagsterInstance, tickers: Iterable[str]) -> set[str]:
    return {
        t
        for t in tickers
        if instance.get_runs_count(
            dg.RunsFilter(
                job_name=ticker_training_job.name,
                tags={"dagster/partition": t},
                statuses=_IN_PROGRESS,
            )
        )
    }


@dg.sensor(
    job=ticker_training_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Auto-healing: when a ticker's drift check fails, retrain its child model "
    "(ticker_training) once per drift episode, at most once per cool-down period.",
)
def drift_retrain_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    cursor = DriftCursor.parse(context.cursor)
    evaluations = new_evaluations(context.instance, cursor.after)
    open_tickers = {e.ticker for e in evaluations if not e.passed} | {
        t for t, s in cursor.tickers.items() if s.episode is not None
    }
    decisions, notes = plan_retrains(
        cursor,
        evaluations,
        now=time.time(),
        cooldown_s=get_settings().drift_retrain_cooldown_s,
        busy=_busy(context.instance, open_tickers),
    )
    requests = [
        dg.RunRequest(
            run_key=f"drift-retrain:{d.ticker}:{d.episode}",
            partition_key=d.ticker,
            tags={
                TRIGGER_TAG: "drift",
                "stockops/drift_evaluation": str(d.episode),
                **({"stockops/drift_share": f"{d.drift_share:.3f}"} if d.drift_share else {}),
            },
        )
        for d in decisions
    ]
    for d in decisions:
        context.log.info(f"drift episode {d.episode} of {d.ticker}: requesting a retrain")
    skip = None
    if not requests:
        skip = "; ".join(notes) or f"No drift episode needs a retrain ({len(evaluations)} new)."
    return dg.SensorResult(run_requests=requests, cursor=cursor.dump(), skip_reason=skip)
