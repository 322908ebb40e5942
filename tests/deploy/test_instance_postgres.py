"""The chart's and compose's Dagster storage config against a real Postgres (127.0.0.1:5432).

Only the host changes (the Service name does not resolve here): each config opens a Dagster
instance in a fresh database, which runs dagster-postgres' migrations, then stores and reads a run.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import PG, ROOT, Rendered


def open_instance_and_store_a_run(config: dict[str, Any], home: Path) -> None:
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef
    from dagster._core.storage.dagster_run import DagsterRun

    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        run = DagsterRun(job_name="deploy_smoke", run_id=str(uuid.uuid4()))
        instance.add_run(run)
        assert instance.get_run_by_id(run.run_id).job_name == "deploy_smoke"


def test_chart_storage_config_works_on_postgres(
    renderings: dict[str, Rendered], database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = renderings["default"].instance("dagster-client.yaml")
    db = config["storage"]["postgres"]["postgres_db"]
    db.update({"hostname": PG["host"], "username": PG["user"], "db_name": database})
    local = tmp_path / "data"
    config["local_artifact_storage"]["config"]["base_dir"] = str(local / "storage")
    config["compute_logs"]["config"]["base_dir"] = str(local / "compute_logs")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "")  # trust auth here; a Secret in the cluster
    open_instance_and_store_a_run(config, tmp_path / "home")


def test_compose_storage_config_works_on_postgres(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = yaml.safe_load((ROOT / "docker" / "dagster" / "dagster.yaml").read_text())
    local = tmp_path / "data"
    config["local_artifact_storage"]["config"]["base_dir"] = str(local / "storage")
    config["compute_logs"]["config"]["base_dir"] = str(local / "compute_logs")
    for name, value in {
        "DAGSTER_PG_HOST": PG["host"],
        "DAGSTER_PG_USER": PG["user"],
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": database,
    }.items():
        monkeypatch.setenv(name, value)
    open_instance_and_store_a_run(config, tmp_path / "home")
