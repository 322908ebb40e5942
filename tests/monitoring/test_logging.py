"""JSON logs with request ids: the formatter, and the middleware over a real app."""

from __future__ import annotations

import io
import json
import logging

import dagster as dg
import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

from devkit.servers import REPO
from serving_api.logging import RequestIdMiddleware
from stock_assets import names
from stock_assets.logs import REQUEST_ID, JsonFormatter, configure_logging


def _record(message: str, **extra: object) -> logging.LogRecord:
    return logging.makeLogRecord(
        {"name": "stockops.test", "levelname": "INFO", "msg": message, **extra}
    )


def test_json_lines_carry_the_request_id_and_extras() -> None:
    formatter = JsonFormatter()
    token = REQUEST_ID.set("abc123")
    try:
        line = json.loads(formatter.format(_record("hello %s", args=("you",), ticker="AAPL")))
    finally:
        REQUEST_ID.reset(token)
    assert line["message"] == "hello you" and line["request_id"] == "abc123"
    assert line["ticker"] == "AAPL" and line["level"] == "INFO" and line["ts"].endswith("+00:00")
    outside = json.loads(formatter.format(_record("no request")))
    assert "request_id" not in outside
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        failed = json.loads(formatter.format(_record("failed", exc_info=sys.exc_info())))
    assert "ValueError: boom" in failed["exception"]


def test_configure_logging_is_idempotent_and_has_a_text_mode() -> None:
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)
    configure_logging("json", "INFO", stream=stream)
    logging.getLogger("stockops.test").info("once")
    assert [json.loads(x)["message"] for x in stream.getvalue().splitlines()].count("once") == 1
    text = io.StringIO()
    configure_logging("text", "INFO", stream=text)
    logging.getLogger("stockops.test").info("plain")
    assert "INFO stockops.test [-] plain" in text.getvalue()
    configure_logging("json", "INFO")


def test_middleware_echoes_or_makes_request_ids() -> None:
    app = FastAPI()
    seen: list[str | None] = []

    @app.get("/sync")
    def sync_route() -> dict[str, str | None]:  # runs in a worker thread
        seen.append(REQUEST_ID.get())
        return {"request_id": REQUEST_ID.get()}

    app.add_middleware(RequestIdMiddleware)
    with TestClient(app) as client:
        given = client.get("/sync", headers={"X-Request-ID": "trace-42"})
        assert given.headers["x-request-id"] == "trace-42" == given.json()["request_id"]
        made = client.get("/sync")
        assert len(made.headers["x-request-id"]) == 32 == len(made.json()["request_id"])
        # A header that is not a plain token is replaced, never logged as is.
        odd = client.get("/sync", headers={"X-Request-ID": "x" * 200})
        assert odd.headers["x-request-id"] != "x" * 200
        assert client.get("/missing").headers["x-request-id"]  # errors carry one too
    assert REQUEST_ID.get() is None  # reset after each request
    assert seen[0] == "trace-42"


def test_dagster_runs_log_json_with_the_launching_request_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The instance logging block of config/dagster.yaml (what `stockops init` installs) sends
    run logs through the same formatter, with the id of the launching request (a run tag)."""
    instance_config = yaml.safe_load((REPO / "config" / "dagster.yaml").read_text())
    config = {"python_logs": instance_config["python_logs"]}

    @dg.op
    def say(context) -> None:  # type: ignore[no-untyped-def]  # string annotations confuse dagster
        context.log.info("drift measured", extra={"ticker": "AAPL"})

    @dg.job
    def logged() -> None:
        say()

    with dg.instance_for_test(overrides=config) as instance:
        result = logged.execute_in_process(instance=instance, tags={names.REQUEST_ID_TAG: "req-7"})
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    (line,) = [x for x in lines if x["message"] == "drift measured"]
    assert line["run_id"] == result.run_id and line["job_name"] == "logged"
    assert line["step_key"] == "say" and line["request_id"] == "req-7"
    assert line["ticker"] == "AAPL"
    assert any(x.get("event") == "STEP_SUCCESS" for x in lines)
