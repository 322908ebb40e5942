"""The new-ticker sensor: launches every registered ticker's onboarding plan.

Whoever registered the ticker (the CLI, the UI's ``register_ticker`` job, the API while a daemon
runs), this sensor launches the plan's runs (``stock_assets.defs.onboarding``): the shared
bootstrap once, then one run per ticker. A ticker whose plan is done is remembered in the cursor
and never looked at again, so a tick with nothing new costs one query however many tickers there
are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import dagster as dg

from stock_assets import names
from stock_assets.defs.jobs import bootstrap_job, onboard_ticker_job
from stock_assets.defs.onboarding import Facts, TaskStore, pending_launches, plan_done
from stock_assets.defs.partitions import tickers_partitions
from stock_assets.settings import get_settings

# A tick with nothing new costs one query, so the sensor can look often: each step of a plan
# starts within seconds of the one it waits for.
ONBOARDING_TICK_S = 5


@dataclass
class OnboardingCursor:
    """The tickers whose plan is done (their forecast exists): never looked at again."""

    done: set[str] = field(default_factory=set)

    @classmethod
    def parse(cls, text: str | None) -> OnboardingCursor:
        if not text:
            return cls()
        if not text.startswith("{"):  # the first form (requested tickers): nothing known done
            return cls()
        return cls(set(json.loads(text).get("done", [])))

    def dump(self) -> str:
        return json.dumps({"done": sorted(self.done)})


def onboarding_requests(
    instance: dg.DagsterInstance, cursor: OnboardingCursor, tickers: list[str]
) -> list[dg.RunRequest]:
    """The runs the given (not yet onboarded) tickers' plans need now; updates ``cursor.done``.

    A fixed number of queries answers for all tickers together; every request has a run key
    that counts the attempts, so a step is never requested twice and a failed one is retried up
    to ``MAX_ATTEMPTS`` times (counted since the ticker's latest task, if any).
    """
    settings = get_settings()
    index = settings.index_ticker
    facts = Facts.load(instance)
    cursor.done |= {t for t in tickers if plan_done(facts, t, index)}
    pending = [t for t in tickers if t not in cursor.done]
    tasks = TaskStore(instance).active(pending)
    launches = pending_launches(
        facts, pending, index, tasks, overrides=settings.run_config_overrides
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
