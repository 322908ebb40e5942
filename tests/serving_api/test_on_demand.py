"""The on-demand flow for real: a ticker without a model -> 202 -> its onboarding plan as Dagster
runs (local launcher, tiny model sizes) -> succeeded only once the forecast exists -> the
materialized forecast served, then from the cache."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from devkit.api import wait_for_task
from stock_assets import names
from stock_assets.domain.calendar import next_trading_days
from stock_assets.names import TICKER_TAG
from tests.serving_api.launchers import RecordingLauncher

pytestmark = pytest.mark.slow

MakeClient = Callable[..., TestClient]


def test_predict_trains_a_new_ticker_then_serves_and_caches(make_client: MakeClient) -> None:
    client = make_client()
    instance = client.app.state.stockops.instance
    first = client.post("/predict-child", json={"ticker": "ibm"})
    assert first.status_code == 202, first.text
    accepted = first.json()
    assert accepted["ticker"] == "IBM" and not accepted["joined"]
    assert accepted["status_url"].endswith(f"/status/{accepted['task_id']}")
    assert first.headers["location"] == accepted["status_url"]
    assert int(first.headers["retry-after"]) >= 1
    # A second request while it runs joins the same task.
    again = client.post("/predict-child", json={"ticker": "IBM"})
    assert again.status_code == 202 and again.json()["task_id"] == accepted["task_id"]
    assert again.json()["joined"]

    status = wait_for_task(client, accepted["status_url"], instance)
    assert status["state"] == "succeeded", status["error"]
    # The whole plan, in two runs: the shared bootstrap, then the ticker from data to forecast.
    assert status["steps_done"] == status["steps_total"] == 2
    assert [r["job"] for r in status["runs"]] == [
        names.PLATFORM_BOOTSTRAP_JOB,
        names.ONBOARD_TICKER_JOB,
    ]
    assert "succeeded" not in status["seen"][:-1]
    # Progress came from the runs' structured events: epochs of the parent, then of the child
    # and the backtest's folds, each with its place in the plan.
    phases = {(p["phase"], p["unit"], p["step"]) for p in status["progress_seen"]}
    assert ("parent", "epoch", 1) in phases or ("child IBM", "epoch", 2) in phases, phases
    assert all(0 <= p["done"] <= p["total"] for p in status["progress_seen"])
    assert "forecast" in status["links"]
    assert sorted(client.get("/tickers").json()["tickers"]) == ["IBM", "^GSPC"]

    before = _counts(client)
    served = client.post("/predict-child", json={"ticker": "IBM"})
    assert served.status_code == 200, served.text
    forecast = served.json()
    # The real policy judged the tiny LSTM (version 1) against the baselines: the naive forecast
    # won, was registered (version 2) and serves, labelled with its measured skill.
    assert forecast["cache_hit"] is False and forecast["model_version"] == "2"
    assert (forecast["model"], forecast["model_kind"]) == ("naive", "baseline")
    assert "no skill over naive is claimed" in forecast["skill"]
    assert forecast["as_of"] == "2013-03-01"
    sessions = [str(d.date()) for d in next_trading_days(pd.Timestamp("2013-03-01"), 7)]
    assert [p["date"] for p in forecast["points"]] == sessions
    assert all(p["lower"] <= p["median"] <= p["upper"] for p in forecast["points"])

    cached = client.post("/predict-child", json={"ticker": "IBM"}).json()
    assert cached["cache_hit"] is True
    assert {**cached, "cache_hit": False} == forecast

    model = client.get("/models/IBM").json()
    assert model["champion_version"] == "2" and model["promoted"] is False
    assert model["model"] == "naive" and model["outcome"] == "serve_baseline"
    assert [h["horizon"] for h in model["backtest"]] == list(range(1, 8))
    assert [h["horizon"] for h in model["challenger"]] == list(range(1, 8))
    assert all(0 <= h["p_vs_naive"] <= 1 for h in model["challenger"])
    assert model["decisions"][0]["outcome"] == "serve_baseline"
    assert model["decisions"][0]["champion"] == "2"
    metrics = client.get("/metrics").text
    assert 'stockops_model_relative_mae_h1{ticker="IBM"}' in metrics
    after = _counts(client)
    # The first answer was the forecast the onboarding run materialized, not a new inference;
    # the API counted the outcome of both runs of the plan it launched.
    assert after["materialized"] - before["materialized"] == 1
    assert after["computed"] == before["computed"]
    assert after["onboard_ticker succeeded"] >= 1 and after["platform_bootstrap succeeded"] >= 1


def _counts(client: TestClient) -> dict[str, float]:
    """Forecast sources and run outcomes, from /metrics (counters shared by this process)."""
    from prometheus_client.parser import text_string_to_metric_families

    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "stockops_api_forecast_source_total":
                counts[sample.labels["source"]] = sample.value
            elif sample.name == "stockops_api_training_runs_total":
                counts[f"{sample.labels['job']} {sample.labels['event']}"] = sample.value
    return counts


def test_fifty_concurrent_requests_start_one_task(make_client: MakeClient) -> None:
    launcher = RecordingLauncher()
    client = make_client(launcher=launcher)

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            return await asyncio.gather(
                *[http.post("/predict-child", json={"ticker": "MSFT"}) for _ in range(50)]
            )

    responses = asyncio.run(burst())
    assert {r.status_code for r in responses} == {202}, [
        r.text for r in responses if r.status_code != 202
    ][:3]
    assert len({r.json()["task_id"] for r in responses}) == 1
    assert sum(not r.json()["joined"] for r in responses) == 1
    (spec,) = launcher.specs  # the plan's first step, launched once for the task
    assert (spec.job_name, spec.partition) == (names.PLATFORM_BOOTSTRAP_JOB, "^GSPC")
    assert spec.tags[TICKER_TAG] == "MSFT"
    assert spec.tags[names.TASK_TAG] == responses[0].json()["task_id"]
