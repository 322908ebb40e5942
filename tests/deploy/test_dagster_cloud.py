"""Dagster+ hybrid: dagster_cloud.yaml through the dagster-cloud CLI's own model, its Kubernetes
container context through dagster-k8s, agent-values.yaml through the real dagster-cloud-agent
chart, and the run pods the agent would start against the release's NetworkPolicies.

The agent chart is a pinned dependency, kept as the released archive in dagster_cloud/charts/
(as `helm dependency build` keeps a chart's dependencies; $DAGSTER_CLOUD_AGENT_CHART points
elsewhere), and checked against the digest its chart repository publishes.
"""

from __future__ import annotations

import json
import os
import tarfile
import tomllib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import (
    KUBE_VERSION,
    NAMESPACE,
    RELEASE,
    ROOT,
    Rendered,
    pod_spec,
    run,
    run_job_manifest,
    selects,
    tool,
)

CLOUD = ROOT / "dagster_cloud"
AGENT_CHART = "dagster-cloud-agent"
AGENT_VERSION = "1.8.13"
AGENT_REPOSITORY = "https://dagster-io.github.io/helm-user-cloud"
# The digest of dagster-cloud-agent-1.8.13.tgz in that repository's index.yaml.
AGENT_DIGEST = "sha256:69a105c86cddeac243203afb699bace034b2a0c835a34107737839fe9bcf6cb6"
# The agent chart's values schema refers to Kubernetes definitions on a site that no longer
# serves them; the same definitions ship with kubernetes-validate.
REMOTE_DEFINITIONS = "https://kubernetesjsonschema.dev/v1.18.0/_definitions.json"
SERVERS = ("redis", "qdrant", "mlflow", "postgresql")


@pytest.fixture(scope="module")
def location() -> Any:
    from dagster_cloud_cli.config.models import load_dagster_cloud_yaml

    config = load_dagster_cloud_yaml((CLOUD / "dagster_cloud.yaml").read_text())
    (only,) = config.locations
    return only


@pytest.fixture(scope="module")
def hybrid(renderings: dict[str, Rendered]) -> Rendered:
    """The production values as docs/deploy.md installs them next to a Dagster+ agent."""
    return renderings["hybrid"]


def agent_archive() -> Path:
    import helm_python

    name = f"{AGENT_CHART}-{AGENT_VERSION}.tgz"
    archive = Path(os.environ.get("DAGSTER_CLOUD_AGENT_CHART") or CLOUD / "charts" / name)
    if not archive.is_file():
        pytest.fail(
            f"{archive} is missing: helm pull {AGENT_CHART} --repo {AGENT_REPOSITORY} "
            f"--version {AGENT_VERSION} -d dagster_cloud/charts"
        )
    assert helm_python.digest(str(archive)) == AGENT_DIGEST, f"{archive} is not the released chart"
    return archive


@pytest.fixture(scope="module")
def agent_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The released agent chart, unpacked, its schema's remote definitions made local."""
    import kubernetes_validate

    tmp = tmp_path_factory.mktemp("agent")
    with tarfile.open(agent_archive()) as archive:
        archive.extractall(tmp, filter="data")
    chart = tmp / AGENT_CHART
    schemas = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    bundled = (schemas / f"v{KUBE_VERSION}-local" / "_definitions.json").read_text()
    definitions = json.loads(bundled.replace("#/$defs/", "#/definitions/"))["$defs"]
    local = tmp / "_definitions.json"
    local.write_text(json.dumps({"definitions": definitions}))
    schema = chart / "values.schema.json"
    schema.write_text(schema.read_text().replace(REMOTE_DEFINITIONS, local.as_uri()))
    return chart


@pytest.fixture(scope="module")
def agent(agent_chart: Path) -> dict[str, Any]:
    """The agent chart rendered with agent-values.yaml: its manifests and its launcher config."""
    import helm_python

    values = yaml.safe_load((CLOUD / "agent-values.yaml").read_text())
    templates = helm_python.Chart.load(str(agent_chart)).render(
        values, name="agent", namespace=NAMESPACE
    )
    docs = [d for text in templates.values() for d in yaml.safe_load_all(text) if d]
    (instance,) = [
        yaml.safe_load(d["data"]["dagster.yaml"])
        for d in docs
        if d["kind"] == "ConfigMap" and "dagster.yaml" in d.get("data", {})
    ]
    return {"docs": docs, "instance": instance, "values": values}


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
        # The secret-backed settings the release gives its own run pods.
        (registry,) = [e for e in container["env"] if e["name"] == "STOCKOPS_FEAST_REGISTRY_URL"]
        reference = registry["value_from"]["secret_key_ref"]
        secret = prod.values["secrets"]["feast"]
        assert (reference["name"], reference["key"]) == (secret["name"], secret["registryUrlKey"])
    assert context.namespace == prod.get("Deployment", f"{RELEASE}-api")["metadata"]["namespace"]
    # The label the release's NetworkPolicies admit, on code server and run pods alike.
    for config in (run_config, server_config):
        labels = config["pod_template_spec_metadata"]["labels"]
        assert labels == prod.values["networkPolicy"]["externalDagsterPods"]


def test_hybrid_release_runs_no_dagster_control_plane(hybrid: Rendered) -> None:
    """Dagster+ runs schedules and sensors: a daemon here would launch each run twice."""
    names = {(d["kind"], d["metadata"]["name"]) for d in hybrid.docs}
    for component in ("dagster-webserver", "dagster-daemon", "user-code"):
        assert ("Deployment", f"{RELEASE}-{component}") not in names
    assert not hybrid.of_kind("Role")
    with pytest.raises(KeyError):
        hybrid.get("Job", f"{RELEASE}-dagster-migrate")
    env = hybrid.get("ConfigMap", f"{RELEASE}-env")["data"]
    assert env["STOCKOPS_DAGSTER_GRAPHQL_URL"] == hybrid.values["api"]["dagsterGraphqlUrl"]


def test_hybrid_manifests_validate_against_kubernetes_schemas(
    hybrid: Rendered, tmp_path: Path
) -> None:
    manifests = tmp_path / "hybrid.yaml"
    manifests.write_text(hybrid.as_yaml())
    result = run([tool("kubernetes-validate"), "-k", KUBE_VERSION, "--strict", str(manifests)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"passed for resource deployment/{RELEASE}-api" in result.stdout + result.stderr


def test_hybrid_needs_a_graphql_url_and_a_shared_volume() -> None:
    import helm_python

    chart = helm_python.Chart.load(str(ROOT / "helm" / "stockops"))
    with pytest.raises(helm_python.HelmError, match=r"needs api\.dagsterGraphqlUrl"):
        chart.render({"dagster": {"enabled": False}}, name=RELEASE, namespace=NAMESPACE)
    with pytest.raises(helm_python.HelmError, match="needs a ReadWriteMany data volume"):
        chart.render(
            {"dagster": {"enabled": False}, "api": {"dagsterGraphqlUrl": "https://x/graphql"}},
            name=RELEASE,
            namespace=NAMESPACE,
        )


def test_agent_values_render_with_the_released_chart(agent: dict[str, Any], tmp_path: Path) -> None:
    values = agent["values"]
    cloud = values["dagsterCloud"]
    assert cloud["agentTokenSecretName"] and "agentTokenValue" not in cloud
    assert cloud["deployments"]
    manifests = tmp_path / "agent.yaml"
    manifests.write_text(yaml.safe_dump_all(agent["docs"]))
    result = run([tool("kubernetes-validate"), "-k", KUBE_VERSION, "--strict", str(manifests)])
    assert result.returncode == 0, result.stdout + result.stderr
    (deployment,) = [d for d in agent["docs"] if d["kind"] == "Deployment"]
    spec = pod_spec(deployment)
    (container,) = spec["containers"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    assert "/tmp" in {m["mountPath"] for m in container["volumeMounts"]}


def test_agent_launches_code_servers_and_runs_with_the_release(
    agent: dict[str, Any], renderings: dict[str, Rendered]
) -> None:
    launcher = agent["instance"]["user_code_launcher"]
    assert launcher["class"] == "K8sUserCodeLauncher"
    config = launcher["config"]
    prod = renderings["production"]
    assert config["namespace"] == NAMESPACE
    for name in config["env_config_maps"]:
        prod.get("ConfigMap", name)
    token = agent["values"]["dagsterCloud"]["agentTokenSecretName"]
    assert set(config["env_secrets"]) <= {token, *prod.values["secrets"]["extraEnvSecrets"]}
    assert config["labels"] == prod.values["networkPolicy"]["externalDagsterPods"]
    assert config["security_context"]["runAsNonRoot"] is True
    assert {"cpu", "memory"} <= set(config["resources"]["limits"])


def run_job(location: Any, agent_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Job of one run as the agent builds it: its launcher config (when given), merged with
    the location's container context, through dagster-k8s' own job construction."""
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import UserDefinedDagsterK8sConfig

    config = agent_config or {
        "dagster_home": "/opt/dagster/dagster_home",
        "instance_config_map": "agent-dagster-cloud-agent-instance",
    }
    context = K8sContainerContext.create_from_config(location.container_context)
    if agent_config:
        agent_context = K8sContainerContext(
            namespace=config["namespace"],
            image_pull_policy=config["pull_policy"],
            env_config_maps=config["env_config_maps"],
            env_secrets=config["env_secrets"],
            labels=config["labels"],
            resources=config["resources"],
            security_context=config["security_context"],
            run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(config["run_k8s_config"]),
        )
        context = agent_context.merge(context)
    launcher = SimpleNamespace(
        job_image=None,
        dagster_home=config["dagster_home"],
        instance_config_map=config["instance_config_map"],
        postgres_password_secret=None,
    )
    image = f"{location.build.registry}:0.1.0"
    return run_job_manifest(context, launcher, image, "0b5e4c1e-hybrid", "dagster-run-hybrid")


def assert_reaches_the_servers(job: dict[str, Any], releases: list[Rendered]) -> None:
    import kubernetes_validate

    kubernetes_validate.validate(job, KUBE_VERSION, strict=True)
    labels = job["spec"]["template"]["metadata"]["labels"]
    spec = job["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False
    (container,) = spec["containers"]
    assert container["securityContext"]["runAsNonRoot"] is True
    for rendered in releases:
        for server in SERVERS:
            try:
                policy = rendered.get("NetworkPolicy", f"{RELEASE}-allow-{server}")
            except KeyError:
                assert server == "postgresql" and not rendered.values["postgresql"]["enabled"]
                continue
            peers = [p for rule in policy["spec"]["ingress"] for p in rule["from"]]
            assert any(
                selects(p.get("podSelector", {}).get("matchLabels", {}), labels) for p in peers
            ), f"{rendered.name}: a Dagster+ run pod cannot reach {server}"
        # ... and nothing else of the release: the operator UIs stay closed to them.
        ui_peers = [
            p
            for policy in rendered.of_kind("NetworkPolicy")
            if policy["metadata"]["name"].endswith(("allow-dagster-webserver", "allow-streamlit"))
            for rule in policy["spec"]["ingress"]
            for p in rule["from"]
        ]
        assert not any(
            selects(p.get("podSelector", {}).get("matchLabels", {}), labels) for p in ui_peers
        )


def test_location_run_pods_reach_the_release_servers(
    location: Any, renderings: dict[str, Rendered], hybrid: Rendered
) -> None:
    """The default release has every server in-cluster (Postgres included); the hybrid one is
    what docs/deploy.md installs next to the agent."""
    assert_reaches_the_servers(run_job(location), [renderings["default"], hybrid])


def test_agent_run_pods_reach_the_release_servers(
    agent: dict[str, Any], location: Any, renderings: dict[str, Rendered], hybrid: Rendered
) -> None:
    config = agent["instance"]["user_code_launcher"]["config"]
    job = run_job(location, config)
    assert_reaches_the_servers(job, [renderings["default"], hybrid])
    env_from = job["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert {"configMapRef": {"name": f"{RELEASE}-env"}} in env_from
