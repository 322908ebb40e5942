"""The on-demand flow for real: a ticker without a model -> 202 -> Dagster runs (local launcher,
tiny model sizes) -> succeeded -> a forecast served from the model, then from the cache."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable

import dagster as dg
import httpx
import pandas as pd
from fastapi.testclient import TestClient

from serving_api.runs import RunSpec
from serving_api.tasks import TICKER_TAG, parse_progress
from stock_assets.domain.calendar import next_trading_days

MakeClient = Callable[..., TestClient]


def _wait(client: TestClient, task_id: str, timeout_s: float = 400) -> dict:
    deadline = time.monotonic() + timeout_s
    seen = set()
    while time.monotonic() < deadline:
        body = client.get(f"/status/{task_id}").json()
        seen.add(body["state"])
        if body["state"] in {"succeeded", "failed"}:
            body["seen"] = seen
            return body
        time.sleep(0.5)
    raise AssertionError(f"task {task_id} still {body} after {timeout_s} s")


def test_predict_trains_a_new_ticker_then_serves_and_caches(make_client: MakeClient) -> None:
    client = make_client()
    first = client.post("/predict-child", json={"ticker": "ibm"})
    assert first.status_code == 202, first.text
    accepted = first.json()
    assert accepted["ticker"] == "IBM" and not accepted["joined"]
    assert accepted["status_url"].endswith(f"/status/{accepted['task_id']}")
    # A second request while it runs joins the same task.
    again = client.post("/predict-child", json={"ticker": "IBM"})
    assert again.status_code == 202 and again.json()["task_id"] == accepted["task_id"]
    assert again.json()["joined"]

    status = _wait(client, accepted["task_id"])
    assert status["state"] == "succeeded", status["error"]
    assert status["steps_done"] == status["steps_total"] == 5
    assert [r["job"] for r in status["runs"]] == [
        "apply_feature_definitions", "ticker_data", "ticker_data", "parent_training",
        "ticker_training",
    ]  # fmt: skip
    assert status["progress"]["unit"] in {"epoch", "fold"}
    assert "forecast" in status["links"]
    assert sorted(client.get("/tickers").json()["tickers"]) == ["IBM", "^GSPC"]

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
    assert 'stockops_api_training_runs_total{event="succeeded",job="ticker_training"}' in metrics


class RecordingLauncher:
    """Counts launches; runs stay 'submitted' until released (nothing executes)."""

    name = "recording"

    def __init__(self) -> None:
        self.specs: list[RunSpec] = []
        self.release = threading.Event()
        self._lock = threading.Lock()

    def submit(self, spec: RunSpec) -> str:
        with self._lock:
            self.specs.append(spec)
        return str(uuid.uuid4())

    def wait(self, instance: dg.DagsterInstance, run_id: str, timeout_s: float) -> str | None:
        self.release.wait(timeout_s)
        return "FAILURE"

    def pending(self, run_id: str) -> bool:
        return not self.release.is_set()

    def close(self) -> None:
        self.release.set()


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
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["task_id"] for r in responses}) == 1
    assert sum(not r.json()["joined"] for r in responses) == 1
    assert len(launcher.specs) == 1 and launcher.specs[0].tags[TICKER_TAG] == "MSFT"
    launcher.release.set()


def test_progress_lines_are_parsed() -> None:
    lines = [
        "starting",
        "progress child IBM: epoch 3/40 train_loss=0.1 val_loss=0.2",
        "progress backtest IBM: fold 2/4",
    ]
    assert parse_progress(lines) == {"phase": "backtest IBM", "unit": "fold", "done": 2, "total": 4}
    assert parse_progress(lines[:2])["done"] == 3
    assert parse_progress(["nothing"]) is None
