"""The Dagster code location: every asset, check, job, schedule, sensor and resource."""

from __future__ import annotations

import dagster as dg

from stock_assets.defs.assets.agents import agent_report
from stock_assets.defs.assets.evaluation import backtest, champion_model
from stock_assets.defs.assets.features import feature_definitions, online_features
from stock_assets.defs.assets.forecasting import forecast
from stock_assets.defs.assets.live import forecast_archive, live_skill
from stock_assets.defs.assets.market import indicators, ohlcv
from stock_assets.defs.assets.models import child_model, parent_model
from stock_assets.defs.assets.monitoring import drift_report
from stock_assets.defs.automation import (
    agent_report_job,
    daily_refresh_schedule,
    feature_definitions_job,
    new_ticker_sensor,
    parent_training_job,
    register_ticker,
    ticker_data_job,
    ticker_drift_job,
    ticker_refresh_job,
    ticker_training_job,
    weekly_agent_report_schedule,
)
from stock_assets.defs.replay_sensor import market_replay_sensor
from stock_assets.defs.resources import resources_from_settings
from stock_assets.defs.retrain_sensor import retrain_sensor
from stock_assets.settings import get_settings

ASSETS = [
    ohlcv,
    indicators,
    feature_definitions,
    online_features,
    parent_model,
    child_model,
    backtest,
    champion_model,
    forecast,
    forecast_archive,
    live_skill,
    agent_report,
    drift_report,
]
JOBS = [
    feature_definitions_job,
    ticker_data_job,
    parent_training_job,
    ticker_training_job,
    ticker_refresh_job,
    register_ticker,
    agent_report_job,
    ticker_drift_job,
]


def build_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=ASSETS,
        jobs=JOBS,
        schedules=[daily_refresh_schedule, weekly_agent_report_schedule],
        sensors=[new_ticker_sensor, retrain_sensor, market_replay_sensor],
        resources=resources_from_settings(get_settings()),
        # One process per run: each step in its own subprocess re-imports torch, Feast and pandas
        # (~7 s a step on two cores). Isolation between runs still comes from the run launcher.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
