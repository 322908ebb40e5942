"""Fixtures of the deployment tests: the chart rendered once per values file (and on disk), the
run pod Jobs, the GPU run tags, a fresh Postgres database. Helpers live in ``manifests``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import yaml

from devkit.servers import scratch_database
from tests.deploy.manifests import (
    PG,
    Rendered,
    build_run_job,
    env_config,
    load_values,
    render_chart,
)


@pytest.fixture(scope="session")
def renderings() -> dict[str, Rendered]:
    """The chart rendered with its defaults, the production values and the hybrid variant of
    them (once per session)."""
    variants = ("default", "production", "hybrid")
    return {name: render_chart(name, load_values(name)) for name in variants}


@pytest.fixture(params=["default", "production"])
def rendered(request: pytest.FixtureRequest, renderings: dict[str, Rendered]) -> Rendered:
    return renderings[request.param]


@pytest.fixture(scope="session")
def rendered_dir(
    tmp_path_factory: pytest.TempPathFactory,
    renderings: dict[str, Rendered],
) -> Path:
    """Rendered manifests on disk (one folder per values file, plus the run pod Jobs)."""
    base = tmp_path_factory.mktemp("rendered")
    for name, rendering in renderings.items():
        (base / name).mkdir()
        (base / name / "manifests.yaml").write_text(rendering.as_yaml())
    return base


@pytest.fixture(scope="session")
def gpu_tags(renderings: dict[str, Rendered]) -> dict[str, str]:
    """The run tags the production values give every training run (STOCKOPS_GPU_RUN_TAGS)."""
    return json.loads(env_config(renderings["production"])["STOCKOPS_GPU_RUN_TAGS"])


@pytest.fixture(scope="session")
def run_jobs(
    tmp_path_factory: pytest.TempPathFactory,
    renderings: dict[str, Rendered],
    gpu_tags: dict[str, str],
    rendered_dir: Path,
) -> Iterator[dict[str, dict[str, Any]]]:
    """Run pod Jobs: a plain run (defaults) and a GPU training run (production values)."""
    tmp = tmp_path_factory.mktemp("runjobs")
    jobs = {
        "default": build_run_job(renderings["default"], {}, tmp),
        "production-gpu": build_run_job(renderings["production"], gpu_tags, tmp),
    }
    # Beside their release's manifests: checkov matches them against its NetworkPolicies.
    for name, job in jobs.items():
        folder = rendered_dir / name.split("-")[0]
        (folder / f"run-job-{name}.yaml").write_text(yaml.safe_dump(job))
    yield jobs


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh database on the local Postgres, dropped afterwards."""
    try:
        psycopg2.connect(**PG, connect_timeout=3).close()
    except psycopg2.OperationalError as exc:
        pytest.fail(f"Postgres must run on 127.0.0.1:5432 (see .ci/run): {exc}")
    with scratch_database("stockops_deploy") as name:
        yield name
