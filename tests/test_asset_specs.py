"""A snapshot of the code location's shape: every asset (group, kinds, owners, partitions,
upstream assets, checks, pool), job (its assets and tags), sensor and schedule.

A change to the asset graph shows here as a diff to review, not as a surprise in the UI. After
an intended change, refresh the snapshot with
``STOCKOPS_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/test_asset_specs.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg

from stock_assets import names
from stock_assets.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "code_location.json"


def _partitions(spec: dg.AssetSpec) -> str | None:
    definition = spec.partitions_def
    if definition is None:
        return None
    return getattr(definition, "name", None) or type(definition).__name__


def code_location_shape() -> dict[str, Any]:
    assets = {}
    for spec in sorted(defs.resolve_all_asset_specs(), key=lambda s: s.key.to_user_string()):
        definition = defs.resolve_assets_def(spec.key)
        assets[spec.key.to_user_string()] = {
            "group": spec.group_name,
            "kinds": sorted(spec.kinds),
            "owners": list(spec.owners),
            "partitions": _partitions(spec),
            "upstream": sorted(d.asset_key.to_user_string() for d in spec.deps),
            "checks": sorted(
                f"{c.name}{' (blocking)' if c.blocking else ''}"
                for c in definition.check_specs
                if c.asset_key == spec.key
            ),
            "pool": definition.op.pool,
            "has_description": bool(spec.description),
        }
    jobs = {}
    for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue  # Dagster's implicit asset job
        selected = job.asset_layer.executable_asset_keys if job.asset_layer else set()
        jobs[job.name] = {
            "assets": sorted(k.to_user_string() for k in selected),
            "tags": dict(sorted(job.tags.items())),
        }
    return {
        "assets": assets,
        "jobs": jobs,
        "sensors": sorted(s.name for s in defs.sensors or []),
        "schedules": sorted(
            f"{s.name} ({s.cron_schedule}, {s.execution_timezone})" for s in defs.schedules or []
        ),
    }


def test_the_code_location_matches_its_snapshot() -> None:
    shape = code_location_shape()
    if os.environ.get("STOCKOPS_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(shape, indent=2, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    assert shape == expected, (
        "The code location changed: review the difference, then refresh the snapshot "
        "(STOCKOPS_UPDATE_SNAPSHOTS=1)."
    )


def test_every_asset_is_owned_grouped_and_described() -> None:
    for key, asset in code_location_shape()["assets"].items():
        assert asset["owners"] and asset["group"] != "default", key
        assert asset["has_description"], key


def test_every_job_that_trains_carries_the_gpu_run_tags(tmp_path: Path) -> None:
    """``STOCKOPS_GPU_RUN_TAGS`` (what the Helm chart sets when GPU runs are on) lands on the
    jobs that train, and only on them, whoever launches them. A fresh interpreter: job tags
    are read when the code location loads."""
    import subprocess
    import sys

    tags = {"dagster-k8s/config": '{"container_config": {"image": "x-cuda"}}', "stockops/gpu": "1"}
    script = (
        "import json; from stock_assets.definitions import defs; "
        "print(json.dumps({j.name: dict(j.tags) for j in defs.resolve_all_job_defs()}))"
    )
    env = {
        **os.environ,
        "STOCKOPS_GPU_RUN_TAGS": json.dumps(tags),
        "STOCKOPS_DATA_DIR": str(tmp_path / "data"),
    }
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout
    by_job = json.loads(out.strip().splitlines()[-1])
    training = {
        names.PLATFORM_BOOTSTRAP_JOB,
        names.ONBOARD_TICKER_JOB,
        names.TICKER_TRAINING_JOB,
        names.PARENT_TRAINING_JOB,
    }
    for name, job_tags in by_job.items():
        if name in training:
            assert {k: job_tags.get(k) for k in tags} == tags, name
        else:
            assert not set(tags) & set(job_tags), name
