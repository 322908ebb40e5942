"""What only a week of operation or a release would show: the cluster autoscaler evicting runs,
MLflow's releases, the ALB's health checks and public routes, Streamlit sessions, image pulls,
the migration deadline, optional Secrets, Qdrant's key and the values that must agree with
Terraform and the workflows.

Run pods are built with dagster-k8s' own code from the rendered launcher config (conftest);
everything else reads the rendered manifests or renders the chart with one setting changed.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import (
    CHART,
    RELEASE,
    ROOT,
    Rendered,
    load_values,
    pod_spec,
    render_chart,
)
from tests.deploy.test_chart_production import production, refused, render

# The cluster autoscaler removes a node only if it can evict every pod on it; this annotation
# makes a pod stop that (https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/FAQ.md,
# "What types of pods can prevent CA from removing a node?").
SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"


def pod_annotations(workload: dict[str, Any]) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"].get("annotations") or {}


# --- N3: the cluster autoscaler --------------------------------------------------------------


def test_run_pods_are_not_evicted_by_the_autoscaler(run_jobs: dict[str, dict[str, Any]]) -> None:
    """A run pod has backoffLimit 0: evicted while the autoscaler empties an underused node, the
    run fails. The Job dagster-k8s builds from the rendered launcher config must carry the
    annotation on its pod template (not only on the Job)."""
    for name, job in run_jobs.items():
        assert job["spec"]["backoffLimit"] == 0
        assert pod_annotations(job).get(SAFE_TO_EVICT) == "false", name


@pytest.mark.parametrize("component", ["redis", "dagster-daemon"])
def test_redis_and_the_daemon_are_not_evicted(
    renderings: dict[str, Rendered], component: str
) -> None:
    """Redis is an emptyDir (the production Feast online store is lost until re-materialized)
    and the daemon is alone (schedules, sensors and the run queue stop)."""
    for name in ("default", "production"):
        workload = renderings[name].get("Deployment", f"{RELEASE}-{component}")
        assert pod_annotations(workload).get(SAFE_TO_EVICT) == "false", name


def test_the_agents_runs_are_not_evicted() -> None:
    values = yaml.safe_load((ROOT / "dagster_cloud" / "agent-values.yaml").read_text())
    metadata = values["workspace"]["runK8sConfig"]["podTemplateSpecMetadata"]
    assert metadata["annotations"][SAFE_TO_EVICT] == "false"


# --- N6 (MLflow's side): no tracking-server outage on a release -------------------------------


def test_production_mlflow_rolls_without_downtime(renderings: dict[str, Rendered]) -> None:
    prod = renderings["production"]
    mlflow = prod.get("Deployment", f"{RELEASE}-mlflow")
    assert mlflow["spec"]["replicas"] >= 2
    strategy = mlflow["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate" and strategy["rollingUpdate"]["maxUnavailable"] == 0
    budget = prod.get("PodDisruptionBudget", f"{RELEASE}-mlflow")
    assert budget["spec"]["minAvailable"] >= 1
    assert prod.values["mlflow"]["artifactsDestination"].startswith("s3://")
    # With artifacts on a ReadWriteOnce volume: one pod, replaced.
    default = renderings["default"].get("Deployment", f"{RELEASE}-mlflow")
    assert default["spec"]["replicas"] == 1 and default["spec"]["strategy"]["type"] == "Recreate"
    refused({"mlflow": {"replicas": 2}}, r"mlflow\.replicas > 1 needs artifacts in S3")


def test_api_readiness_asks_nothing_shared(renderings: dict[str, Rendered]) -> None:
    """The API's readiness probe is /health/ready, which asks only what the pod needs (the
    data directory): tests/serving_api/test_readiness.py stops a real MLflow under it."""
    from serving_api.health import REQUIRED

    api = pod_spec(renderings["production"].get("Deployment", f"{RELEASE}-api"))["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert set(REQUIRED) == {"data"}


# --- n1, n2: the ALB's health checks and what the public ALB serves ---------------------------

HEALTH_CHECK = "alb.ingress.kubernetes.io/healthcheck-path"


def test_alb_health_checks_use_the_pods_readiness_paths(renderings: dict[str, Rendered]) -> None:
    """The controller's default health check is GET /: the API has no / route (404) and MLflow
    refuses a Host it does not know, so every target was unhealthy and the ALB failed open. Each
    Service behind an Ingress names the path its pods' readiness probe answers."""
    prod = renderings["production"]
    backends = {
        path["backend"]["service"]["name"]
        for ingress in prod.of_kind("Ingress")
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
        if path["backend"]["service"]["port"].get("name") != "use-annotation"
    }
    assert backends == {
        f"{RELEASE}-{c}" for c in ("api", "streamlit", "dagster-webserver", "mlflow")
    }
    for name in backends:
        service = prod.get("Service", name)
        path = (service["metadata"].get("annotations") or {}).get(HEALTH_CHECK)
        probe = pod_spec(prod.get("Deployment", name))["containers"][0]["readinessProbe"]
        assert path and path == probe["httpGet"]["path"], (name, path, probe)


def alb_route(ingress: dict[str, Any], host: str, path: str) -> str:
    """The backend the ALB sends a request to: an Ingress's paths in order, Exact or Prefix
    (https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/spec/:
    rules are created in the order of the paths)."""
    for rule in ingress["spec"]["rules"]:
        if rule["host"] != host:
            continue
        for entry in rule["http"]["paths"]:
            prefix = entry["path"].rstrip("/")
            hit = (
                path == entry["path"]
                if entry["pathType"] == "Exact"
                else path == prefix or path.startswith(prefix + "/")
            )
            if hit:
                service = entry["backend"]["service"]
                if service["port"].get("name") == "use-annotation":
                    return f"action:{service['name']}"
                return str(service["name"])
    return "none"


def test_public_alb_answers_operational_routes_itself(renderings: dict[str, Rendered]) -> None:
    """/metrics, the dependency detail of /health and DELETE /system/reset are the API's own
    routes; on the internet-facing ALB they get a fixed 404, everything else reaches the API."""
    import json

    from serving_api.routes import system

    routes = {route.path for route in system.router.routes}  # type: ignore[attr-defined]
    assert {"/metrics", "/health", "/system/reset", "/health/live", "/health/ready"} <= routes
    prod = renderings["production"]
    public = prod.get("Ingress", f"{RELEASE}-public")
    host = prod.values["ingress"]["public"]["hosts"]["api"]
    for path in ("/metrics", "/health", "/system/reset"):
        assert alb_route(public, host, path) == "action:blocked", path
    for path in ("/predict-child", "/status/abc", "/health/live", "/health/ready", "/docs"):
        assert alb_route(public, host, path) == f"{RELEASE}-api", path
    action = json.loads(
        public["metadata"]["annotations"]["alb.ingress.kubernetes.io/actions.blocked"]
    )
    assert action["type"] == "fixed-response"
    assert action["fixedResponseConfig"]["statusCode"] == "404"
    # The private ALB (operators, over the VPN) keeps them.
    private = prod.get("Ingress", f"{RELEASE}-private")
    assert "alb.ingress.kubernetes.io/actions.blocked" not in private["metadata"]["annotations"]


# --- n8: Streamlit sessions -------------------------------------------------------------------


def test_streamlit_replicas_get_sticky_sessions(renderings: dict[str, Rendered]) -> None:
    prod = renderings["production"]
    assert prod.get("Deployment", f"{RELEASE}-streamlit")["spec"]["replicas"] > 1
    attributes = prod.get("Service", f"{RELEASE}-streamlit")["metadata"]["annotations"][
        "alb.ingress.kubernetes.io/target-group-attributes"
    ]
    assert "stickiness.enabled=true" in attributes and "stickiness.type=lb_cookie" in attributes
    one = render(production(streamlit={"replicas": 1}))
    annotations = one.get("Service", f"{RELEASE}-streamlit")["metadata"].get("annotations", {})
    assert "alb.ingress.kubernetes.io/target-group-attributes" not in annotations


# --- n4, m9: Qdrant ---------------------------------------------------------------------------


def test_qdrant_server_requires_the_key_its_clients_send(renderings: dict[str, Rendered]) -> None:
    """The key the clients read (STOCKOPS_QDRANT_API_KEY from the extra-env Secret) is the one
    the server is given, so the server is never open while the clients hold a key."""
    prod = renderings["production"]
    qdrant = pod_spec(prod.get("StatefulSet", f"{RELEASE}-qdrant"))["containers"][0]
    env = {e["name"]: e for e in qdrant["env"]}
    reference = env["QDRANT__SERVICE__API_KEY"]["valueFrom"]["secretKeyRef"]
    assert reference["key"] == "STOCKOPS_QDRANT_API_KEY"
    assert reference["name"] in prod.values["secrets"]["extraEnvSecrets"]
    api = pod_spec(prod.get("Deployment", f"{RELEASE}-api"))["containers"][0]
    assert {"secretRef": {"name": reference["name"], "optional": True}} in api["envFrom"]
    # The probes need no key (Qdrant exempts its health routes).
    assert qdrant["readinessProbe"]["httpGet"]["path"] == "/readyz"
    refused(production(qdrant={"apiKeySecret": {"name": ""}}), r"needs qdrant\.apiKeySecret")
    # The start marker goes to a writable mount (the root filesystem is read-only).
    marker = env["QDRANT_INIT_FILE_PATH"]["value"]
    mounts = [m["mountPath"] for m in qdrant["volumeMounts"]]
    assert any(marker.startswith(m.rstrip("/") + "/") for m in mounts), (marker, mounts)


# --- m3: optional Secrets are optional everywhere ---------------------------------------------


def test_extra_env_secrets_are_optional_in_every_pod(
    renderings: dict[str, Rendered], run_jobs: dict[str, dict[str, Any]]
) -> None:
    prod = renderings["production"]
    (extra,) = prod.values["secrets"]["extraEnvSecrets"]
    containers = [c for w in prod.workloads() for c in pod_spec(w)["containers"]]
    containers += [pod_spec(job)["containers"][0] for job in run_jobs.values()]
    sources = [s for c in containers for s in c.get("envFrom", []) if "secretRef" in s]
    prod_sources = [s for s in sources if s["secretRef"]["name"] == extra]
    assert len(prod_sources) >= 3  # the API, the code server, the GPU run pod
    assert all(s["secretRef"].get("optional") is True for s in sources), sources


# --- n6: GPU runs start in time ----------------------------------------------------------------


def test_gpu_runs_get_a_start_timeout_for_a_cold_gpu_node(renderings: dict[str, Rendered]) -> None:
    prod = renderings["production"]
    assert prod.values["runs"]["gpu"]["enabled"]
    timeout = prod.instance()["run_monitoring"]["start_timeout_seconds"]
    assert timeout >= prod.values["runs"]["gpu"]["startTimeoutSeconds"] >= 1200
    default = renderings["default"].instance()["run_monitoring"]["start_timeout_seconds"]
    assert default == renderings["default"].values["dagster"]["instance"]["runStartTimeoutSeconds"]


# --- n7: image pulls ---------------------------------------------------------------------------


def test_images_are_pulled_once_per_node(
    renderings: dict[str, Rendered], run_jobs: dict[str, dict[str, Any]]
) -> None:
    """Every tag names one image for good: IfNotPresent, so a node pulls each once (Docker
    Hub's anonymous limit is per NAT address) and a GPU node starts its run sooner."""
    for rendering in renderings.values():
        for workload in rendering.workloads():
            spec = pod_spec(workload)
            for c in spec["containers"] + spec.get("initContainers", []):
                assert c["imagePullPolicy"] == "IfNotPresent", (rendering.name, c["name"])
    for job in run_jobs.values():
        assert pod_spec(job)["containers"][0]["imagePullPolicy"] == "IfNotPresent"


# --- n11: the migration's deadline -------------------------------------------------------------


def helm_timeout_seconds() -> int:
    deploy = (ROOT / ".github" / "workflows" / "deploy.yml").read_text()
    (minutes,) = re.findall(r"--timeout (\d+)m", deploy.split("helm upgrade", 1)[1])
    return int(minutes) * 60


def test_migration_ends_before_helm_gives_up(renderings: dict[str, Rendered]) -> None:
    """With --rollback-on-failure Helm rolls back when its timeout passes; a migration still
    running then goes on altering the schema under the old release. The hook's deadline leaves
    the rollout at least five minutes of the timeout."""
    job = renderings["production"].get("Job", f"{RELEASE}-dagster-migrate")
    deadline = job["spec"]["activeDeadlineSeconds"]
    assert deadline + 300 <= helm_timeout_seconds(), (deadline, helm_timeout_seconds())
    docs = (ROOT / "docs" / "deploy.md").read_text()
    assert f"--timeout {helm_timeout_seconds() // 60}m" in docs


# --- m11: images come from a registry that has them ---------------------------------------------


def test_the_chart_refuses_to_render_without_an_image_registry() -> None:
    import helm_python

    chart = helm_python.Chart.load(str(CHART))
    with pytest.raises(helm_python.HelmError, match=r"global\.imageRegistry is required"):
        chart.render({}, name=RELEASE, namespace="stockops")
    readme = (ROOT / "helm" / "README.md").read_text()
    for command in re.findall(r"helm upgrade --install[^\n]*(?:\\\n[^\n]*)*", readme):
        assert "imageRegistry" in command or "values-production.yaml" in command, command


# --- m7: values that must match Terraform -------------------------------------------------------


def test_example_bucket_is_the_one_terraform_names() -> None:
    """storage.tf names the bucket <project>-<environment>-mlflow-artifacts-<account>; the
    production example uses the defaults and the account of its own registry."""
    values = load_values("production")
    account = values["global"]["imageRegistry"].split(".", 1)[0]
    storage = (ROOT / "terraform" / "storage.tf").read_text()
    assert (
        'name                               = "${local.name}-mlflow-artifacts-${local.account_id}"'
        in storage
    )
    expected = f"s3://stockops-prod-mlflow-artifacts-{account}/artifacts"
    assert values["mlflow"]["artifactsDestination"] == expected


# --- n12: hybrid admits the agent's pods, nothing else does -------------------------------------


def test_only_hybrid_admits_the_agents_pods(renderings: dict[str, Rendered]) -> None:
    for name in ("default", "production"):
        assert renderings[name].values["networkPolicy"]["externalDagsterPods"] == {}
    assert renderings["hybrid"].values["networkPolicy"]["externalDagsterPods"]
    values = load_values("hybrid")
    values["networkPolicy"]["externalDagsterPods"] = {}
    refused(values, "needs networkPolicy.externalDagsterPods")
    # The API admits no external pod (the old comment said it did).
    api = renderings["hybrid"].get("NetworkPolicy", f"{RELEASE}-allow-api")
    labels = renderings["hybrid"].values["networkPolicy"]["externalDagsterPods"]
    peers = [p for rule in api["spec"]["ingress"] for p in rule["from"]]
    assert not [p for p in peers if p.get("podSelector", {}).get("matchLabels") == labels]


def test_a_hybrid_rendering_is_the_documented_one() -> None:
    """docs/deploy.md installs hybrid with the two values files the tests render."""
    docs = (ROOT / "docs" / "deploy.md").read_text()
    assert "-f helm/stockops/values-hybrid.yaml" in docs
    rendered = render_chart("hybrid-docs", load_values("hybrid"))
    assert not rendered.of_kind("Role")
