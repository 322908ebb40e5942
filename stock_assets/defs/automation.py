"""Jobs, the daily schedule, and the sensors that keep every registered ticker fresh."""

from collections.abc import Iterator

import dagster as dg

from stock_assets.defs.assets.features import FEATURE_DEFINITIONS_KEY, ONLINE_FEATURES_KEY
from stock_assets.defs.assets.market import INDICATORS_KEY, OHLCV_KEY
from stock_assets.defs.partitions import TICKERS_PARTITION
from stock_assets.defs.registry import register_tickers
from stock_assets.defs.resources import MarketDataResource
from stock_assets.domain.market_data import MarketDataError
from stock_assets.domain.symbols import InvalidTickerError
from stock_assets.settings import get_settings

TICKER_ASSETS = [OHLCV_KEY, INDICATORS_KEY, ONLINE_FEATURES_KEY]

ticker_job = dg.define_asset_job(
    name="ticker_refresh",
    selection=dg.AssetSelection.assets(*TICKER_ASSETS),
    description="Refresh one ticker: OHLCV -> indicators -> online features.",
)

feature_definitions_job = dg.define_asset_job(
    name="apply_feature_definitions",
    selection=dg.AssetSelection.assets(FEATURE_DEFINITIONS_KEY),
    description="Apply the Feast repo (entities, sources, feature views, services).",
)


class RegisterTickerConfig(dg.Config):
    tickers: list[str]


@dg.op(description="Validate symbols, check the provider knows them, add ticker partitions.")
def register_ticker_op(
    context: dg.OpExecutionContext, config: RegisterTickerConfig, market_data: MarketDataResource
) -> list[str]:
    try:
        added = register_tickers(context.instance, market_data.provider(), config.tickers)
    except (InvalidTickerError, MarketDataError) as exc:
        raise dg.Failure(description=str(exc)) from exc
    context.log.info("Registered %s", added or "nothing new")
    return added


@dg.job(description="Register ticker(s) from the launchpad; the new-ticker sensor trains them.")
def register_ticker() -> None:
    register_ticker_op()


def _feature_definitions_missing(instance: dg.DagsterInstance) -> bool:
    return instance.get_latest_materialization_event(FEATURE_DEFINITIONS_KEY) is None


@dg.sensor(
    jobs=[ticker_job, feature_definitions_job],
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launch a refresh run for every ticker partition added since the last tick.",
)
def new_ticker_sensor(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest]:
    if _feature_definitions_missing(context.instance):
        # The ticker runs read the Feast registry: apply it first (once), then come back.
        yield dg.RunRequest(run_key="feature_definitions", job_name=feature_definitions_job.name)
        return
    seen = set(context.cursor.split(",")) if context.cursor else set()
    current = context.instance.get_dynamic_partitions(TICKERS_PARTITION)
    for ticker in current:
        if ticker not in seen:
            yield dg.RunRequest(
                run_key=f"new-ticker:{ticker}", partition_key=ticker, job_name=ticker_job.name
            )
    context.update_cursor(",".join(sorted(current)))


_settings = get_settings()


@dg.schedule(
    job=ticker_job,
    cron_schedule=_settings.daily_refresh_cron,
    execution_timezone=_settings.schedule_timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="After the US close on weekdays: refresh data and features of every ticker.",
)
def daily_refresh_schedule(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    for ticker in context.instance.get_dynamic_partitions(TICKERS_PARTITION):
        yield dg.RunRequest(run_key=f"daily:{day}:{ticker}", partition_key=ticker)
