"""One onboarding plan and one launch function, whoever hosts it: a task joins the runs the sensor
already started, counts the steps of the whole plan, and succeeds only once the ticker's forecast
exists. With a daemon alive the sensor launches the plan and the API only records the task; with
none, the API launches what the same function returns."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import dagster as dg
import pytest
from dagster._daemon.types import DaemonHeartbeat
from fastapi.testclient import TestClient

from stock_assets import names
from stock_assets.defs.assets.features import FEATURE_DEFINITIONS_KEY
from stock_assets.defs.assets.forecasting import FORECAST_KEY
from stock_assets.defs.assets.market import INDICATORS_KEY
from stock_assets.defs.assets.models import PARENT_KEY
from stock_assets.defs.sensors.onboarding import OnboardingCursor, onboarding_requests
from tests.serving_api.launchers import RecordingLauncher

MakeClient = Callable[..., TestClient]


def _foreign_run(instance: dg.DagsterInstance, job: str, partition: str) -> str:
    """A run record as another launcher (the sensor) leaves it while its run executes."""
    run_id = str(uuid.uuid4())
    instance.add_run(
        dg.DagsterRun(
            job_name=job,
            run_id=run_id,
            status=dg.DagsterRunStatus.STARTED,
            tags={names.PARTITION_TAG: partition},
        )
    )
    return run_id


def _report(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None = None) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, partition=partition))


def _bootstrapped(instance: dg.DagsterInstance) -> None:
    """What the bootstrap leaves: the Feast registry, the index's features, the parent."""
    for key, partition in ((FEATURE_DEFINITIONS_KEY, None), (INDICATORS_KEY, "^GSPC")):
        _report(instance, key, partition)
    _report(instance, PARENT_KEY)


Recorded = tuple[TestClient, RecordingLauncher, dg.DagsterInstance]


@pytest.fixture
def recorded(make_client: MakeClient) -> Recorded:
    """A started app whose launcher records its runs (and starts none), and its instance."""
    launcher = RecordingLauncher()
    client = make_client(launcher=launcher)
    return client, launcher, client.app.state.stockops.instance


def _status(client: TestClient, task_id: str) -> dict:
    time.sleep(0.3)  # past the task service's short memo of a task's state
    return client.get(f"/status/{task_id}").json()


def test_a_request_joins_the_bootstrap_the_sensor_runs_and_the_plan_goes_on(
    recorded: Recorded,
) -> None:
    client, launcher, instance = recorded
    bootstrap = _foreign_run(instance, names.PLATFORM_BOOTSTRAP_JOB, "^GSPC")

    answer = client.post("/predict-child", json={"ticker": "IBM"})

    assert answer.status_code == 202, answer.text
    task = answer.json()
    assert task["joined"] and "joined" in task["message"]
    assert launcher.specs == []  # nothing of ours: the bootstrap is already running
    status = _status(client, task["task_id"])
    assert (status["state"], status["steps_done"], status["steps_total"]) == ("running", 0, 2)
    assert [r["run_id"] for r in status["runs"]] == [bootstrap]

    # The sensor's run delivers; the task's own step is launched, with the task's tag.
    _bootstrapped(instance)
    instance.report_run_canceled(instance.get_run_by_id(bootstrap))  # any terminal state
    status = _status(client, task["task_id"])
    assert (status["state"], status["steps_done"]) == ("running", 1)
    deadline = time.monotonic() + 10  # the API's pump launches the next step within a second
    while not launcher.specs and time.monotonic() < deadline:
        time.sleep(0.1)
    (spec,) = launcher.specs
    assert (spec.job_name, spec.partition) == (names.ONBOARD_TICKER_JOB, "IBM")
    assert spec.tags[names.TASK_TAG] == task["task_id"]


def test_with_no_daemon_the_api_launches_what_the_sensors_function_returns(
    recorded: Recorded,
) -> None:
    """One launch path: with no daemon the API hosts the sensor's own function and launches
    what it returns (the same job, partition, assets, run key and task tag), once."""
    client, launcher, instance = recorded
    _bootstrapped(instance)
    task = client.post("/predict-child", json={"ticker": "IBM"}).json()
    (spec,) = launcher.specs  # launched while answering the request
    (request,) = onboarding_requests(instance, OnboardingCursor(), ["^GSPC", "IBM"])
    assert (spec.job_name, spec.partition) == (request.job_name, request.partition_key)
    assert list(spec.asset_selection or []) == list(request.asset_selection or [])
    assert spec.tags[names.RUN_KEY_TAG] == request.run_key
    assert spec.tags[names.TASK_TAG] == request.tags[names.TASK_TAG] == task["task_id"]
    assert spec.tags[names.TRIGGER_TAG] == names.API_TRIGGER
    time.sleep(1.5)  # the API's loop has called the function again: the step is busy
    assert len(launcher.specs) == 1


def test_a_task_succeeds_only_once_the_forecast_exists(recorded: Recorded) -> None:
    client, _launcher, instance = recorded
    _bootstrapped(instance)
    task = client.post("/predict-child", json={"ticker": "IBM"}).json()
    assert _status(client, task["task_id"])["steps_total"] == 1  # the bootstrap was done

    # Its run writes data and the child: still not done.
    run = _foreign_run(instance, names.ONBOARD_TICKER_JOB, "IBM")
    _report(instance, INDICATORS_KEY, "IBM")
    assert _status(client, task["task_id"])["state"] == "running"
    # The forecast is written, but the run still archives and scores it: not done either.
    _report(instance, FORECAST_KEY, "IBM")
    assert _status(client, task["task_id"])["state"] == "running"
    instance.report_run_canceled(instance.get_run_by_id(run))
    done = _status(client, task["task_id"])
    assert (done["state"], done["steps_done"], done["steps_total"]) == ("succeeded", 1, 1)
    assert "forecast" in done["links"]


def test_a_failed_step_fails_the_task_with_its_reason_and_a_new_request_retries(
    recorded: Recorded,
) -> None:
    client, _launcher, instance = recorded
    _bootstrapped(instance)
    task = client.post("/predict-child", json={"ticker": "IBM"}).json()
    run = _foreign_run(instance, names.ONBOARD_TICKER_JOB, "IBM")
    instance.report_run_failed(instance.get_run_by_id(run))
    failed = _status(client, task["task_id"])
    assert failed["state"] == "failed" and failed["error"]

    again = client.post("/predict-child", json={"ticker": "IBM"}).json()
    assert again["task_id"] != task["task_id"] and not again["joined"]


def test_with_a_daemon_alive_the_sensor_launches_and_the_api_only_records(
    recorded: Recorded,
) -> None:
    client, launcher, instance = recorded
    instance.add_daemon_heartbeat(
        DaemonHeartbeat(time.time(), "SENSOR", str(uuid.uuid4()), errors=[])
    )
    task = client.post("/predict-child", json={"ticker": "IBM"}).json()
    time.sleep(1.5)  # the API's pump would have launched by now, were it driving
    assert launcher.specs == []
    assert _status(client, task["task_id"])["state"] == "queued"

    (bootstrap,) = onboarding_requests(instance, OnboardingCursor(), ["^GSPC", "IBM"])
    assert bootstrap.job_name == names.PLATFORM_BOOTSTRAP_JOB
    _bootstrapped(instance)
    (onboard,) = onboarding_requests(instance, OnboardingCursor(), ["^GSPC", "IBM"])
    assert (onboard.job_name, onboard.partition_key) == (names.ONBOARD_TICKER_JOB, "IBM")
    assert onboard.tags[names.TASK_TAG] == task["task_id"]  # the UI shows the task's runs
