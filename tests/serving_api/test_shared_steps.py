"""Onboarding chains never repeat a shared step another launcher is running (e.g. the new-ticker
sensor training the parent during the first `make up`): they join or wait for it instead."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import dagster as dg
from fastapi.testclient import TestClient

from serving_api.runs import RunSpec
from serving_api.tasks import STEPS_TAG, TaskService
from stock_assets.defs.assets.models import PARENT_KEY
from stock_assets.defs.automation import feature_definitions_job, parent_training_job

MakeClient = Callable[..., TestClient]


def _foreign_run(instance: dg.DagsterInstance, job: str) -> str:
    """A run record as another launcher (the sensor) leaves it while its run executes."""
    run_id = str(uuid.uuid4())
    instance.add_run(
        dg.DagsterRun(job_name=job, run_id=run_id, status=dg.DagsterRunStatus.STARTED, tags={})
    )
    return run_id


def test_a_request_joins_the_running_shared_first_step(make_client: MakeClient) -> None:
    client = make_client()
    instance = client.app.state.stockops.instance
    running = _foreign_run(instance, feature_definitions_job.name)

    answer = client.post("/predict-child", json={"ticker": "IBM"})

    assert answer.status_code == 202, answer.text
    assert answer.json()["task_id"] == running and answer.json()["joined"]
    # Nothing of ours was launched: the only run is the foreign one.
    assert [r.run_id for r in instance.get_runs()] == [running]
    assert client.get(f"/status/{running}").json()["state"] == "running"


def _service(client: TestClient) -> tuple[TaskService, dg.DagsterInstance]:
    state = client.app.state.stockops
    return state.tasks, state.instance


def _next_step_while(
    service: TaskService, task_id: str, rest: list[RunSpec], finish: Callable[[], None]
) -> RunSpec | None:
    """Run ``_next_step`` in a thread (it waits for the foreign run), then let the run end."""
    out: list[RunSpec | None] = []
    thread = threading.Thread(target=lambda: out.append(service._next_step(task_id, rest)))
    thread.start()
    thread.join(timeout=1.0)
    assert thread.is_alive(), "it must wait while the foreign run is in progress"
    finish()
    thread.join(timeout=30)
    assert not thread.is_alive()
    return out[0]


def test_a_chain_waits_for_a_foreign_parent_run_and_drops_the_step(
    make_client: MakeClient,
) -> None:
    service, instance = _service(make_client())
    task_id = _foreign_run(instance, "ticker_data")  # stands in for the chain's first run
    instance.add_run_tags(task_id, {STEPS_TAG: "3"})
    foreign = _foreign_run(instance, parent_training_job.name)
    training = RunSpec("ticker_training", "IBM", {})
    rest = [RunSpec(parent_training_job.name, None, {}), training]

    def parent_delivered() -> None:
        instance.report_runless_asset_event(dg.AssetMaterialization(PARENT_KEY))
        instance.report_run_canceled(instance.get_run_by_id(foreign))  # any terminal state

    assert _next_step_while(service, task_id, rest, parent_delivered) == training
    assert instance.get_run_by_id(task_id).tags[STEPS_TAG] == "2"


def test_a_chain_repeats_a_step_whose_foreign_run_failed(make_client: MakeClient) -> None:
    service, instance = _service(make_client())
    task_id = _foreign_run(instance, "ticker_data")
    instance.add_run_tags(task_id, {STEPS_TAG: "2"})
    foreign = _foreign_run(instance, parent_training_job.name)
    parent = RunSpec(parent_training_job.name, None, {})

    def parent_failed() -> None:
        instance.report_run_failed(instance.get_run_by_id(foreign))

    assert _next_step_while(service, task_id, [parent], parent_failed) == parent
    assert instance.get_run_by_id(task_id).tags[STEPS_TAG] == "2"
