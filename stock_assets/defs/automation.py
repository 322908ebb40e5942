"""Jobs, the daily schedule, and the sensors that keep every registered ticker fresh."""
# No `from __future__ import annotations`: Dagster reads the op's config class from its
# annotation at definition time.

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import dagster as dg

from stock_assets.defs.assets.agents import AGENT_REPORT_KEY
from stock_assets.defs.assets.evaluation import BACKTEST_KEY, CHAMPION_KEY
from stock_assets.defs.assets.features import FEATURE_DEFINITIONS_KEY, ONLINE_FEATURES_KEY
from stock_assets.defs.assets.forecasting import FORECAST_KEY
from stock_assets.defs.assets.live import FORECAST_ARCHIVE_KEY, LIVE_SKILL_KEY
from stock_assets.defs.assets.market import INDICATORS_KEY, OHLCV_KEY
from stock_assets.defs.assets.models import CHILD_KEY, PARENT_KEY
from stock_assets.defs.assets.monitoring import DRIFT_KEY
from stock_assets.defs.partitions import TICKERS_PARTITION, TRIGGER_TAG
from stock_assets.defs.registry import register_tickers
from stock_assets.defs.resources import MarketDataResource
from stock_assets.defs.run_state import (
    RunIndex,
    materialized,
    materialized_partitions,
    owned_tickers,
)
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


# A step that failed (or was cancelled, e.g. `make up` stopped mid-run) is requested again on a
# later tick, at most this many times in all.
MAX_ATTEMPTS = 3
# A tick with nothing new costs one query, so the sensor can look often: each onboarding step
# starts within seconds of the one it waits for.
ONBOARDING_TICK_S = 5
ONBOARDING_JOBS = [
    feature_definitions_job.name,
    ticker_data_job.name,
    parent_training_job.name,
    ticker_training_job.name,
]


@dataclass
class OnboardingCursor:
    """Which tickers had their data run requested, and which are onboarded for good.

    An onboarded ticker is never looked at again, so a tick with nothing new costs one query
    whatever the number of tickers.
    """

    requested: set[str] = field(default_factory=set)
    done: set[str] = field(default_factory=set)

    @classmethod
    def parse(cls, text: str | None) -> "OnboardingCursor":
        if not text:
            return cls()
        if not text.startswith("{"):  # the earlier form: a comma-separated requested list
            return cls(requested=set(text.split(",")))
        data = json.loads(text)
        return cls(set(data.get("requested", [])), set(data.get("done", [])))

    def dump(self) -> str:
        return json.dumps({"requested": sorted(self.requested), "done": sorted(self.done)})


def _attempt_request(
    runs: RunIndex, key: str, job: str, partition: str | None = None
) -> dg.RunRequest | None:
    """A request whose run key counts earlier failed attempts, so a failure gets a retry.

    Nothing is requested while a run of the same step is queued or running, whoever launched it.
    """
    if runs.busy(job, partition):
        return None
    failed = runs.failed(job, partition)
    if failed >= MAX_ATTEMPTS:
        return None
    return dg.RunRequest(
        run_key=f"{key}:attempt{failed}",
        partition_key=partition,
        job_name=job,
        tags={TRIGGER_TAG: "onboarding"},
    )


def onboarding_requests(
    instance: dg.DagsterInstance, cursor: OnboardingCursor, tickers: list[str], index_ticker: str
) -> list[dg.RunRequest]:
    """What the given (not yet onboarded) tickers still need, in order: Feast registry, data,
    parent, child. Updates ``cursor`` with the data runs requested and the tickers now done.

    Every request has a run key, so a step is not requested again while its run is queued,
    running or done; a failed step is retried up to MAX_ATTEMPTS times. A fixed number of
    queries answers for all tickers together.
    """
    runs = RunIndex.load(instance, ONBOARDING_JOBS)
    if not materialized(instance, FEATURE_DEFINITIONS_KEY):
        # Ticker runs read the Feast registry: apply it first (once), then come back.
        request = _attempt_request(runs, "feature_definitions", feature_definitions_job.name)
        return [request] if request else []
    with_data = materialized_partitions(instance, INDICATORS_KEY)
    with_child = materialized_partitions(instance, CHILD_KEY)
    cursor.done |= {t for t in tickers if t in with_child or (t == index_ticker and t in with_data)}
    # Tickers another launcher (the API) has run anything for are its to onboard.
    owned = owned_tickers(instance)
    pending = [t for t in tickers if t not in cursor.done and t not in owned]
    requests = [
        dg.RunRequest(
            run_key=f"data:{ticker}",
            partition_key=ticker,
            job_name=ticker_data_job.name,
            tags={TRIGGER_TAG: "onboarding"},
        )
        for ticker in pending
        if ticker not in cursor.requested
    ]
    cursor.requested |= set(pending)
    if index_ticker not in with_data:
        return requests
    if not materialized(instance, PARENT_KEY):
        request = _attempt_request(runs, "parent", parent_training_job.name)
        return [*requests, request] if request else requests
    for ticker in pending:
        if ticker != index_ticker and ticker in with_data:
            request = _attempt_request(runs, f"train:{ticker}", ticker_training_job.name, ticker)
            if request:
                requests.append(request)
    return requests


@dg.sensor(
    jobs=[feature_definitions_job, ticker_data_job, parent_training_job, ticker_training_job],
    minimum_interval_seconds=ONBOARDING_TICK_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Onboard every new ticker partition: data and features, then (once the parent "
    "exists) its child model, backtest, promotion and forecast.",
)
def new_ticker_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    cursor = OnboardingCursor.parse(context.cursor)
    tickers = context.instance.get_dynamic_partitions(TICKERS_PARTITION)
    waiting = [t for t in tickers if t not in cursor.done]
    if not waiting:
        return dg.SkipReason(f"All {len(tickers)} registered tickers are onboarded.")
    requests = onboarding_requests(context.instance, cursor, waiting, get_settings().index_ticker)
    return dg.SensorResult(run_requests=requests, cursor=cursor.dump())


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
    with_model = materialized_partitions(context.instance, CHILD_KEY)
    for ticker in context.instance.get_dynamic_partitions(TICKERS_PARTITION):
        yield dg.RunRequest(
            run_key=f"daily:{day}:{ticker}",
            partition_key=ticker,
            asset_selection=refresh_selection(ticker, with_model),
            tags={TRIGGER_TAG: "daily"},
        )


def refresh_selection(ticker: str, with_model: set[str]) -> list[dg.AssetKey] | None:
    """The whole refresh for a ticker with a model; data only for the others (e.g. the index)."""
    return None if ticker in with_model else DATA_ASSETS


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
    with_forecast = materialized_partitions(context.instance, FORECAST_KEY)
    for ticker in context.instance.get_dynamic_partitions(TICKERS_PARTITION):
        if ticker in with_forecast:
            yield dg.RunRequest(run_key=f"agent_report:{week}:{ticker}", partition_key=ticker)
