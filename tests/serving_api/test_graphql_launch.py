"""Through real Dagster servers on loopback: runs launched with Dagster's GraphQL client, and a new
ticker followed, by one task id, from ``202`` to a served forecast under ``dagster dev`` (the
webserver and the daemon, as ``make up`` runs them: the sensor launches the plan)."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest
from fastapi.testclient import TestClient

from devkit.api import api_settings, wait_for_task
from devkit.servers import REPO, free_port, start, stop, wait_for_code_location
from devkit.sizes import TINY_RUNS
from stock_assets import names
from stock_assets.defs.assets.features import FEATURE_DEFINITIONS_KEY
from stock_assets.defs.assets.forecasting import FORECAST_KEY
from stock_assets.defs.assets.market import INDICATORS_KEY
from stock_assets.defs.assets.models import PARENT_KEY
from stock_assets.names import PARTITION_TAG, TICKER_TAG, TICKERS_PARTITION

MakeClient = Callable[..., TestClient]
BIN = Path(sys.executable).parent


def _serve(
    command: list[str], root: Path, dagster_yaml: str, timeout_s: float = 240
) -> Iterator[tuple[str, Path]]:
    """Start a Dagster server on a fresh home; yield (GraphQL URL, DAGSTER_HOME) once the code
    location is loaded."""
    home = root / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(dagster_yaml)
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "STOCKOPS_DATA_DIR": str(root / "data"),
        # Tiny model sizes for every run the sensor launches (the API's runs take the same).
        "STOCKOPS_RUN_CONFIG_OVERRIDES": json.dumps(TINY_RUNS),
        "STOCKOPS_TORCH_THREADS": "1",
    }
    log = root / "dagster.log"
    # In a process group of its own: stopping it stops dagster dev's webserver, daemon and runs.
    process = start(
        [*command, "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"], env, log
    )
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        wait_for_code_location(url, process, log, timeout_s)
        yield url, home
    finally:
        stop(process, timeout_s=30)


@pytest.fixture(scope="module")
def webserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A webserver alone: launches start at once (no daemon dequeues a run queue)."""
    yield from _serve(
        [str(BIN / "dagster-webserver")],
        tmp_path_factory.mktemp("webserver"),
        "telemetry:\n  enabled: false\nrun_coordinator:\n"
        "  module: dagster._core.run_coordinator\n  class: DefaultRunCoordinator\n",
    )


@pytest.mark.integration
def test_a_training_run_launches_through_graphql(
    make_client: MakeClient, webserver: tuple[str, Path]
) -> None:
    url, home = webserver
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        # The platform is bootstrapped and AAPL has a forecast: /train-child is then a single
        # training run.
        instance.add_dynamic_partitions(TICKERS_PARTITION, ["^GSPC", "AAPL"])
        for key, partition in (
            (FEATURE_DEFINITIONS_KEY, None),
            (INDICATORS_KEY, "^GSPC"),
            (PARENT_KEY, None),
            (FORECAST_KEY, "AAPL"),
        ):
            instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))
        client = make_client(instance=instance, dagster_graphql_url=url)
        response = client.post("/train-child", json={"ticker": "AAPL", "strategy": "freeze"})
        assert response.status_code == 202, response.text
        status = client.get(response.headers["location"]).json()
        (launched,) = status["runs"]
        run = instance.get_run_by_id(launched["run_id"])
        assert run is not None and run.job_name == names.TICKER_TRAINING_JOB
        assert run.tags[PARTITION_TAG] == "AAPL" and run.tags[TICKER_TAG] == "AAPL"
        assert run.tags[names.TASK_TAG] == response.json()["task_id"]
        assert run.run_config["ops"][names.CHILD_MODEL]["config"]["strategy"] == "freeze"
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
        # Nothing was left half-started: asking again tries again, it does not join.
        assert client.post("/train-child", json={"ticker": "AAPL"}).status_code == 503


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``dagster dev``: webserver and daemon, the instance make up writes (config/dagster.yaml)."""
    yield from _serve(
        [str(BIN / "dagster"), "dev"],
        tmp_path_factory.mktemp("dagster-dev"),
        (REPO / "config" / "dagster.yaml").read_text(),
    )


@pytest.mark.integration
@pytest.mark.slow
def test_one_task_from_202_to_a_served_forecast_under_dagster_dev(
    dagster_dev: tuple[str, Path], prefix: str
) -> None:
    """As under ``make up``: the API records the task, the daemon's sensor launches the plan
    (bootstrap, then the ticker's own run, each in a process of its own, through the run queue)
    and ``/status`` follows that one task id until the forecast serves, never answering
    ``succeeded`` before the forecast exists."""
    from serving_api.app import create_app

    url, home = dagster_dev
    # The API reads the data dir the daemon's runs write.
    settings = api_settings(home.parent, prefix, dagster_graphql_url=url)
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        deadline = time.monotonic() + 60  # the daemon's first heartbeat
        while "SENSOR" not in instance.get_daemon_heartbeats():
            assert time.monotonic() < deadline, "the Dagster daemon did not start"
            time.sleep(0.5)
        with TestClient(create_app(settings, instance=instance)) as client:
            first = client.post("/predict-child", json={"ticker": "IBM"})
            assert first.status_code == 202, first.text
            task_id = first.json()["task_id"]
            status = wait_for_task(client, f"/status/{task_id}", instance, timeout_s=600)
            assert status["state"] == "succeeded", status["error"]
            assert status["steps_done"] == status["steps_total"] == 2
            assert [r["job"] for r in status["runs"]] == [
                names.PLATFORM_BOOTSTRAP_JOB,
                names.ONBOARD_TICKER_JOB,
            ]
            for launched in status["runs"]:
                run = instance.get_run_by_id(launched["run_id"])
                assert run is not None and run.tags[names.TRIGGER_TAG] == names.ONBOARDING_TRIGGER
            # The ticker's own run carries the task: the UI filters the task's runs by it.
            assert run.tags[names.TASK_TAG] == task_id
            served = client.post("/predict-child", json={"ticker": "IBM"})
            assert served.status_code == 200, served.text
            assert len(served.json()["points"]) == 7
    finally:
        instance.dispose()
