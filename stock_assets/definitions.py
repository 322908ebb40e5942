"""The Dagster code location: every asset, check, job, schedule, sensor and resource."""

from __future__ import annotations

import dagster as dg

from stock_assets.defs.assets.features import feature_definitions, online_features
from stock_assets.defs.assets.market import indicators, ohlcv
from stock_assets.defs.automation import (
    daily_refresh_schedule,
    feature_definitions_job,
    new_ticker_sensor,
    register_ticker,
    ticker_job,
)
from stock_assets.defs.resources import resources_from_settings
from stock_assets.settings import get_settings

ASSETS = [ohlcv, indicators, feature_definitions, online_features]


def build_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=ASSETS,
        jobs=[ticker_job, feature_definitions_job, register_ticker],
        schedules=[daily_refresh_schedule],
        sensors=[new_ticker_sensor],
        resources=resources_from_settings(get_settings()),
        # One process per run: each step in its own subprocess re-imports torch, Feast and pandas
        # (~7 s a step on two cores). Isolation between runs still comes from the run launcher.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
