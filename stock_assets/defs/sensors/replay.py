"""Market replay: the sensor that moves the replay clock one NYSE session per tick.

In replay mode (``STOCKOPS_REPLAY_START``) the market-data resource cuts every ticker's history
at the clock's as-of session. Each tick of this sensor, once onboarding is done and the previous
session's runs have finished (a retrain is not waited for: its ticker sits the tick out and
catches up at the next), advances the clock and asks for a ``ticker_refresh`` run of every
ticker, in a few batch runs (``defs/batches.py``: each ticker a run of its own inside one): new
rows, indicators extended, the online store updated, a forecast made and archived, matured
forecasts scored, drift measured. The retrain sensor reacts to what those runs find, so the whole
loop turns with no hand on the keyboard. The cursor mirrors the clock for the UI.
"""

from __future__ import annotations

import dagster as dg

from stock_assets import names
from stock_assets.defs.assets.models import CHILD_KEY
from stock_assets.defs.batches import batch_requests, ticker_batch
from stock_assets.defs.onboarding import Facts, waiting_tickers
from stock_assets.defs.onboarding_tasks import TaskStore
from stock_assets.defs.resources import market_data_from_settings
from stock_assets.defs.run_state import IN_PROGRESS, materialized_partitions
from stock_assets.domain.market_data import MarketDataError
from stock_assets.domain.market_data.replay import (
    ReplayClockError,
    ReplayProvider,
    read_clock,
    write_clock,
)
from stock_assets.settings import Settings, get_settings

_settings = get_settings()


def onboarding_pending(instance: dg.DagsterInstance, tickers: list[str], index: str) -> list[str]:
    """Tickers whose onboarding plan is not done yet (and not given up on after failures): the
    same plan, read the same way, as the new-ticker sensor's."""
    facts = Facts.load(instance)
    return waiting_tickers(facts, tickers, index, TaskStore(instance).active(tickers))


def replay_end(settings: Settings, tickers: list[str]) -> str | None:
    """The last session any ticker has data for: where the replay stops."""
    provider = market_data_from_settings(settings).provider()
    if not isinstance(provider, ReplayProvider):
        return None
    ends = []
    for ticker in tickers:
        try:
            ends.append(provider.last_date(ticker))
        except MarketDataError:
            continue
    return max(ends).strftime("%Y-%m-%d") if ends else None


@dg.sensor(
    name=names.MARKET_REPLAY_SENSOR,
    jobs=[ticker_batch],
    minimum_interval_seconds=_settings.replay_tick_s,
    default_status=(
        dg.DefaultSensorStatus.RUNNING
        if _settings.replay_enabled
        else dg.DefaultSensorStatus.STOPPED
    ),
    description="Replay mode: advance the market one NYSE session per tick (after the previous "
    "session's runs) and refresh every ticker at the new session.",
)
def market_replay_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    settings = get_settings()
    if not settings.replay_enabled:
        return dg.SkipReason("Replay mode is off: set STOCKOPS_REPLAY_START (e.g. 2008-01-02).")
    instance = context.instance
    try:
        clock = read_clock(settings.replay_clock_path)
    except ReplayClockError as exc:
        return dg.SkipReason(str(exc))
    tickers = list(instance.get_dynamic_partitions(names.TICKERS_PARTITION))
    if not tickers:
        return dg.SkipReason(f"At {clock.as_of}: no ticker registered yet.")
    busy = instance.get_runs(dg.RunsFilter(statuses=IN_PROGRESS))
    # A tick waits for the previous session's runs, not for a retrain: a ticker whose training
    # run is in progress sits this tick out (nothing else writes its forecast meanwhile) and its
    # next refresh catches the sessions in between up.
    training = {
        r.tags.get(names.PARTITION_TAG) for r in busy if r.job_name == names.TICKER_TRAINING_JOB
    }
    waiting = [r for r in busy if r.job_name != names.TICKER_TRAINING_JOB]
    if waiting:
        return dg.SkipReason(f"At {clock.as_of}: waiting for {len(waiting)} run(s) to finish.")
    if all(t in training for t in tickers):
        return dg.SkipReason(f"At {clock.as_of}: every ticker is retraining.")
    # A retraining ticker was onboarded (its first model came from `onboard_ticker`).
    ready = [t for t in tickers if t not in training]
    pending = onboarding_pending(instance, ready, settings.index_ticker)
    if pending:
        return dg.SkipReason(f"At {clock.as_of}: onboarding not finished ({', '.join(pending)}).")
    end = replay_end(settings, tickers)
    following = clock.advanced(settings.replay_sessions_per_tick)
    if end is not None and following.as_of > end:
        return dg.SkipReason(f"The replay reached the end of the data ({clock.as_of}).")
    write_clock(settings.replay_clock_path, following)
    retraining = sorted(t for t in tickers if t in training)
    context.log.info(
        f"replay: {clock.as_of} -> {following.as_of}"
        + (f" ({', '.join(retraining)} retraining: refreshed next tick)" if retraining else "")
    )
    requests = batch_requests(
        ready,
        materialized_partitions(instance, CHILD_KEY),
        size=settings.run_batch_size,
        spread=settings.run_batch_spread,
        run_key=f"replay:{following.as_of}",
        tags={names.AS_OF_TAG: following.as_of, names.TRIGGER_TAG: names.REPLAY_TRIGGER},
    )
    return dg.SensorResult(run_requests=requests, cursor=following.as_of)
