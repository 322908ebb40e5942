"""OpenAPI conformance, with the schemathesis CLI and every one of its checks, against the live API
on loopback: every operation of the published schema gets generated requests (examples, coverage,
fuzzing and stateful phases; valid and invalid), and the run must end with zero findings: no
server error, no undocumented status code, header or body, no schema-violating request
accepted, no schema-valid request refused, no request accepted without (or with a wrong) API
key.

The server is real (uvicorn, a fresh data dir, real Redis under a unique prefix, the offline
sample provider, API keys on so authentication is checked too); nothing is mocked. Rate limits
are off so generation is not throttled (they have their own tests). Examples per operation:
``STOCKOPS_CONFORMANCE_EXAMPLES`` (default 25: about 900 requests, a few minutes on two cores).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.servers import BIN, running_api
from devkit.sizes import TINY_RUNS

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("STOCKOPS_CONFORMANCE_EXAMPLES", "25"))
API_KEY = "conformance-key"


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("conformance")
    with running_api(
        root,
        STOCKOPS_API_KEYS=API_KEY,
        STOCKOPS_RATE_LIMIT_ENABLED="false",
        STOCKOPS_ADMIN_TOKEN=os.urandom(16).hex(),  # unknown to the generator: reset must refuse
        # Should a generated symbol be a sample ticker, its training stays tiny.
        STOCKOPS_RUN_CONFIG_OVERRIDES=json.dumps(TINY_RUNS),
        STOCKOPS_TORCH_THREADS="1",
    ) as api:
        yield api.url, root
    tail = api.log.read_text(errors="replace")
    assert "Traceback" not in tail, f"the server logged a traceback:\n{tail[-3000:]}"


def test_schemathesis_finds_nothing_with_every_check(live_api: tuple[str, Path]) -> None:
    base, root = live_api
    report = root / "schemathesis.json"
    command = [
        str(BIN / "schemathesis"),
        "run",
        f"{base}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        "1",  # the same requests on every run: a finding reproduces
        "--workers",
        "1",
        "--request-timeout",
        "180",  # /analyze runs the local LLM
        "--header",
        f"X-API-Key: {API_KEY}",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--no-color",
    ]
    run = subprocess.run(
        command, cwd=root, capture_output=True, text=True, timeout=1800, check=False
    )  # its .schemathesis folder lands beside the report
    summary = json.loads(report.read_text())
    # The report lists each failure and error (an empty list when there are none).
    assert run.returncode == 0 and _count(summary["failures"]) == 0, run.stdout[-6000:]
    assert _count(summary["errors"]) == 0, run.stdout[-6000:]
    operations = summary["operations"]
    assert operations["tested"] == operations["selected"] == operations["total"] >= 14
    cases = summary["test_cases"]
    # At least as many requests as examples per operation asked for, over every operation.
    assert cases["generated"] >= EXAMPLES * operations["total"], cases
    assert cases["with_failures"] == 0 and cases["errored"] == 0, cases


def _count(entries: list[object] | int) -> int:
    return len(entries) if isinstance(entries, list) else entries
