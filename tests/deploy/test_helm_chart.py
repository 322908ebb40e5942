"""The Helm chart: strict lint, Kubernetes schemas, and what matters in the rendered manifests.

Rendered with the chart's defaults and with values-production.yaml (conftest renders each once).
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import (
    CHART,
    KUBE_VERSION,
    NAMESPACE,
    RELEASE,
    ROOT,
    Rendered,
    env_config,
    load_values,
    pod_labels,
    pod_spec,
    run,
    selects,
    tool,
)

SETTINGS_PREFIX = "STOCKOPS_"
# Variables the Streamlit front end reads itself (streamlit_app/config.py), not platform settings.
UI_VARIABLES = {"STOCKOPS_API_URL", "STOCKOPS_API_KEY"}
# Variables that hold secrets (the Feast registry URL embeds the database password).
SECRET_SUFFIXES = ("PASSWORD", "TOKEN", "API_KEY", "API_KEYS", "REGISTRY_URL")


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def env_names(container: dict[str, Any]) -> set[str]:
    return {e["name"] for e in container.get("env", [])}


@pytest.mark.parametrize("values_name", ["default", "production"])
def test_lint_is_clean_in_strict_mode(values_name: str) -> None:
    import helm_python

    report = helm_python.lint(
        str(CHART),
        load_values(values_name),
        strict=True,
        namespace=NAMESPACE,
        kube_version=f"v{KUBE_VERSION}",
    )
    assert report["errors"] == [], report
    assert report["messages"] == [], report


def test_manifests_validate_against_kubernetes_schemas(rendered: Rendered, tmp_path: Path) -> None:
    manifests = tmp_path / f"{rendered.name}.yaml"
    manifests.write_text(rendered.as_yaml())
    result = run([tool("kubernetes-validate"), "-k", KUBE_VERSION, "--strict", str(manifests)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"passed for resource deployment/{RELEASE}-api" in result.stdout + result.stderr


def test_every_object_is_namespaced_in_the_release_namespace(rendered: Rendered) -> None:
    for doc in rendered.docs:
        assert doc["metadata"].get("namespace") == NAMESPACE, doc["metadata"]["name"]


def test_run_launcher_is_k8s_with_a_queue_and_monitoring(rendered: Rendered) -> None:
    instance = rendered.instance()
    launcher = instance["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    config = launcher["config"]
    assert config["job_namespace"] == NAMESPACE
    # Everything the launcher names exists in the release.
    rendered.get("ConfigMap", config["instance_config_map"])
    rendered.get("ServiceAccount", config["service_account_name"])
    for name in config["env_config_maps"]:
        rendered.get("ConfigMap", name)
    claims = [
        v["persistentVolumeClaim"]["claimName"]
        for v in config["volumes"]
        if "persistentVolumeClaim" in v
    ]
    for claim in claims:
        rendered.get("PersistentVolumeClaim", claim)
    assert config["dagster_home"] == "/opt/dagster/dagster_home"

    assert instance["run_coordinator"]["class"] == "QueuedRunCoordinator"
    limits = rendered.values["dagster"]["instance"]
    assert instance["concurrency"]["runs"]["max_concurrent_runs"] == limits["maxConcurrentRuns"]
    pools = instance["concurrency"]["pools"]
    assert pools == {"granularity": "run", "default_limit": limits["trainingPoolLimit"]}
    # Dagster accepts the instance as rendered (run limits in `concurrency`, none left in the
    # run coordinator's config, which Dagster refuses beside a `concurrency` section).
    from dagster._config import process_config
    from dagster._core.instance.config import (
        dagster_instance_config_schema,
        validate_concurrency_config,
    )

    def env_names(node: object) -> set[str]:
        if isinstance(node, dict):
            if set(node) == {"env"} and isinstance(node["env"], str):
                return {node["env"]}
            return set().union(*(env_names(v) for v in node.values()))
        if isinstance(node, list):
            return set().union(*(env_names(v) for v in node))
        return set()

    # The pods get these from secrets; any value lets Dagster resolve them here.
    with pytest.MonkeyPatch.context() as env:
        for name in env_names(instance):
            env.setenv(name, "set-in-the-pod")
        checked = process_config(dagster_instance_config_schema(), instance)
    assert checked.success, checked.errors
    validate_concurrency_config(instance)
    assert instance["run_monitoring"]["enabled"] is True
    assert instance["telemetry"] == {"enabled": False}


def test_storage_is_postgres_with_the_password_from_a_secret(rendered: Rendered) -> None:
    for key in ("dagster.yaml", "dagster-client.yaml"):
        db = rendered.instance(key)["storage"]["postgres"]["postgres_db"]
        assert db["password"] == {"env": "DAGSTER_PG_PASSWORD"}
        assert db["db_name"] == rendered.values["postgresql"]["dagsterDatabase"]
        if rendered.values["postgresql"]["enabled"]:
            rendered.get("Service", db["hostname"])  # the in-cluster Postgres
        else:
            assert db["hostname"] == rendered.values["postgresql"]["host"]
            assert db["params"]["sslmode"] == "require"

    # Every process that opens the instance gets the password, run pods included.
    for name in ("dagster-webserver", "dagster-daemon", "user-code", "api"):
        container = pod_spec(rendered.get("Deployment", f"{RELEASE}-{name}"))["containers"][0]
        assert "DAGSTER_PG_PASSWORD" in env_names(container), name
    run_env = rendered.instance()["run_launcher"]["config"]["run_k8s_config"]["container_config"][
        "env"
    ]
    expected = {"DAGSTER_PG_PASSWORD": rendered.values["secrets"]["postgresql"]}
    if rendered.values["feast"]["registry"] == "sql":
        expected["STOCKOPS_FEAST_REGISTRY_URL"] = rendered.values["secrets"]["feast"]
    assert [e["name"] for e in run_env] == list(expected)
    for entry in run_env:
        reference = entry["value_from"]["secret_key_ref"]
        assert reference["name"] == expected[entry["name"]]["name"]
        assert reference["key"] in expected[entry["name"]].values()


def test_instance_configs_are_valid_dagster_config(rendered: Rendered, tmp_path: Path) -> None:
    """Dagster's own schema: the instance file and the launcher's config as Dagster parses them."""
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster_k8s import K8sRunLauncher

    config_map = rendered.get("ConfigMap", f"{RELEASE}-dagster-instance")
    for key in ("dagster.yaml", "dagster-client.yaml"):
        home = tmp_path / key.replace(".yaml", "")
        home.mkdir()
        (home / "dagster.yaml").write_text(config_map["data"][key])
        dagster_instance_config(str(home))
    launcher_config = rendered.instance()["run_launcher"]["config"]
    result = process_config(K8sRunLauncher.config_type(), launcher_config)
    assert result.success, result.errors


def test_workspace_loads_the_user_code_service(rendered: Rendered) -> None:
    workspace = yaml.safe_load(
        rendered.get("ConfigMap", f"{RELEASE}-dagster-instance")["data"]["workspace.yaml"]
    )
    (entry,) = workspace["load_from"]
    server = entry["grpc_server"]
    service = rendered.get("Service", server["host"])
    assert server["port"] in [p["port"] for p in service["spec"]["ports"]]
    user_code = rendered.get("Deployment", f"{RELEASE}-user-code")
    assert selects(service["spec"]["selector"], pod_labels(user_code))
    container = pod_spec(user_code)["containers"][0]
    assert container["args"][-1] == "stock_assets.definitions"
    # Run pods take their image from the code server.
    current = {e["name"]: e.get("value") for e in container["env"]}["DAGSTER_CURRENT_IMAGE"]
    assert current == container["image"]


def test_every_container_is_bounded_non_root_and_probed(rendered: Rendered) -> None:
    workloads = rendered.workloads()
    assert len(workloads) >= 8
    for workload in workloads:
        spec = pod_spec(workload)
        pod_context = spec.get("securityContext", {})
        assert pod_context.get("seccompProfile", {}).get("type") == "RuntimeDefault"
        for container in containers(spec):
            where = f"{workload['metadata']['name']}/{container['name']}"
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(bound, {})), f"{where}: {bound}"
            context = {**pod_context, **container.get("securityContext", {})}
            assert context.get("runAsNonRoot") is True, where
            assert context.get("runAsUser", 0) >= 10000, where
            assert context.get("allowPrivilegeEscalation") is False, where
            assert context.get("readOnlyRootFilesystem") is True, where
            assert context.get("capabilities", {}).get("drop") == ["ALL"], where
            # A Job's or an init container's one command runs to its end: nothing to probe.
            if workload["kind"] != "Job" and container in spec["containers"]:
                assert "livenessProbe" in container and "readinessProbe" in container, where
            assert not container["image"].endswith(":latest"), where


def test_only_dagster_control_pods_get_a_kubernetes_token(rendered: Rendered) -> None:
    with_token = {
        w["metadata"]["name"]
        for w in rendered.workloads()
        if pod_spec(w).get("automountServiceAccountToken") is not False
    }
    assert with_token == {f"{RELEASE}-dagster-webserver", f"{RELEASE}-dagster-daemon"}
    for account in rendered.of_kind("ServiceAccount"):
        assert account["automountServiceAccountToken"] is False
    (role,) = rendered.of_kind("Role")
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"]
        assert "secrets" not in rule["resources"]


def api_get_routes() -> set[str]:
    """Paths of the GET routes in serving_api/routes (routers there have no prefix)."""
    paths = set()
    for module in (ROOT / "serving_api" / "routes").glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Name) and node.func.id == "APIRouter":
                assert "prefix" not in {k.arg for k in node.keywords}, module
            if isinstance(node.func, ast.Attribute) and (
                node.func.attr == "get"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "router"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                paths.add(node.args[0].value)
    return paths


def test_api_service_selects_the_api_pods_only(rendered: Rendered) -> None:
    service = rendered.get("Service", f"{RELEASE}-api")
    selector = service["spec"]["selector"]
    api = rendered.get("Deployment", f"{RELEASE}-api")
    matched = [
        w["metadata"]["name"] for w in rendered.workloads() if selects(selector, pod_labels(w))
    ]
    assert matched == [f"{RELEASE}-api"]
    port_names = {p["name"] for p in pod_spec(api)["containers"][0]["ports"]}
    assert service["spec"]["ports"][0]["targetPort"] in port_names
    # Liveness asks whether the process serves, readiness whether its dependencies answer.
    container = pod_spec(api)["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["startupProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    # ... and the probes hit routes the API declares (read from its source: importing the app
    # costs half a minute).
    routes = api_get_routes()
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] in routes, probe


def test_api_scales_with_an_hpa_and_keeps_a_disruption_budget(rendered: Rendered) -> None:
    api = rendered.get("Deployment", f"{RELEASE}-api")
    hpa = rendered.get("HorizontalPodAutoscaler", f"{RELEASE}-api")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", api["metadata"]["name"])
    assert "replicas" not in api["spec"]  # the HPA owns the replica count
    assert hpa["spec"]["minReplicas"] >= 2
    pdb = rendered.get("PodDisruptionBudget", f"{RELEASE}-api")
    matched = [
        w["metadata"]["name"]
        for w in rendered.workloads()
        if selects(pdb["spec"]["selector"]["matchLabels"], pod_labels(w))
    ]
    assert matched == [f"{RELEASE}-api"]
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]


def test_secrets_are_only_referenced(rendered: Rendered) -> None:
    assert rendered.of_kind("Secret") == []
    secrets = rendered.values["secrets"]
    allowed = {ref["name"] for ref in secrets.values() if isinstance(ref, dict)}
    allowed |= set(secrets["extraEnvSecrets"])
    referenced: set[str] = set()
    for workload in rendered.workloads():
        for container in containers(pod_spec(workload)):
            for env in container.get("env", []):
                if "secretKeyRef" in env.get("valueFrom", {}):
                    referenced.add(env["valueFrom"]["secretKeyRef"]["name"])
                sensitive = env["name"].endswith(SECRET_SUFFIXES)
                assert not (sensitive and "value" in env), f"{env['name']} is a literal"
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    referenced.add(source["secretRef"]["name"])
    assert referenced and referenced <= allowed


def test_settings_variables_are_real_settings(rendered: Rendered) -> None:
    """Every STOCKOPS_* variable the chart sets is a field of stock_assets.settings.Settings."""
    from stock_assets.settings import Settings

    fields = set(Settings.model_fields)
    names = set(rendered.get("ConfigMap", f"{RELEASE}-env")["data"])
    for workload in rendered.workloads():
        for container in containers(pod_spec(workload)):
            names |= env_names(container)
    ours = {n for n in names if n.startswith(SETTINGS_PREFIX)} - UI_VARIABLES
    assert ours, "no settings rendered"
    unknown = sorted(n for n in ours if n.removeprefix(SETTINGS_PREFIX).lower() not in fields)
    assert unknown == []
    ui_config = (ROOT / "streamlit_app" / "config.py").read_text()
    for name in UI_VARIABLES:
        assert f'"{name}"' in ui_config


def closed_services(rendered: Rendered) -> set[str]:
    """Exposed servers with no client in the release and no peer configured stay closed."""
    groups = {"streamlit": "private", "dagster-webserver": "private", "mlflow": "private"}
    peers = rendered.values["networkPolicy"]["ingressFrom"]
    closed = set()
    for component, group in groups.items():
        policy = rendered.get("NetworkPolicy", f"{RELEASE}-allow-{component}")
        if not peers[group] and policy["spec"]["ingress"] == []:
            closed.add(f"{RELEASE}-{component}")
    return closed


def test_rendered_settings_load_as_the_code_location_reads_them(
    rendered: Rendered, tmp_path: Path
) -> None:
    """The env ConfigMap's values, as the code server and run pods get them, parse into
    Settings: the GPU run tags as a dict of strings, the Feast online store URL, the flags."""
    from stock_assets.settings import Settings

    env = env_config(rendered)
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith(SETTINGS_PREFIX)]:
            patch.delenv(name)
        patch.chdir(tmp_path)  # no .env file
        for name, value in env.items():
            patch.setenv(name, value)
        api = pod_spec(rendered.get("Deployment", f"{RELEASE}-api"))["containers"][0]
        for entry in api["env"]:
            if entry["name"].startswith(SETTINGS_PREFIX) and "value" in entry:
                patch.setenv(entry["name"], entry["value"])
        settings = Settings()
    assert settings.api_keys_required is rendered.values["api"]["requireApiKeys"]
    if rendered.values["runs"]["gpu"]["enabled"]:
        assert settings.gpu_run_tags == json.loads(env["STOCKOPS_GPU_RUN_TAGS"])
        assert settings.gpu_run_tags["stockops/gpu"] == "true"
    else:
        assert settings.gpu_run_tags == {}
    assert settings.feast_online_store_url == env.get("STOCKOPS_FEAST_ONLINE_STORE_URL")


def test_network_policies_deny_by_default_and_open_each_server_port(rendered: Rendered) -> None:
    policies = rendered.of_kind("NetworkPolicy")
    deny = rendered.get("NetworkPolicy", f"{RELEASE}-default-deny")
    assert deny["spec"]["policyTypes"] == ["Ingress"] and "ingress" not in deny["spec"]
    run_labels = rendered.instance()["run_launcher"]["config"]["labels"]
    for labels in [*(pod_labels(w) for w in rendered.workloads()), run_labels]:
        assert selects(deny["spec"]["podSelector"]["matchLabels"], labels)

    for service in rendered.of_kind("Service"):
        if service["metadata"]["name"] in closed_services(rendered):
            continue
        backend = [
            w for w in rendered.workloads() if selects(service["spec"]["selector"], pod_labels(w))
        ]
        (workload,) = backend
        ports = {
            p["containerPort"]
            for c in pod_spec(workload)["containers"]
            for p in c.get("ports", [])
            if p["name"] in {sp["targetPort"] for sp in service["spec"]["ports"]}
        }
        opened = {
            port["port"]
            for policy in policies
            if selects(policy["spec"]["podSelector"].get("matchLabels", {}), pod_labels(workload))
            for rule in policy["spec"].get("ingress", [])
            for port in rule.get("ports", [])
        }
        assert ports and ports <= opened, service["metadata"]["name"]


def test_internal_servers_only_accept_their_clients(renderings: dict[str, Rendered]) -> None:
    rendered = renderings["default"]

    def allowed_components(component: str) -> set[str]:
        policy = rendered.get("NetworkPolicy", f"{RELEASE}-allow-{component}")
        (rule,) = policy["spec"]["ingress"]
        return {
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
            for peer in rule["from"]
            if "app.kubernetes.io/component" in peer.get("podSelector", {}).get("matchLabels", {})
        }

    assert allowed_components("user-code") == {"dagster-webserver", "dagster-daemon"}
    assert "streamlit" not in allowed_components("postgresql")
    assert "dagster-run" in allowed_components("postgresql")
    assert allowed_components("redis") == {"api", "user-code", "dagster-run"}
    # Exposed servers with no peer configured admit nobody from outside the release: an empty
    # `from` would admit everyone, so such a server has no ingress rule at all.
    streamlit = rendered.get("NetworkPolicy", f"{RELEASE}-allow-streamlit")
    assert streamlit["spec"]["ingress"] == []
    assert all(
        rule.get("from")
        for policy in rendered.of_kind("NetworkPolicy")
        for rule in policy["spec"].get("ingress", [])
    )


def test_production_values_use_rds_efs_s3_irsa_and_ingress(renderings: dict[str, Rendered]) -> None:
    prod = renderings["production"]
    assert prod.of_kind("StatefulSet") and not [
        s for s in prod.of_kind("StatefulSet") if s["metadata"]["name"].endswith("postgresql")
    ]
    claim = prod.get("PersistentVolumeClaim", f"{RELEASE}-data")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["storageClassName"] == "efs-sc"
    account = prod.get("ServiceAccount", f"{RELEASE}-workload")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith(
        "arn:aws:iam::"
    )
    mlflow = pod_spec(prod.get("Deployment", f"{RELEASE}-mlflow"))["containers"][0]
    assert mlflow["args"][mlflow["args"].index("--artifacts-destination") + 1].startswith("s3://")
    with pytest.raises(KeyError):
        prod.get("PersistentVolumeClaim", f"{RELEASE}-mlflow-artifacts")
    backends = {
        path["backend"]["service"]["name"]
        for ingress in prod.of_kind("Ingress")
        for r in ingress["spec"]["rules"]
        for path in r["http"]["paths"]
        if path["backend"]["service"]["port"].get("name") != "use-annotation"  # ALB actions
    }
    for name in backends:
        prod.get("Service", name)
    assert f"{RELEASE}-api" in backends
    for image in (c["image"] for w in prod.workloads() for c in pod_spec(w)["containers"]):
        if "/stockops/" in image:
            assert image.startswith(prod.values["global"]["imageRegistry"])


def test_gpu_training_runs_are_opt_in(
    renderings: dict[str, Rendered], gpu_tags: dict[str, str]
) -> None:
    default = renderings["default"]
    assert "STOCKOPS_GPU_RUN_TAGS" not in env_config(default)
    assert "tag_concurrency_limits" not in default.instance()["concurrency"]["runs"]

    prod = renderings["production"]
    limits = prod.instance()["concurrency"]["runs"]["tag_concurrency_limits"]
    assert limits == [
        {
            "key": "stockops/gpu",
            "value": "true",
            "limit": prod.values["runs"]["gpu"]["maxConcurrentRuns"],
        }
    ]
    assert gpu_tags["stockops/gpu"] == "true"
    assert all(isinstance(v, str) for v in gpu_tags.values())  # Dagster run tags are strings
    k8s_config = json.loads(gpu_tags["dagster-k8s/config"])
    assert k8s_config["pod_spec_config"]["node_selector"] == {"stockops.io/node-pool": "gpu"}
    # The code location and its run pods read the tags (envFrom of the env ConfigMap).
    env_from = pod_spec(prod.get("Deployment", f"{RELEASE}-user-code"))["containers"][0]["envFrom"]
    assert {"configMapRef": {"name": f"{RELEASE}-env"}} in env_from
    assert f"{RELEASE}-env" in prod.instance()["run_launcher"]["config"]["env_config_maps"]
    # GPU placement is per run: the launcher's own config leaves other runs on general nodes.
    assert (
        "node_selector"
        not in prod.instance()["run_launcher"]["config"]["run_k8s_config"]["pod_spec_config"]
    )


def test_run_pods_built_by_the_launcher(
    run_jobs: dict[str, dict[str, Any]], renderings: dict[str, Rendered]
) -> None:
    """The Jobs dagster-k8s builds from the chart's launcher config: valid, bounded, non-root."""
    import kubernetes_validate

    for name, job in run_jobs.items():
        kubernetes_validate.validate(job, KUBE_VERSION, strict=True)
        spec = job["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
        assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["serviceAccountName"] == f"{RELEASE}-workload"
        assert {"name": "data", "persistentVolumeClaim": {"claimName": f"{RELEASE}-data"}} in spec[
            "volumes"
        ]
        assert {"configMapRef": {"name": f"{RELEASE}-env"}} in container["envFrom"]
        assert job["spec"]["backoffLimit"] == 0

    # Optional Secrets reach run pods too (production names one), as optional sources: a run
    # starts without them, as every other pod does.
    (extra,) = renderings["production"].values["secrets"]["extraEnvSecrets"]
    gpu_env_from = run_jobs["production-gpu"]["spec"]["template"]["spec"]["containers"][0][
        "envFrom"
    ]
    assert {"secretRef": {"name": extra, "optional": True}} in gpu_env_from

    plain = run_jobs["default"]["spec"]["template"]["spec"]
    assert "nodeSelector" not in plain
    assert "nvidia.com/gpu" not in plain["containers"][0]["resources"]["limits"]
    gpu = run_jobs["production-gpu"]["spec"]["template"]["spec"]
    prod = renderings["production"]
    gpu_values = prod.values["runs"]["gpu"]
    assert gpu["nodeSelector"] == gpu_values["nodeSelector"]
    assert gpu["tolerations"] == gpu_values["tolerations"]
    assert gpu["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    # dagster-k8s takes container_config.image over the code location's image: the CUDA build.
    code_image = pod_spec(prod.get("Deployment", f"{RELEASE}-user-code"))["containers"][0]["image"]
    repository, tag = code_image.rsplit(":", 1)
    assert gpu["containers"][0]["image"] == f"{repository}:{tag}-cuda"
    plain_image = run_jobs["default"]["spec"]["template"]["spec"]["containers"][0]["image"]
    default_code = renderings["default"].get("Deployment", f"{RELEASE}-user-code")
    assert plain_image == pod_spec(default_code)["containers"][0]["image"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"api": {"image": {"tag": "latest"}}}, "/api/image/tag"),
        ({"unknown": True}, "additional properties 'unknown' not allowed"),
        ({"runs": {"resources": {"limits": None}}}, "limits"),
        ({"global": {"podSecurityContext": {"runAsNonRoot": False}}}, "runAsNonRoot"),
        ({"postgresql": {"sslMode": "sometimes"}}, "sslMode"),
    ],
)
def test_values_schema_rejects_unsafe_values(values: dict[str, Any], message: str) -> None:
    import helm_python

    chart = helm_python.Chart.load(str(CHART))
    with pytest.raises(helm_python.HelmValuesError, match=message):
        chart.render(values, name=RELEASE, namespace=NAMESPACE)


def test_external_postgres_needs_a_host() -> None:
    import helm_python

    chart = helm_python.Chart.load(str(CHART))
    with pytest.raises(helm_python.HelmError, match=r"postgresql\.host is required"):
        chart.render({"postgresql": {"enabled": False}}, name=RELEASE, namespace=NAMESPACE)
