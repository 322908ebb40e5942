"""docker-compose.yml: the real Compose binary validates it (`config`), then what it resolves to is
checked: the whole stack, health-gated start order, hardening, mounts of files that exist, and a
Prometheus config that shares the alert rules and job names of monitoring/prometheus.yml.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import ROOT, run, tool
from tests.required_tools import require_tool

COMPOSE_FILE = ROOT / "docker-compose.yml"
OUR_SERVICES = {"user-code", "dagster-webserver", "dagster-daemon", "api", "streamlit", "mlflow"}
STACK = OUR_SERVICES | {"postgres", "redis", "qdrant", "prometheus", "grafana"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    result = run([tool("docker-compose"), "-f", str(COMPOSE_FILE), "config", "--format", "json"])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_compose_config_is_valid() -> None:
    result = run([tool("docker-compose"), "-f", str(COMPOSE_FILE), "config", "-q"])
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_the_whole_stack_is_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == STACK


def dockerfile_has_healthcheck(service: dict[str, Any]) -> bool:
    build = service.get("build")
    if not build:
        return False
    return "HEALTHCHECK" in (Path(build["context"]) / build["dockerfile"]).read_text()


def test_start_order_waits_for_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    images = {s["image"]: s for s in services.values() if "build" in s}
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            if condition["condition"] != "service_healthy":
                continue
            target = services[dependency]
            built = images.get(target["image"], target)
            assert "healthcheck" in target or dockerfile_has_healthcheck(built), (
                f"{name} waits for {dependency}, which has no health check"
            )
    assert services["api"]["depends_on"]["dagster-webserver"]["condition"] == "service_healthy"
    assert (
        services["dagster-webserver"]["depends_on"]["user-code"]["condition"] == "service_healthy"
    )


def test_project_images_are_built_not_pulled(compose: dict[str, Any]) -> None:
    for name in OUR_SERVICES:
        service = compose["services"][name]
        assert service["image"].startswith("stockops/"), name
        assert "build" in service, f"{name} would try to pull {service['image']}"


def test_project_services_are_hardened(compose: dict[str, Any]) -> None:
    for name in OUR_SERVICES:
        service = compose["services"][name]
        assert service.get("read_only") is True, name
        assert service.get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert "privileged" not in service and "user" not in service, name  # images set USER 10001
    for service in compose["services"].values():
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", port
        for volume in service.get("volumes", []):
            assert volume.get("source") != "/var/run/docker.sock"


def test_bind_mounts_exist(compose: dict[str, Any]) -> None:
    binds = [
        v for s in compose["services"].values() for v in s.get("volumes", []) if v["type"] == "bind"
    ]
    assert len(binds) >= 6
    for bind in binds:
        assert Path(bind["source"]).exists(), bind["source"]
        assert bind.get("read_only") is True, bind["source"]


def test_services_share_one_instance_and_settings(compose: dict[str, Any]) -> None:
    from stock_assets.settings import Settings

    instance = yaml.safe_load((ROOT / "docker" / "dagster" / "dagster.yaml").read_text())
    assert instance["storage"]["postgres"]["postgres_db"]["password"] == {
        "env": "DAGSTER_PG_PASSWORD"
    }
    assert instance["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert instance["telemetry"] == {"enabled": False}
    workspace = yaml.safe_load((ROOT / "docker" / "dagster" / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["grpc_server"]["host"] in compose["services"]

    fields = set(Settings.model_fields)
    for name in ("user-code", "api", "dagster-webserver", "dagster-daemon"):
        env = compose["services"][name]["environment"]
        assert env["DAGSTER_PG_HOST"] == "postgres" and env["STOCKOPS_DATA_DIR"] == "/data"
        for key in env:
            if key.startswith("STOCKOPS_"):
                assert key.removeprefix("STOCKOPS_").lower() in fields, key
    assert compose["services"]["api"]["environment"]["STOCKOPS_DAGSTER_GRAPHQL_URL"].startswith(
        "http://dagster-webserver:3000"
    )


def test_instance_config_is_valid_dagster_config(tmp_path: Path) -> None:
    from dagster._core.instance.config import dagster_instance_config

    shutil.copy(ROOT / "docker" / "dagster" / "dagster.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_launcher"]["class"] == "DefaultRunLauncher"


def test_prometheus_uses_the_monitoring_rules_and_job_names(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((ROOT / "docker" / "prometheus" / "prometheus.yml").read_text())
    shared = yaml.safe_load((ROOT / "monitoring" / "prometheus.yml").read_text())
    assert {j["job_name"] for j in config["scrape_configs"]} == {
        j["job_name"] for j in shared["scrape_configs"] if "job_name" in j
    }
    api_job = next(j for j in config["scrape_configs"] if j["job_name"] == "stockops-api")
    assert api_job["static_configs"][0]["targets"] == ["api:8000"]

    mounts = {
        v["target"]: v["source"]
        for v in compose["services"]["prometheus"]["volumes"]
        if v["type"] == "bind"
    }
    (pattern,) = config["rule_files"]
    folder = Path(mounts[str(Path(pattern).parent)])
    assert [p for p in folder.iterdir() if fnmatch.fnmatch(p.name, Path(pattern).name)]

    result = run(
        [
            require_tool("promtool", hint="Debian package 'prometheus'"),
            "check",
            "config",
            "--syntax-only",
            str(ROOT / "docker" / "prometheus" / "prometheus.yml"),
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_mounts_match_its_provisioning(compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    mounts = {v["target"]: v["source"] for v in grafana["volumes"] if v["type"] == "bind"}
    providers = yaml.safe_load(
        (
            ROOT / "monitoring" / "grafana" / "provisioning" / "dashboards" / "stockops.yaml"
        ).read_text()
    )["providers"]
    for provider in providers:
        source = Path(mounts[provider["options"]["path"]])
        assert list(source.glob("*.json")), source
    assert "/etc/grafana/provisioning" in mounts
    assert grafana["environment"]["PROMETHEUS_URL"] == "http://prometheus:9090"


def runtime_user_setup(dockerfile: Path) -> tuple[str, list[str]]:
    """The final stage's user name (the one created with the USER uid) and its RUN commands."""
    from tests.deploy.manifests import final_stage

    final = final_stage(dockerfile)
    uid = [args for keyword, args in final if keyword == "USER"][-1].split(":")[0]
    runs = [args for keyword, args in final if keyword == "RUN"]
    names = [
        match.group(1)
        for command in runs
        for match in re.finditer(rf"useradd\b[^&]*--uid {uid}\b[^&]*?\s(\S+)\s*(?:&&|$)", command)
    ]
    assert names, f"{dockerfile.name}: no user with uid {uid}"
    return names[0], runs


def test_named_volumes_are_writable_by_the_non_root_images(compose: dict[str, Any]) -> None:
    """An empty named volume starts as a copy of the image's directory at its mount point, owner
    included; where the image has no such directory the volume is root's, and the services
    (uid 10001) cannot write it: MLflow's artifact volume was."""
    checked = []
    for name, service in compose["services"].items():
        build = service.get("build")
        if not build:
            continue
        dockerfile = Path(build["context"]) / build["dockerfile"]
        user, runs = runtime_user_setup(dockerfile)
        for volume in service.get("volumes", []):
            if volume["type"] != "volume":
                continue
            target = volume["target"]
            created = any(
                re.search(rf"mkdir -p [^&]*(?<!\S){re.escape(target)}(?!\S)", c) for c in runs
            )
            owned = any(
                re.search(rf"chown {user}:\S+ [^&]*(?<!\S){re.escape(target)}(?!\S)", c)
                for c in runs
            )
            assert created and owned, (
                f"{name}: {target} is not created for {user} in {dockerfile.name}"
            )
            checked.append((name, target))
    assert ("mlflow", "/mlartifacts") in checked
    assert len(checked) >= 5  # /data in four services, /mlartifacts


def test_api_health_checks_are_liveness_in_the_image_and_readiness_in_compose(
    compose: dict[str, Any],
) -> None:
    image = (ROOT / "docker" / "api.Dockerfile").read_text()
    (health,) = re.findall(r"HEALTHCHECK.*?CMD (\[.*?\])\n", image, re.S)
    assert "/health/live" in health
    api = compose["services"]["api"]
    assert "/health/ready" in " ".join(api["healthcheck"]["test"])
    assert compose["services"]["streamlit"]["depends_on"]["api"]["condition"] == "service_healthy"
    routes = (ROOT / "serving_api" / "routes" / "system.py").read_text()
    for path in ("/health/live", "/health/ready"):
        assert re.search(rf'@router\.get\(\s*"{path}"', routes), path


def test_no_password_on_a_command_line() -> None:
    """A process's arguments are visible to every user of the host (`ps`, `docker inspect`):
    secrets go through the environment. The resolved config is checked, with a known password
    set, so an interpolated ${POSTGRES_PASSWORD} anywhere in a command is found."""
    password = "compose-test-s3cret"
    result = subprocess.run(
        [tool("docker-compose"), "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        cwd=ROOT, env={**os.environ, "POSTGRES_PASSWORD": password}, capture_output=True,
        text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    for name, service in services.items():
        command = service.get("command") or []
        entrypoint = service.get("entrypoint") or []
        assert password not in " ".join([*command, *entrypoint]), name
    # MLflow still gets its backend store, from the environment.
    assert password in services["mlflow"]["environment"]["MLFLOW_BACKEND_STORE_URI"]
