"""Dagster+ hybrid: dagster_cloud.yaml through the dagster-cloud CLI's own model, its Kubernetes
container context through dagster-k8s, and the agent values against the Helm release they lean on.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import RELEASE, ROOT, Rendered

CLOUD = ROOT / "dagster_cloud"


@pytest.fixture(scope="module")
def location() -> Any:
    from dagster_cloud_cli.config.models import load_dagster_cloud_yaml

    config = load_dagster_cloud_yaml((CLOUD / "dagster_cloud.yaml").read_text())
    (only,) = config.locations
    return only


def test_location_is_the_projects_code_location(location: Any) -> None:
    tool_dagster = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dagster"]
    assert location.location_name == tool_dagster["code_location_name"]
    assert location.code_source.module_name == tool_dagster["module_name"]
    assert location.build.registry.endswith("/stockops/user-code")


def test_container_context_is_valid_and_uses_the_release(
    location: Any, renderings: dict[str, Rendered]
) -> None:
    from dagster_k8s.container_context import K8sContainerContext

    context = K8sContainerContext.create_from_config(location.container_context)
    run_config = context.run_k8s_config.to_dict()
    server_config = context.server_k8s_config.to_dict()
    prod = renderings["production"]
    for config in (run_config, server_config):
        pod, container = config["pod_spec_config"], config["container_config"]
        prod.get("ServiceAccount", pod["service_account_name"])
        for volume in pod["volumes"]:
            if "persistent_volume_claim" in volume:
                prod.get("PersistentVolumeClaim", volume["persistent_volume_claim"]["claim_name"])
        for source in container["env_from"]:
            prod.get("ConfigMap", source["config_map_ref"]["name"])
        assert pod["automount_service_account_token"] is False
        assert pod["security_context"]["run_as_non_root"] is True
        assert container["security_context"]["allow_privilege_escalation"] is False
        assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    assert context.namespace == prod.get("Deployment", f"{RELEASE}-api")["metadata"]["namespace"]


def snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def test_agent_values_reference_the_token_and_bound_every_pod() -> None:
    from dagster_k8s.job import UserDefinedDagsterK8sConfig

    values = yaml.safe_load((CLOUD / "agent-values.yaml").read_text())
    cloud = values["dagsterCloud"]
    assert cloud["agentTokenSecretName"] and "agentToken" not in cloud
    assert cloud["deployment"]
    agent = values["dagsterCloudAgent"]
    assert {"cpu", "memory"} <= set(agent["resources"]["limits"])
    assert agent["podSecurityContext"]["runAsNonRoot"] is True
    workspace = values["workspace"]
    assert {"cpu", "memory"} <= set(workspace["resources"]["limits"])
    assert workspace["securityContext"]["runAsNonRoot"] is True
    assert workspace["envConfigMaps"] == [f"{RELEASE}-env"]
    # The chart turns runK8sConfig's camelCase sections into the launcher's run_k8s_config.
    run_config = UserDefinedDagsterK8sConfig.from_dict(
        {snake(k): v for k, v in workspace["runK8sConfig"].items()}
    ).to_dict()
    assert run_config["pod_spec_config"]["automount_service_account_token"] is False
    assert run_config["job_spec_config"]["backoff_limit"] == 0
