"""Schedules: the daily refresh after the US close, and the weekly analyst reports."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from stock_assets import names
from stock_assets.defs.assets.forecasting import FORECAST_KEY
from stock_assets.defs.assets.models import CHILD_KEY
from stock_assets.defs.batches import batch_requests, ticker_batch
from stock_assets.defs.jobs import agent_report_job
from stock_assets.defs.run_state import materialized_partitions
from stock_assets.settings import get_settings

_settings = get_settings()


@dg.schedule(
    name=names.DAILY_REFRESH_SCHEDULE,
    cron_schedule=_settings.daily_refresh_cron,
    execution_timezone=_settings.schedule_timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    job=ticker_batch,
    description="After the US close on weekdays: refresh every ticker's data, features and "
    "forecast, in batches of tickers (each ticker a run of its own inside its batch's run).",
)
def daily_refresh_schedule(
    context: dg.ScheduleEvaluationContext,
) -> Iterator[dg.RunRequest | dg.SkipReason]:
    """Tickers with a model refresh data and forecast; the others (e.g. the index) data only."""
    settings = get_settings()
    if settings.replay_enabled:
        yield dg.SkipReason("Replay mode: the replay sensor advances the market, not the clock.")
        return
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    yield from batch_requests(
        context.instance.get_dynamic_partitions(names.TICKERS_PARTITION),
        materialized_partitions(context.instance, CHILD_KEY),
        size=settings.run_batch_size,
        spread=settings.run_batch_spread,
        run_key=f"daily:{day}",
        tags={names.TRIGGER_TAG: names.DAILY_TRIGGER},
    )


@dg.schedule(
    name=names.WEEKLY_AGENT_REPORT_SCHEDULE,
    cron_schedule=_settings.agent_report_cron,
    execution_timezone=_settings.schedule_timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    job=agent_report_job,
    description="Weekly: a fresh analyst report for every ticker that has a forecast.",
)
def weekly_agent_report_schedule(
    context: dg.ScheduleEvaluationContext,
) -> Iterator[dg.RunRequest]:
    """One run per ticker with a materialized forecast (the index has none: no child model)."""
    week = context.scheduled_execution_time.strftime("%G-W%V")
    with_forecast = materialized_partitions(context.instance, FORECAST_KEY)
    for ticker in context.instance.get_dynamic_partitions(names.TICKERS_PARTITION):
        if ticker in with_forecast:
            yield dg.RunRequest(run_key=f"agent_report:{week}:{ticker}", partition_key=ticker)
