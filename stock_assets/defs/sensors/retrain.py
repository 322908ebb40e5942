"""Retraining on measured trouble: a challenger when a ticker's inputs drift or its live skill
decays, or when a recent listing has grown the history a backtest needs, bounded by a cool-down in
market sessions.

Three checks open an episode for a ticker: ``drift_report``'s ``drift_share_within_threshold``,
``live_skill``'s ``live_skill_holds`` and ``forecast``'s ``judged_on_current_history``. The
episode lasts while any fails, and closes when all pass again: after a champion decision the
drift reference is the data that decision validated (``drift_windows``), a newly promoted model
has no matured forecasts yet, and a decision on a full backtest is judged on current history, so
they pass and the episode closes. Each episode asks for a ``ticker_training`` run (the promotion
policy then decides), with a run key tied to the evaluation that opened it so Dagster never
launches it twice; while the episode stays open (a kept champion still decays) it asks again
only after ``STOCKOPS_RETRAIN_COOLDOWN_SESSIONS`` NYSE sessions, counted on the market clock (the
replay clock in a replay), so retraining stays bounded at any replay speed. The sensor's state
lives in its cursor, so the Dagster UI shows every tick, its cursor and the runs it requested.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import dagster as dg
import pandas as pd
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from stock_assets import names
from stock_assets.defs.assets.forecasting import FORECAST_KEY, HISTORY_CHECK
from stock_assets.defs.assets.live import LIVE_SKILL_CHECK, LIVE_SKILL_KEY
from stock_assets.defs.assets.monitoring import DRIFT_CHECK, DRIFT_KEY
from stock_assets.defs.jobs import ticker_training_job
from stock_assets.defs.run_state import RunIndex
from stock_assets.domain.calendar import session_number
from stock_assets.domain.market_data.replay import read_clock
from stock_assets.settings import Settings, get_settings

# Which check opened an episode, by the trigger name its retrain run is tagged with.
WATCHED_CHECKS: dict[str, dg.AssetCheckKey] = {
    names.DRIFT_TRIGGER: dg.AssetCheckKey(DRIFT_KEY, DRIFT_CHECK),
    names.DECAY_TRIGGER: dg.AssetCheckKey(LIVE_SKILL_KEY, LIVE_SKILL_CHECK),
    names.HISTORY_TRIGGER: dg.AssetCheckKey(FORECAST_KEY, HISTORY_CHECK),
}
_PAGE = 100


@dataclass(frozen=True)
class Evaluation:
    """One completed evaluation of a watched check for one ticker."""

    id: int  # event-log storage id: increases with time, across both checks
    ticker: str
    passed: bool
    kind: str = names.DRIFT_TRIGGER  # drift or decay
    detail: str | None = None


@dataclass
class TickerState:
    failing: list[str] = field(default_factory=list)  # kinds whose latest evaluation failed
    episode: int | None = None  # id of the evaluation that opened the current episode
    retrains: int = 0  # retrains requested in the current episode
    last_retrain: int | None = None  # market session number of the last retrain requested


@dataclass
class RetrainCursor:
    after: int = 0
    tickers: dict[str, TickerState] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> RetrainCursor:
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
    attempt: int
    kinds: tuple[str, ...]
    detail: str | None


def plan_retrains(
    cursor: RetrainCursor,
    evaluations: Iterable[Evaluation],
    *,
    now: int,
    cooldown: int,
    busy: set[str] | frozenset[str] = frozenset(),
) -> tuple[list[Decision], list[str]]:
    """Advance ``cursor`` over new evaluations (oldest first); return retrains and reasons.

    ``now`` and ``cooldown`` are in market sessions. For ``busy`` tickers (a training run queued
    or running) that run counts as the retrain.
    """
    detail: dict[str, str | None] = {}
    for ev in sorted(evaluations, key=lambda e: e.id):
        if ev.id <= cursor.after:
            continue
        state = cursor.tickers.setdefault(ev.ticker, TickerState())
        failing = set(state.failing)
        if ev.passed:
            failing.discard(ev.kind)
        else:
            failing.add(ev.kind)
            detail[ev.ticker] = ev.detail
        state.failing = sorted(failing)
        if not failing:
            state.episode, state.retrains = None, 0
        elif state.episode is None:
            state.episode, state.retrains = ev.id, 0
        cursor.after = ev.id
    decisions: list[Decision] = []
    notes: list[str] = []
    for ticker, state in sorted(cursor.tickers.items()):
        if state.episode is None:
            continue
        kinds = "+".join(state.failing)
        if state.last_retrain is not None and now - state.last_retrain < cooldown:
            left = cooldown - (now - state.last_retrain)
            done = "has its retrain" if state.retrains else "waits"
            notes.append(
                f"{ticker}: {kinds} episode {state.episode} {done}, cooling down "
                f"({left} session(s) left)"
            )
            continue
        state.retrains += 1
        state.last_retrain = now
        if ticker in busy:
            # Someone (the API, the UI, onboarding) is training it already: that run serves.
            notes.append(f"{ticker}: {kinds}, a training run in progress serves as its retrain")
            continue
        decisions.append(
            Decision(
                ticker, state.episode, state.retrains, tuple(state.failing), detail.get(ticker)
            )
        )
    return decisions, notes


def _detail(record: Any) -> str | None:
    """The check's own description of the evaluation (the reason it failed)."""
    try:
        return record.event.dagster_event.event_specific_data.description
    except AttributeError:
        return None


def _run_partition(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """The ticker of the run that evaluated the check (records written without a partition)."""
    run = instance.get_run_by_id(run_id)
    return run.tags.get(names.PARTITION_TAG) if run is not None else None


def new_evaluations(instance: dg.DagsterInstance, after: int) -> list[Evaluation]:
    """Completed evaluations of the watched checks with a storage id above ``after``."""
    found: list[Evaluation] = []
    storage = instance.event_log_storage
    for kind, key in WATCHED_CHECKS.items():
        page_cursor: int | None = None
        while True:
            records = storage.get_asset_check_execution_history(
                key, limit=_PAGE, cursor=page_cursor
            )
            for record in records:
                if record.id <= after:
                    break
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
                        kind=kind,
                        detail=_detail(record),
                    )
                )
            else:
                if len(records) == _PAGE:
                    page_cursor = records[-1].id
                    continue
            break
    return found


def market_session(settings: Settings) -> int:
    """Market time now: the replay clock's session in a replay, else today in New York."""
    if settings.replay_enabled:
        return session_number(read_clock(settings.replay_clock_path).as_of)
    return session_number(pd.Timestamp.now(tz="America/New_York").tz_localize(None))


def _busy(instance: dg.DagsterInstance, tickers: Iterable[str]) -> set[str]:
    """The tickers (of those with an open episode) whose training run is queued or running."""
    tickers = list(tickers)
    if not tickers:
        return set()
    runs = RunIndex.load(instance, [])
    return {t for t in tickers if runs.busy(ticker_training_job.name, t)}


@dg.sensor(
    name=names.RETRAIN_SENSOR,
    job=ticker_training_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retraining on measured trouble: when a ticker's drift check or live-skill "
    "check fails, or a recent listing now has the history a backtest needs, train a "
    "challenger (ticker_training; the promotion policy decides), once per "
    "episode and at most once per cool-down in market sessions.",
)
def retrain_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    settings = get_settings()
    cursor = RetrainCursor.parse(context.cursor)
    evaluations = new_evaluations(context.instance, cursor.after)
    open_tickers = {e.ticker for e in evaluations if not e.passed} | {
        t for t, s in cursor.tickers.items() if s.episode is not None
    }
    decisions, notes = plan_retrains(
        cursor,
        evaluations,
        now=market_session(settings),
        cooldown=settings.retrain_cooldown_sessions,
        busy=_busy(context.instance, open_tickers),
    )
    requests = [
        dg.RunRequest(
            run_key=f"retrain:{d.ticker}:{d.episode}:{d.attempt}",
            partition_key=d.ticker,
            tags={
                names.TRIGGER_TAG: "+".join(d.kinds),
                names.EPISODE_TAG: str(d.episode),
                **({names.REASON_TAG: d.detail[:200]} if d.detail else {}),
            },
        )
        for d in decisions
    ]
    for d in decisions:
        context.log.info(
            f"{'+'.join(d.kinds)} episode {d.episode} of {d.ticker}: requesting a challenger"
        )
    skip = None
    if not requests:
        skip = "; ".join(notes) or f"No episode needs a retrain ({len(evaluations)} new)."
    return dg.SensorResult(run_requests=requests, cursor=cursor.dump(), skip_reason=skip)
