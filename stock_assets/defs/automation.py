"""Jobs, the daily schedule, and the sensors that keep every registered ticker fresh."""

from collections.abc import Iterator

import dagster as dg

from stock_assets.defs.assets.agents import AGENT_REPORT_KEY
from stock_assets.defs.assets.evaluation import BACKTEST_KEY, CHAMPION_KEY
from stock_assets.defs.assets.features import FEATURE_DEFINITIONS_KEY, ONLINE_FEATURES_KEY
from stock_assets.defs.assets.forecasting import FORECAST_KEY
from stock_assets.defs.assets.live import FORECAST_ARCHIVE_KEY, LIVE_SKILL_KEY
from stock_assets.defs.assets.market import INDICATORS_KEY, OHLCV_KEY
from stock_assets.defs.assets.models import CHILD_KEY, PARENT_KEY
from stock_assets.defs.assets.monitoring import DRIFT_KEY
from stock_assets.defs.partitions import TICKER_TAG, TICKERS_PARTITION, TRIGGER_TAG
from stock_assets.defs.registry import register_tickers
from stock_assets.defs.resources import MarketDataResource
from stock_assets.domain.market_data import MarketDataError
from stock_assets.domain.symbols import InvalidTickerError
from stock_assets.settings import get_settings

DATA_ASSETS = [OHLCV_KEY, INDICATORS_KEY, ONLINE_FEATURES_KEY]
# The forecast is archived and scored wherever it is made (a new champion starts its live record
# at once); drift is measured on each new session, by the refresh.
SERVING_ASSETS = [FORECAST_KEY, FORECAST_ARCHIVE_KEY, LIVE_SKILL_KEY]
TRAINING_ASSETS = [CHILD_KEY, BACKTEST_KEY, CHAMPION_KEY, *SERVING_ASSETS]

ticker_data_job = dg.define_asset_job(
    name="ticker_data",
    selection=dg.AssetSelection.assets(*DATA_ASSETS),
    description="One ticker's data: OHLCV -> indicators -> online features.",
)
ticker_training_job = dg.define_asset_job(
    name="ticker_training",
    selection=dg.AssetSelection.assets(*TRAINING_ASSETS),
    description="Train one ticker's child from the parent, backtest it, let the promotion "
    "policy decide, forecast, archive and score.",
)
# The daily refresh ends with live scoring and the drift report: fresh rows are exactly what
# both measure, and a failed check there is what the retrain sensor acts on.
ticker_refresh_job = dg.define_asset_job(
    name="ticker_refresh",
    selection=dg.AssetSelection.assets(*DATA_ASSETS, *SERVING_ASSETS, DRIFT_KEY),
    description="Daily (or per replayed session): one ticker's new data and features, its "
    "forecast, archived, the matured forecasts scored, its drift report.",
)
ticker_drift_job = dg.define_asset_job(
    name="ticker_drift",
    selection=dg.AssetSelection.assets(DRIFT_KEY),
    description="One ticker's drift report (what the API's /monitor launches when it is stale).",
)
parent_training_job = dg.define_asset_job(
    name="parent_training",
    selection=dg.AssetSelection.assets(PARENT_KEY),
    description="Train the parent LSTM on the index.",
)
agent_report_job = dg.define_asset_job(
    name="agent_report",
    selection=dg.AssetSelection.assets(AGENT_REPORT_KEY),
    description="One ticker's analyst report (LangGraph team), evaluated and stored.",
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


def materialized(
    instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None = None
) -> bool:
    if partition is None:
        return instance.get_latest_materialization_event(key) is not None
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    )
    return bool(records.records)


# A step that failed (or was cancelled, e.g. `make up` stopped mid-run) is requested again on a
# later tick, at most this many times in all.
MAX_ATTEMPTS = 3
IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _attempt_request(
    instance: dg.DagsterInstance, key: str, job: str, partition: str | None = None
) -> dg.RunRequest | None:
    """A request whose run key counts earlier failed attempts, so a failure gets a retry.

    Nothing is requested while a run of the same step is queued or running, whoever launched it.
    """
    tags = {"dagster/partition": partition} if partition else {}
    # A run of this step launched by anyone (the API too) and still going: wait for it.
    if instance.get_runs_count(dg.RunsFilter(job_name=job, tags=tags, statuses=IN_PROGRESS)):
        return None
    failed = instance.get_runs_count(
        dg.RunsFilter(
            job_name=job,
            tags=tags,
            statuses=[dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED],
        )
    )
    if failed >= MAX_ATTEMPTS:
        return None
    return dg.RunRequest(
        run_key=f"{key}:attempt{failed}",
        partition_key=partition,
        job_name=job,
        tags={TRIGGER_TAG: "onboarding"},
    )


def _owned(instance: dg.DagsterInstance, ticker: str) -> bool:
    """Whether another launcher (the API) has run anything for this ticker: it onboards it."""
    records = instance.get_run_records(dg.RunsFilter(tags={TICKER_TAG: ticker}), limit=1)
    return bool(records)


def _onboarding_requests(
    instance: dg.DagsterInstance, seen: set[str], index_ticker: str
) -> Iterator[dg.RunRequest]:
    """What a newly registered ticker still needs, in order: Feast registry, data, parent, child.

    Every request has a run key, so a step is not requested again while its run is queued,
    running or done; a failed step is retried up to MAX_ATTEMPTS times.
    """
    if not materialized(instance, FEATURE_DEFINITIONS_KEY):
        # Ticker runs read the Feast registry: apply it first (once), then come back.
        request = _attempt_request(instance, "feature_definitions", feature_definitions_job.name)
        if request:
            yield request
        return
    tickers = [
        t for t in instance.get_dynamic_partitions(TICKERS_PARTITION) if not _owned(instance, t)
    ]
    for ticker in tickers:
        if ticker not in seen:
            yield dg.RunRequest(
                run_key=f"data:{ticker}",
                partition_key=ticker,
                job_name=ticker_data_job.name,
                tags={TRIGGER_TAG: "onboarding"},
            )
    if not materialized(instance, INDICATORS_KEY, index_ticker):
        return
    if not materialized(instance, PARENT_KEY):
        request = _attempt_request(instance, "parent", parent_training_job.name)
        if request:
            yield request
        return
    for ticker in tickers:
        if (
            ticker != index_ticker
            and materialized(instance, INDICATORS_KEY, ticker)
            and not materialized(instance, CHILD_KEY, ticker)
        ):
            request = _attempt_request(
                instance, f"train:{ticker}", ticker_training_job.name, ticker
            )
            if request:
                yield request


@dg.sensor(
    jobs=[feature_definitions_job, ticker_data_job, parent_training_job, ticker_training_job],
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Onboard every new ticker partition: data and features, then (once the parent "
    "exists) its child model, backtest, promotion and forecast.",
)
def new_ticker_sensor(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest]:
    seen = set(context.cursor.split(",")) if context.cursor else set()
    yield from _onboarding_requests(context.instance, seen, get_settings().index_ticker)
    if materialized(context.instance, FEATURE_DEFINITIONS_KEY):
        context.update_cursor(
            ",".join(sorted(context.instance.get_dynamic_partitions(TICKERS_PARTITION)))
        )


_settings = get_settings()


@dg.schedule(
    cron_schedule=_settings.daily_refresh_cron,
    execution_timezone=_settings.schedule_timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    job=ticker_refresh_job,
    description="After the US close on weekdays: refresh every ticker's data, features and "
    "forecast.",
)
def daily_refresh_schedule(
    context: dg.ScheduleEvaluationContext,
) -> Iterator[dg.RunRequest | dg.SkipReason]:
    """Tickers with a model refresh data and forecast; the others (e.g. the index) data only."""
    if get_settings().replay_enabled:
        yield dg.SkipReason("Replay mode: the replay sensor advances the market, not the clock.")
        return
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    for ticker in context.instance.get_dynamic_partitions(TICKERS_PARTITION):
        yield dg.RunRequest(
            run_key=f"daily:{day}:{ticker}",
            partition_key=ticker,
            asset_selection=refresh_selection(context.instance, ticker),
            tags={TRIGGER_TAG: "daily"},
        )


def refresh_selection(instance: dg.DagsterInstance, ticker: str) -> list[dg.AssetKey] | None:
    """The whole refresh for a ticker with a model; data only for the others (e.g. the index)."""
    return None if materialized(instance, CHILD_KEY, ticker) else DATA_ASSETS


@dg.schedule(
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
    for ticker in context.instance.get_dynamic_partitions(TICKERS_PARTITION):
        if materialized(context.instance, FORECAST_KEY, ticker):
            yield dg.RunRequest(run_key=f"agent_report:{week}:{ticker}", partition_key=ticker)
