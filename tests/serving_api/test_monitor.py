"""``POST /monitor/{ticker}`` and ``GET /reports/drift/{ticker}`` on a real (tiny) model.

A module fixture trains a tiny parent and AAPL child through Dagster on a temp instance, and lets
the promotion policy pick the champion (the drift report is about what serves); the API
then launches the real ``ticker_drift`` job in-process (202), and answers from its files (200).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from fastapi.testclient import TestClient

from devkit.api import api_settings, wait_for_task
from devkit.platform import tiny_platform
from devkit.servers import delete_redis_keys, redis_prefix
from serving_api.app import create_app
from stock_assets import names
from stock_assets.domain.storage import atomic_write_text
from stock_assets.domain.symbols import ticker_slug
from stock_assets.logs import configure_logging
from stock_assets.settings import Settings

pytestmark = pytest.mark.slow

TICKER = "AAPL"
EVALUATION = {
    "faithfulness": 0.9,
    "section_coverage": 1.0,
    "critic_verdict": "pass",
    "length_words": 180,
    "score": 0.93,
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, object]]:
    root = tmp_path_factory.mktemp("monitor")
    prefix = redis_prefix()
    settings = api_settings(root, prefix)
    with tiny_platform(root, settings=settings) as platform:
        platform.bootstrap()
        platform.onboard(TICKER)
        yield settings, platform.instance
    delete_redis_keys(prefix)


@pytest.fixture(scope="module")
def client(trained: tuple[Settings, dg.DagsterInstance]) -> Iterator[TestClient]:
    settings, instance = trained
    with TestClient(create_app(settings, instance=instance)) as test_client:
        yield test_client


def test_monitor_materializes_then_answers(
    client: TestClient, trained: tuple[Settings, dg.DagsterInstance]
) -> None:
    settings, _ = trained
    assert client.get(f"/reports/drift/{TICKER}").status_code == 404

    log = io.StringIO()
    configure_logging("json", "INFO", stream=log)  # the app's JSON logs, into a buffer
    accepted = client.post(f"/monitor/{TICKER.lower()}", headers={"X-Request-ID": "req-drift-1"})
    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["x-request-id"] == "req-drift-1"
    task = accepted.json()
    assert task["ticker"] == TICKER and "no drift report" in task["message"]
    # A second request while it runs joins the same task.
    again = client.post(f"/monitor/{TICKER}")
    assert again.status_code in (200, 202)
    if again.status_code == 202:
        assert again.json()["task_id"] == task["task_id"] and again.json()["joined"]
    done = wait_for_task(client, task["status_url"])
    assert done["state"] == "succeeded", done
    assert [r["job"] for r in done["runs"]] == [names.TICKER_DRIFT_JOB]
    lines = [json.loads(line) for line in log.getvalue().splitlines() if line.startswith("{")]
    launched = [x for x in lines if x.get("task_id") == task["task_id"]]
    assert launched and launched[0]["request_id"] == "req-drift-1"
    assert launched[0]["ticker"] == TICKER and launched[0]["level"] == "INFO"
    run = trained[1].get_run_by_id(done["runs"][0]["run_id"])
    assert run is not None and run.tags[names.REQUEST_ID_TAG] == "req-drift-1"

    answer = client.post(f"/monitor/{TICKER}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    drift = body["drift"]
    assert body["ticker"] == TICKER and body["as_of"] == drift["as_of"]
    assert "html_path" not in drift and drift["report_url"] == f"/reports/drift/{TICKER}"
    assert 0 <= drift["drift_share"] <= 1 and len(drift["columns"]) == 5
    assert drift["dataset_drift"] == (drift["drift_share"] > drift["threshold"])
    assert body["report_evaluation"] is None  # no agent report yet
    assert answer.headers["x-request-id"]  # generated when the caller sent none

    html = client.get(drift["report_url"])
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "<html" in html.text[:2000].lower()

    # The agents' latest report is read for its evaluation.
    report = settings.resolved_outputs_dir / "reports" / ticker_slug(TICKER) / "latest.json"
    record = {
        "ticker": TICKER,
        "as_of": drift["as_of"],
        "created_at": "2025-01-01T00:00:00+00:00",
        "report": {},
        "evaluation": EVALUATION,
    }
    atomic_write_text(json.dumps(record), report)
    # A report stored before claims were read and sentences gated has none of those fields:
    # they default to none (and to every sentence grounded: none was the model's).
    stored = client.post(f"/monitor/{TICKER}").json()["report_evaluation"]
    none = {"generated": 0, "admitted": 0, "dropped": 0, "published_model": 0, "published_code": 0}
    defaults = {
        "claims": 0,
        "unsupported_claims": [],
        "sentences": none,
        "dropped_sentences": [],
        "grounded": 1.0,
        "ungrounded_sentences": [],
        "question": None,
    }
    assert stored == {**EVALUATION, **defaults}
    with_claims = {
        **EVALUATION,
        **defaults,
        "claims": 4,
        "unsupported_claims": ["certainty no forecast has"],
    }
    atomic_write_text(json.dumps({**record, "evaluation": with_claims}), report)
    assert client.post(f"/monitor/{TICKER}").json()["report_evaluation"] == with_claims

    # The state collectors export the drift report and the run counts.
    text = client.get("/metrics").text
    assert f'stockops_drift_share{{ticker="{TICKER}"}} {float(drift["drift_share"])}' in text
    counted = f'stockops_dagster_runs{{job="{names.TICKER_DRIFT_JOB}",status="success"}} 1.0'
    assert counted in text

    # refresh=true asks for a new report even when the stored one is current.
    fresh = client.post(f"/monitor/{TICKER}?refresh=true")
    assert fresh.status_code == 202 and "fresh" in fresh.json()["message"]
    assert wait_for_task(client, fresh.json()["status_url"])["state"] == "succeeded"


def test_monitor_bad_input_is_4xx(client: TestClient) -> None:
    for path in ("/monitor/..%2Fetc", "/monitor/" + "A" * 40, "/monitor/bad$"):
        response = client.post(path)
        assert response.status_code in (404, 422), (path, response.text)
        assert "error" in response.json()
    unknown = client.post("/monitor/MSFT")  # valid, but no model
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "no_model"
    for path in ("/reports/drift/MSFT", "/reports/drift/bad$"):
        response = client.get(path)
        assert response.status_code in (404, 422) and "error" in response.json()


def test_stored_report_of_another_model_is_stale(
    client: TestClient, trained: tuple[Settings, dg.DagsterInstance]
) -> None:
    settings, _ = trained
    path = settings.resolved_outputs_dir / "drift" / ticker_slug(TICKER) / "latest.json"
    summary = json.loads(Path(path).read_text())
    atomic_write_text(json.dumps({**summary, "bundle_version": "older"}), path)
    response = client.post(f"/monitor/{TICKER}")
    assert response.status_code == 202 and "new serving model" in response.json()["message"]
    assert wait_for_task(client, response.json()["status_url"])["state"] == "succeeded"
    assert client.post(f"/monitor/{TICKER}").status_code == 200
