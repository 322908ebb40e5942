"""Every job of the code location, and the asset selections they are made of.

A leaf module: the API, the sensors and the schedules import job names and selections from here
without loading any sensor or schedule. Jobs that train models carry ``STOCKOPS_GPU_RUN_TAGS``
(empty by default), so on Kubernetes every training run, whoever launches it, lands on a GPU node
with the CUDA image while the other runs stay on the general nodes.
"""
# No `from __future__ import annotations`: Dagster reads the op's config class from its
# annotation at definition time.

import dagster as dg

from stock_assets import names
from stock_assets.defs.assets.agents import AGENT_REPORT_KEY
from stock_assets.defs.assets.evaluation import BACKTEST_KEY, CHAMPION_KEY
from stock_assets.defs.assets.features import FEATURE_DEFINITIONS_KEY, ONLINE_FEATURES_KEY
from stock_assets.defs.assets.forecasting import FORECAST_KEY
from stock_assets.defs.assets.live import FORECAST_ARCHIVE_KEY, LIVE_SKILL_KEY
from stock_assets.defs.assets.market import INDICATORS_KEY, OHLCV_KEY
from stock_assets.defs.assets.models import CHILD_KEY, PARENT_KEY
from stock_assets.defs.assets.monitoring import DRIFT_KEY
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
# What every ticker shares: the Feast registry, the index's data and the parent trained on it.
BOOTSTRAP_ASSETS = [FEATURE_DEFINITIONS_KEY, *DATA_ASSETS, PARENT_KEY]
# A new ticker from nothing to a served forecast.
ONBOARD_ASSETS = [*DATA_ASSETS, *TRAINING_ASSETS]
# The daily refresh ends with live scoring and the drift report: fresh rows are exactly what
# both measure, and a failed check there is what the retrain sensor acts on.
REFRESH_ASSETS = [*DATA_ASSETS, *SERVING_ASSETS, DRIFT_KEY]

# Run tags of every job that trains (read once, when the code location loads).
TRAINING_TAGS: dict[str, str] = dict(get_settings().gpu_run_tags)

bootstrap_job = dg.define_asset_job(
    name=names.PLATFORM_BOOTSTRAP_JOB,
    selection=dg.AssetSelection.assets(*BOOTSTRAP_ASSETS),
    tags=TRAINING_TAGS,
    description="What every ticker needs first, in one run on the index partition: the Feast "
    "registry, the index's data and the parent model (only the parts still missing).",
)
onboard_ticker_job = dg.define_asset_job(
    name=names.ONBOARD_TICKER_JOB,
    selection=dg.AssetSelection.assets(*ONBOARD_ASSETS),
    tags=TRAINING_TAGS,
    description="A new ticker from nothing to a served forecast, in one run: data and features, "
    "child model, backtest, the promotion policy's decision, forecast (archived, scored).",
)
ticker_data_job = dg.define_asset_job(
    name=names.TICKER_DATA_JOB,
    selection=dg.AssetSelection.assets(*DATA_ASSETS),
    description="One ticker's data: OHLCV -> indicators -> online features.",
)
ticker_training_job = dg.define_asset_job(
    name=names.TICKER_TRAINING_JOB,
    selection=dg.AssetSelection.assets(*TRAINING_ASSETS),
    tags=TRAINING_TAGS,
    description="Train one ticker's child from the parent, backtest it, let the promotion "
    "policy decide, forecast, archive and score.",
)
ticker_refresh_job = dg.define_asset_job(
    name=names.TICKER_REFRESH_JOB,
    selection=dg.AssetSelection.assets(*REFRESH_ASSETS),
    description="Daily (or per replayed session): one ticker's new data and features, its "
    "forecast, archived, the matured forecasts scored, its drift report.",
)
ticker_drift_job = dg.define_asset_job(
    name=names.TICKER_DRIFT_JOB,
    selection=dg.AssetSelection.assets(DRIFT_KEY),
    description="One ticker's drift report (what the API's /monitor launches when it is stale).",
)
parent_training_job = dg.define_asset_job(
    name=names.PARENT_TRAINING_JOB,
    selection=dg.AssetSelection.assets(PARENT_KEY),
    tags=TRAINING_TAGS,
    description="Train the parent LSTM on the index.",
)
agent_report_job = dg.define_asset_job(
    name=names.AGENT_REPORT_JOB,
    selection=dg.AssetSelection.assets(AGENT_REPORT_KEY),
    description="One ticker's analyst report (LangGraph team), evaluated and stored.",
)
feature_definitions_job = dg.define_asset_job(
    name=names.FEATURE_DEFINITIONS_JOB,
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


@dg.job(
    name=names.REGISTER_TICKER_JOB,
    description="Register ticker(s) from the launchpad; the new-ticker sensor trains them.",
)
def register_ticker() -> None:
    register_ticker_op()
