"""Schemathesis against the live API on loopback: every operation of the OpenAPI schema gets
generated requests (valid and invalid), and no answer is a server error or strays from the
schema (status codes, content types, bodies). At least FUZZ_MIN_REQUESTS requests in all.

The server is real (uvicorn, fresh data dir, real Redis under a unique prefix, the offline
sample provider); nothing is mocked. Rate limits are off so fuzzing is not throttled (they have
their own tests).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, given, settings

from bench.bench_api import free_port, stop
from tests.serving_api.conftest import TINY_RUNS

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/0"
FUZZ_MIN_REQUESTS = 1000
EXAMPLES_PER_OPERATION = int(os.environ.get("STOCKOPS_FUZZ_EXAMPLES", "150"))
_calls: list[tuple[str, str, int]] = []


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("fuzz")
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    prefix = f"stockops-fuzz:{uuid.uuid4().hex[:8]}:"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKOPS_")}
    env.update({
        "STOCKOPS_DATA_DIR": str(root / "data"),
        "DAGSTER_HOME": str(home),
        "STOCKOPS_REDIS_URL": REDIS_URL,
        "STOCKOPS_REDIS_KEY_PREFIX": prefix,
        "STOCKOPS_RATE_LIMIT_ENABLED": "false",
        "STOCKOPS_ADMIN_TOKEN": uuid.uuid4().hex,  # unknown to the fuzzer: reset must refuse
        # Should a generated symbol be a sample ticker, its training stays tiny.
        "STOCKOPS_RUN_CONFIG_OVERRIDES": json.dumps(TINY_RUNS),
    })  # fmt: skip
    port = free_port()
    log = root / "uvicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "serving_api.app:create_app",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"API exited:\n{log.read_text()[-3000:]}"
            try:
                if httpx.get(base + "/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"API not up:\n{log.read_text()[-3000:]}"
            time.sleep(0.3)
        yield base
        tail = log.read_text(errors="replace")
        assert "Traceback" not in tail, f"the server logged a traceback:\n{tail[-3000:]}"
    finally:
        stop(proc)
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()


def _fuzz_operation(operation: schemathesis.APIOperation) -> None:
    """Hypothesis drives one operation; every answer is checked by Schemathesis' checks."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,  # the same requests on every run: a failure reproduces
        database=None,
    )
    def fuzz(case: schemathesis.Case) -> None:
        response = case.call(timeout=30)
        _calls.append((case.method, operation.path, response.status_code))
        assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
        case.validate_response(response)

    fuzz()


def test_no_server_errors_and_answers_match_the_schema(live_api: str) -> None:
    # Driven by hand rather than by schemathesis' pytest plugin, which does not support
    # pytest 9's nodes yet.
    schema = schemathesis.openapi.from_url(f"{live_api}/openapi.json")
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        try:
            _fuzz_operation(operation)
        except (Exception, BaseExceptionGroup) as exc:  # every operation's failure, then all
            failures[f"{operation.method.upper()} {operation.path}"] = str(exc)[:2000]
    assert operations >= 8, f"only {operations} operations in the schema"
    assert not failures, "\n\n".join(f"{op}:\n{msg}" for op, msg in failures.items())
    assert len(_calls) >= FUZZ_MIN_REQUESTS, f"{len(_calls)} requests over {operations} ops"
