"""Launching through a real ``dagster-webserver`` on loopback (GraphQL ``launchRun``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import httpx
import pytest
from fastapi.testclient import TestClient

from serving_api.runs import PARTITION_TAG
from serving_api.tasks import TICKER_TAG
from stock_assets.defs.partitions import TICKERS_PARTITION

MakeClient = Callable[..., TestClient]
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def webserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(GraphQL URL, DAGSTER_HOME) of a webserver that has loaded the code location."""
    root = tmp_path_factory.mktemp("webserver")
    home = root / "dagster"
    home.mkdir()
    # Launches start at once (no daemon here to dequeue a run queue); each run is a subprocess.
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
        "run_coordinator:\n  module: dagster._core.run_coordinator\n"
        "  class: DefaultRunCoordinator\n"
    )
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "STOCKOPS_DATA_DIR": str(root / "data")}
    binary = Path(sys.executable).with_name("dagster-webserver")
    process = subprocess.Popen(
        [str(binary), "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/graphql"
    query = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name } } } }"
    try:
        deadline = time.monotonic() + 240  # loading the code location takes a while on 2 busy cores
        while True:
            assert process.poll() is None, "dagster-webserver exited"
            try:
                body = httpx.post(url, json={"query": query}, timeout=5).json()
                if body["data"]["repositoriesOrError"].get("nodes"):
                    break  # the code location is loaded, launches will resolve
            except (httpx.HTTPError, KeyError, TypeError, ValueError):
                pass
            assert time.monotonic() < deadline, "dagster-webserver did not come up"
            time.sleep(0.5)
        yield url, home
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.integration
def test_train_child_launches_through_graphql(
    make_client: MakeClient, webserver: tuple[str, Path]
) -> None:
    url, home = webserver
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        # The ticker's data and the parent "exist", so the task is a single training run.
        instance.add_dynamic_partitions(TICKERS_PARTITION, ["^GSPC", "AAPL"])
        client = make_client(instance=instance, dagster_graphql_url=url)
        state = client.app.state.stockops
        state.tasks.plan = lambda ticker, strategy: [
            state.tasks._spec(
                "ticker_training",
                ticker,
                {"ops": {"child_model": {"config": {"strategy": strategy}}}},
            )
        ]
        response = client.post("/train-child", json={"ticker": "AAPL", "strategy": "freeze"})
        assert response.status_code == 202, response.text
        run = instance.get_run_by_id(response.json()["task_id"])
        assert run is not None and run.job_name == "ticker_training"
        assert run.tags[PARTITION_TAG] == "AAPL" and run.tags[TICKER_TAG] == "AAPL"
        assert run.run_config["ops"]["child_model"]["config"]["strategy"] == "freeze"
        status = client.get(f"/status/{run.run_id}")
        assert status.status_code == 200 and status.json()["ticker"] == "AAPL"
    finally:
        instance.dispose()


@pytest.mark.integration
def test_unreachable_webserver_is_503_naming_dagster(make_client: MakeClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]  # bound, never listening: connections are refused
        client = make_client(dagster_graphql_url=f"http://127.0.0.1:{closed}/graphql")
        response = client.post("/train-child", json={"ticker": "AAPL"})
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "dagster_unavailable" and "Dagster" in error["message"]


@pytest.mark.integration
def test_a_new_ticker_onboards_end_to_end_through_graphql(
    webserver: tuple[str, Path], prefix: str
) -> None:
    """The whole chain (Feast registry, index data, ticker data, parent, training) launched run
    by run through the webserver, each run in its own process, then served by the API."""
    from serving_api.app import create_app
    from stock_assets.settings import Settings
    from tests.serving_api.conftest import REDIS_URL, TINY_RUNS
    from tests.serving_api.test_on_demand import _wait

    url, home = webserver
    # The API must read the data dir the webserver's runs write (the fixture's environment).
    settings = Settings(
        data_dir=home.parent / "data",
        redis_url=REDIS_URL,
        redis_key_prefix=prefix,
        dagster_graphql_url=url,
    )
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        app = create_app(settings, instance=instance, run_config_overrides=TINY_RUNS)
        with TestClient(app) as client:
            first = client.post("/predict-child", json={"ticker": "IBM"})
            assert first.status_code == 202, first.text
            status = _wait(client, first.json()["task_id"], timeout_s=420)
            assert status["state"] == "succeeded", status["error"]
            assert status["steps_done"] == status["steps_total"]
            jobs = [r["job"] for r in status["runs"]]
            assert jobs[-2:] == ["parent_training", "ticker_training"], jobs
            # Every run went through the webserver: each ran in a process of its own.
            for run_id in (r["run_id"] for r in status["runs"]):
                run = instance.get_run_by_id(run_id)
                assert run is not None and run.tags.get("stockops/source") == "api"
            served = client.post("/predict-child", json={"ticker": "IBM"})
            assert served.status_code == 200, served.text
            assert len(served.json()["points"]) == 7
    finally:
        instance.dispose()
