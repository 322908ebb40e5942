"""Dagster+ hybrid: dagster_cloud.yaml through the dagster-cloud CLI's own model, its Kubernetes
container context through dagster-k8s, agent-values.yaml through the real dagster-cloud-agent
chart, and the run pods the agent would start against the release's NetworkPolicies.

The agent chart is a pinned dependency, kept as the released archive in dagster_cloud/charts/
(as `helm dependency build` keeps a chart's dependencies; $DAGSTER_CLOUD_AGENT_CHART points
elsewhere), checked against the digest its chart repository publishes, and never modified: its
values schema cannot be loaded (a dead host), which the documented install answers with
--skip-schema-validation and these tests with Helm's lint under that flag, a rendering without
the schema, and the values checked against the schema with its remote document resolved here.
"""

from __future__ import annotations

import json
import os
import re
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


# The schema of the released archive refers to this document, which its site stopped serving:
# Helm cannot load the schema, so the documented install skips it (--skip-schema-validation).
REMOTE_DEFINITIONS = "https://kubernetesjsonschema.dev/v1.18.0/_definitions.json"
INSTALL = re.compile(
    r"helm -n stockops upgrade --install agent dagster-cloud/dagster-cloud-agent[^`]*"
)


def agent_values() -> dict[str, Any]:
    return yaml.safe_load((CLOUD / "agent-values.yaml").read_text())


def test_released_agent_schema_cannot_be_loaded_so_the_install_skips_it() -> None:
    """The archive as released, values and all: Helm fails at its values schema before any
    template, on a dead host (the failure a real `helm install` without the flag meets)."""
    import helm_python

    archive = agent_archive()
    chart = helm_python.Chart.load(str(archive))
    schema = chart.schema
    assert schema is not None
    remote = set(re.findall(r"https?://[^\"#]+", json.dumps(schema)))
    assert remote == {REMOTE_DEFINITIONS}, remote
    with pytest.raises(helm_python.HelmValuesError, match=r"kubernetesjsonschema\.dev"):
        chart.render(agent_values(), name="agent", namespace=NAMESPACE)
    # So every documented install of this chart skips the schema.
    for text in (
        (ROOT / "docs" / "deploy.md").read_text(),
        (CLOUD / "agent-values.yaml").read_text(),
    ):
        commands = [" ".join(c.replace("\\", " ").split()) for c in INSTALL.findall(text)]
        assert commands, "no documented agent install"
        for command in commands:
            assert f"--version {AGENT_VERSION}" in command, command
            assert "-f dagster_cloud/agent-values.yaml" in command, command
            assert "--skip-schema-validation" in command, command


def test_documented_agent_install_passes_helm_lint_on_the_released_archive() -> None:
    """`helm lint --strict` of the unmodified archive with agent-values.yaml, with the schema
    skipped as the documented install does: Helm renders every template and finds nothing. The
    same lint without the flag fails on the dead schema host, as the install would."""
    import helm_python

    archive = str(agent_archive())
    report = helm_python.lint(
        archive, agent_values(), strict=True, namespace=NAMESPACE, skip_schema_validation=True
    )
    assert report["messages"] == [] and report["errors"] == [], report
    assert report["total_charts_linted"] == 1
    failing = helm_python.lint(archive, agent_values(), strict=True, namespace=NAMESPACE)
    assert any("kubernetesjsonschema.dev" in e for e in failing["errors"]), failing


def test_agent_values_match_the_released_schema(tmp_path: Path) -> None:
    """What the skipped schema would have checked, checked here: agent-values.yaml against the
    archive's own values.schema.json, unmodified, its remote definitions resolved to the same
    Kubernetes definitions as shipped with kubernetes-validate (the schema refers to 1.18)."""
    import jsonschema
    import kubernetes_validate
    import referencing
    import referencing.jsonschema
    from helm_python import Chart

    schema = Chart.load(str(agent_archive())).schema
    assert schema is not None
    bundled = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    text = (bundled / f"v{KUBE_VERSION}-local" / "_definitions.json").read_text()
    definitions = json.loads(text.replace("#/$defs/", "#/definitions/"))["$defs"]
    remote = referencing.Resource.from_contents(
        {"definitions": definitions}, default_specification=referencing.jsonschema.DRAFT7
    )
    registry = referencing.Registry().with_resource(REMOTE_DEFINITIONS, remote)
    validator = jsonschema.Draft7Validator(schema, registry=registry)
    errors = sorted(validator.iter_errors(agent_chart_values()), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    # The check can fail: a volume of the wrong shape is refused.
    broken = agent_chart_values()
    broken["dagsterCloudAgent"]["volumes"] = [{"name": 7}]
    assert list(validator.iter_errors(broken))


def agent_chart_values() -> dict[str, Any]:
    """agent-values.yaml over the chart's own defaults (what Helm validates)."""
    from helm_python import Chart

    from tests.deploy.manifests import merge

    return merge(Chart.load(str(agent_archive())).values, agent_values())


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The agent chart rendered with agent-values.yaml as `helm install --skip-schema-validation`
    renders it: the released archive's files, byte for byte, with its values schema not loaded
    (helm-python-sdk's render has no such flag; Helm under it ignores values.schema.json, so
    the file is left out of the unpacked copy). Templates and defaults are the release's."""
    import helm_python

    archive = agent_archive()
    tmp = tmp_path_factory.mktemp("agent")
    with tarfile.open(archive) as released:
        released.extractall(tmp, filter="data")
        members = {m.name: m for m in released.getmembers() if m.isfile()}
        for name, member in members.items():
            source = released.extractfile(member)
            assert source is not None
            assert (tmp / name).read_bytes() == source.read(), f"{name} differs from the archive"
    chart = tmp / AGENT_CHART
    (chart / "values.schema.json").unlink()
    templates = helm_python.Chart.load(str(chart)).render(
        agent_values(), name="agent", namespace=NAMESPACE
    )
    docs = [d for text in templates.values() for d in yaml.safe_load_all(text) if d]
    (instance,) = [
        yaml.safe_load(d["data"]["dagster.yaml"])
        for d in docs
        if d["kind"] == "ConfigMap" and "dagster.yaml" in d.get("data", {})
    ]
    return {"docs": docs, "instance": instance, "values": agent_values()}


def test_location_is_the_projects_code_location(location: Any) -> None:
    tool_dagster = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dagster"]
    assert location.location_name == tool_dagster["code_location_name"]
    assert location.code_source.module_name == tool_dagster["module_name"]
    # The image is given at deploy time (add-location --image, images.yml's ECR repository); a
    # build section here would be dead configuration.
    assert location.build is None
    docs = (ROOT / "docs" / "deploy.md").read_text()
    assert re.search(r"add-location .*\n?.*--image <ecr_registry>/stockops/user-code:<tag>", docs)


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
    # The label the hybrid release's NetworkPolicies admit, on code server and run pods alike.
    admitted = renderings["hybrid"].values["networkPolicy"]["externalDagsterPods"]
    assert admitted
    for config in (run_config, server_config):
        labels = config["pod_template_spec_metadata"]["labels"]
        assert labels == admitted


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
            name=RELEASE, namespace=NAMESPACE,
        )  # fmt: skip


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
    assert config["labels"] == renderings["hybrid"].values["networkPolicy"]["externalDagsterPods"]
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
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/stockops/user-code:v0.1.0"
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


def with_agent_label(rendering: Rendered) -> Rendered:
    """The default release (every server in-cluster, Postgres included) with the agent's label
    admitted, as values-hybrid.yaml admits it."""
    from tests.deploy.manifests import render_chart

    values = json.loads(json.dumps(rendering.values))
    values["networkPolicy"]["externalDagsterPods"] = {"stockops.io/dagster-cloud": "true"}
    return render_chart("default-agent", values)


def test_location_run_pods_reach_the_release_servers(
    location: Any, renderings: dict[str, Rendered], hybrid: Rendered
) -> None:
    """The hybrid release is what docs/deploy.md installs next to the agent; the default one
    has every server in-cluster (Postgres included)."""
    assert_reaches_the_servers(run_job(location), [with_agent_label(renderings["default"]), hybrid])


def test_agent_pods_reach_nothing_unless_the_release_admits_them(
    location: Any, renderings: dict[str, Rendered]
) -> None:
    """externalDagsterPods is empty by default: a pod that sets the agent's label in a release
    without Dagster+ reaches none of the servers."""
    with pytest.raises(AssertionError, match="cannot reach"):
        assert_reaches_the_servers(run_job(location), [renderings["production"]])


def test_agent_run_pods_reach_the_release_servers(
    agent: dict[str, Any], location: Any, renderings: dict[str, Rendered], hybrid: Rendered
) -> None:
    config = agent["instance"]["user_code_launcher"]["config"]
    job = run_job(location, config)
    assert_reaches_the_servers(job, [with_agent_label(renderings["default"]), hybrid])
    env_from = job["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert {"configMapRef": {"name": f"{RELEASE}-env"}} in env_from
