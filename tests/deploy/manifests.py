"""What the deployment tests share: the repository's deployment files, the validators (fail, not
skip, when missing), the chart rendered offline with Helm's own Go code (helm-python-sdk), a run
pod's Job built the way the K8sRunLauncher builds it, and Dockerfile instructions parsed.

No cluster, Docker engine or cloud account exists here; the run pod's Job is built by dagster-k8s'
real launcher code against a kubeconfig that points nowhere (nothing is sent to it).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from stock_assets import names
from tests.required_tools import require_tool

ROOT = Path(__file__).resolve().parents[2]


CHART = ROOT / "helm" / "stockops"


PRODUCTION_VALUES = CHART / "values-production.yaml"


RELEASE = "stockops"


NAMESPACE = "stockops"


# The Kubernetes version the manifests are validated against (EKS default in terraform/).
KUBE_VERSION = "1.35.0"


VENV_BIN = ROOT / ".venv" / "bin"


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


def tool(name: str) -> str:
    """Path of a validator installed with the dev extras (fails, not skips, when it is missing)."""
    found = shutil.which(name) or (str(VENV_BIN / name) if (VENV_BIN / name).exists() else None)
    if found is None:
        pytest.fail(f"{name} is not installed: run `make install` (it is a dev dependency)")
    return found


def run(args: list[str], *, cwd: Path = ROOT, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def checkov_binary() -> str:
    """checkov lives in its own virtual environment; `make test` passes it as CHECKOV. Missing:
    skipped locally, a failure under CI."""
    return require_tool("checkov", env="CHECKOV", hint="make test sets CHECKOV to its binary")


@dataclass
class Rendered:
    """One rendering of the chart: the values used and every manifest, parsed."""

    name: str
    values: dict[str, Any]
    templates: dict[str, str]
    docs: list[dict[str, Any]] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        for doc in self.docs:
            if doc["kind"] == kind and doc["metadata"]["name"] == name:
                return doc
        raise KeyError(f"{kind}/{name} not rendered")

    def workloads(self) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] in WORKLOAD_KINDS]

    def instance(self, key: str = "dagster.yaml") -> dict[str, Any]:
        config_map = self.get("ConfigMap", f"{RELEASE}-dagster-instance")
        return yaml.safe_load(config_map["data"][key])

    def as_yaml(self) -> str:
        return yaml.safe_dump_all(self.docs, sort_keys=False)


HYBRID_VALUES = CHART / "values-hybrid.yaml"
# The one value the chart requires (the images are not on Docker Hub): any registry will do.
DEFAULT_REGISTRY = "registry.example.com/"


def load_values(name: str) -> dict[str, Any]:
    """`default` (the chart's defaults plus the registry it requires), `production`, or
    `hybrid`: production next to a Dagster+ agent, as docs/deploy.md installs it
    (values-production.yaml, then values-hybrid.yaml, then the GraphQL URL)."""
    if name == "default":
        return {"global": {"imageRegistry": DEFAULT_REGISTRY}}
    values = yaml.safe_load(PRODUCTION_VALUES.read_text())
    if name == "hybrid":
        values = merge(values, yaml.safe_load(HYBRID_VALUES.read_text()))
        values["api"]["dagsterGraphqlUrl"] = "https://example.dagster.cloud/prod/graphql"
    return values


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of two values files: maps merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def render_chart(name: str, values: dict[str, Any]) -> Rendered:
    import helm_python

    chart = helm_python.Chart.load(str(CHART))
    templates = chart.render(values, name=RELEASE, namespace=NAMESPACE)
    rendered = Rendered(name=name, values=chart.merge_values(values), templates=templates)
    for path, text in sorted(templates.items()):
        if not path.endswith(".yaml"):
            continue
        rendered.docs.extend(d for d in yaml.safe_load_all(text) if d)
    return rendered


def build_run_job(rendering: Rendered, tags: dict[str, str], tmp_dir: Path) -> dict[str, Any]:
    """The Job the chart's K8sRunLauncher would create for a run with these tags.

    Uses dagster-k8s' own code path (container context from the launcher config and the run's
    tags, then construct_dagster_k8s_job); only the Kubernetes API call is left out.
    """
    from dagster._core.storage.dagster_run import DagsterRun
    from dagster_k8s import K8sRunLauncher
    from dagster_k8s.container_context import K8sContainerContext

    config = dict(rendering.instance()["run_launcher"]["config"])
    kubeconfig = tmp_dir / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "none", "user": {"token": "unused"}}],
                "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
                "current-context": "none",
            }
        )
    )
    config["load_incluster_config"] = False
    config["kubeconfig_file"] = str(kubeconfig)
    launcher = K8sRunLauncher(**config)
    run = DagsterRun(
        job_name=names.TICKER_TRAINING_JOB, run_id="0b5e4c1e-run0-0000-0000-000000000000", tags=tags
    )
    context = K8sContainerContext.create_for_run(run, launcher, include_run_tags=True)
    user_code = rendering.get("Deployment", f"{RELEASE}-user-code")
    image = user_code["spec"]["template"]["spec"]["containers"][0]["image"]
    manifest = run_job_manifest(context, launcher, image, run.run_id, "dagster-run-0b5e4c1e")
    manifest["metadata"]["namespace"] = NAMESPACE
    return manifest


def run_job_manifest(
    context: Any, launcher: Any, image: str, run_id: str, name: str
) -> dict[str, Any]:
    """The run pod's Job for a training run, as dagster-k8s constructs it for ``context`` (its
    K8sContainerContext) and ``launcher`` (what it reads of the run launcher), as a manifest."""
    from dagster_k8s.job import construct_dagster_k8s_job
    from kubernetes.client import ApiClient

    job = construct_dagster_k8s_job(
        job_config=context.get_k8s_job_config(job_image=image, run_launcher=launcher),
        args=["dagster", "api", "execute_run", json.dumps({"run_id": run_id})],
        job_name=name,
        pod_name=name,
        component="run_worker",
        user_defined_k8s_config=context.run_k8s_config,
        labels={"dagster/job": names.TICKER_TRAINING_JOB},
    )
    manifest = ApiClient().sanitize_for_serialization(job)
    manifest.update({"apiVersion": "batch/v1", "kind": "Job"})
    return manifest


def env_config(rendering: Rendered) -> dict[str, str]:
    return rendering.get("ConfigMap", f"{RELEASE}-env")["data"]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"].get("labels", {})


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    parsed = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            parsed.append((keyword.upper(), rest.strip()))
    return parsed


def final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    steps = instructions(dockerfile)
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps[last_from:]
