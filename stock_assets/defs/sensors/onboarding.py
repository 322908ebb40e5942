"""The new-ticker sensor: launches every registered ticker's onboarding plan.

Whoever registered the ticker (the CLI, the UI's ``register_ticker`` job, the API), this sensor
launches the plan's runs through the plan's one launch function
(``stock_assets.defs.onboarding_tasks.onboarding_launches``; the API hosts the same call when no
daemon runs): the shared bootstrap once, then one run per ticker. A ticker whose plan is done is
remembered in the cursor and never looked at again, so a tick with nothing new costs one query
however many tickers there are.
"""

from __future__ import annotations

import dagster as dg

from stock_assets import names
from stock_assets.defs.jobs import bootstrap_job, onboard_ticker_job
from stock_assets.defs.onboarding_tasks import OnboardingCursor, onboarding_launches
from stock_assets.defs.partitions import tickers_partitions
from stock_assets.settings import get_settings

# A tick with nothing new costs one query, so the sensor can look often: each step of a plan
# starts within seconds of the one it waits for.
ONBOARDING_TICK_S = 5


def onboarding_requests(
    instance: dg.DagsterInstance, cursor: OnboardingCursor, tickers: list[str]
) -> list[dg.RunRequest]:
    """The plan's one launch function (``onboarding_launches``) as run requests; the daemon
    launches each run key once."""
    settings = get_settings()
    launches = onboarding_launches(
        instance, cursor, tickers, settings.index_ticker, overrides=settings.run_config_overrides
    )
    return [launch.run_request() for launch in launches]


@dg.sensor(
    name=names.NEW_TICKER_SENSOR,
    jobs=[bootstrap_job, onboard_ticker_job],
    minimum_interval_seconds=ONBOARDING_TICK_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Onboard every new ticker partition: the shared bootstrap (Feast registry, "
    "index data, parent model) once, then one run per ticker from data to served forecast.",
)
def new_ticker_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    cursor = OnboardingCursor.parse(context.cursor)
    tickers = context.instance.get_dynamic_partitions(names.TICKERS_PARTITION)
    waiting = [t for t in tickers if t not in cursor.done]
    if not waiting:
        return dg.SkipReason(f"All {len(tickers)} registered tickers are onboarded.")
    index = get_settings().index_ticker
    if index not in tickers:
        # Every plan starts with the bootstrap on the index partition: register it first.
        return dg.SensorResult(
            dynamic_partitions_requests=[tickers_partitions.build_add_request([index])],
            cursor=cursor.dump(),
        )
    requests = onboarding_requests(context.instance, cursor, waiting)
    return dg.SensorResult(run_requests=requests, cursor=cursor.dump())
