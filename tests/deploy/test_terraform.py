"""Terraform: `terraform fmt`, and what `validate` would need providers for, read from the parsed
HCL: typed and described variables, described outputs, the backend example, and the places
where Terraform and the Helm chart must agree (GPU node labels and taints, ECR repositories).

Providers and registry modules cannot be downloaded here, so `init`/`validate` do not run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import CHART, ROOT, run

TERRAFORM = ROOT / "terraform"
MODULE_DIRS = [TERRAFORM, *sorted(p for p in (TERRAFORM / "modules").iterdir() if p.is_dir())]

# python-hcl2 lives in checkov's environment (it clashes with ours): parse there, print JSON.
PARSE = """
import json, sys, hcl2
out = {}
for path in sys.argv[1:]:
    with open(path) as handle:
        out[path] = hcl2.load(handle)
print(json.dumps(out, default=str))
"""


@pytest.fixture(scope="module")
def hcl() -> dict[str, dict[str, Any]]:
    checkov = os.environ.get("CHECKOV", "")
    python = Path(checkov).parent / "python" if checkov else None
    if python is None or not python.exists():
        pytest.skip("python-hcl2 comes with checkov's environment: set CHECKOV (make test does)")
    files = sorted(str(p) for d in MODULE_DIRS for p in d.glob("*.tf"))
    parsed = subprocess.run(
        [str(python), "-c", PARSE, *files], capture_output=True, text=True, check=True, timeout=120
    )
    return {
        Path(k).relative_to(TERRAFORM).as_posix(): v for k, v in json.loads(parsed.stdout).items()
    }


def blocks(hcl: dict[str, dict[str, Any]], folder: Path, kind: str) -> dict[str, dict[str, Any]]:
    prefix = folder.relative_to(TERRAFORM).as_posix()
    found: dict[str, dict[str, Any]] = {}
    for path, document in hcl.items():
        if Path(path).parent.as_posix() != prefix:
            continue
        for block in document.get(kind, []):
            found.update(block)
    return found


def strip(value: Any) -> Any:
    """Plain values across python-hcl2 versions: older ones wrap each attribute in a one-item
    list, newer ones keep the quotes of strings."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value.strip('"') if isinstance(value, str) else value


def test_terraform_fmt() -> None:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform binary not installed")
    result = run([binary, "fmt", "-check", "-recursive", "-diff"], cwd=TERRAFORM)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("folder", MODULE_DIRS, ids=lambda p: p.name)
def test_variables_are_typed_and_described(hcl: dict[str, dict[str, Any]], folder: Path) -> None:
    variables = blocks(hcl, folder, "variable")
    assert variables
    for name, spec in variables.items():
        assert strip(spec.get("description", "")).strip(), f"{name}: description"
        assert strip(spec.get("type")), f"{name}: type"


@pytest.mark.parametrize("folder", MODULE_DIRS, ids=lambda p: p.name)
def test_outputs_are_described(hcl: dict[str, dict[str, Any]], folder: Path) -> None:
    outputs = blocks(hcl, folder, "output")
    assert outputs
    for name, spec in outputs.items():
        assert strip(spec.get("description", "")).strip(), name


def test_backend_example_matches_the_partial_backend(hcl: dict[str, dict[str, Any]]) -> None:
    (terraform_block,) = hcl["versions.tf"]["terraform"]
    assert "s3" in json.dumps(terraform_block["backend"])
    example = (TERRAFORM / "backend.hcl.example").read_text()
    keys = {
        line.split("=")[0].strip()
        for line in example.splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert {"bucket", "key", "region", "encrypt"} <= keys


def test_tfvars_example_sets_declared_variables(hcl: dict[str, dict[str, Any]]) -> None:
    declared = set(blocks(hcl, TERRAFORM, "variable"))
    example = (TERRAFORM / "terraform.tfvars.example").read_text()
    used = {
        line.split("=")[0].strip()
        for line in example.splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert used and used <= declared, used - declared


def test_registry_modules_are_pinned(hcl: dict[str, dict[str, Any]]) -> None:
    modules = blocks(hcl, TERRAFORM, "module")
    sources = {name: strip(spec["source"]) for name, spec in modules.items()}
    assert "terraform-aws-modules/vpc/aws" in sources.values()
    assert "terraform-aws-modules/eks/aws" in sources.values()
    for name, spec in modules.items():
        if not sources[name].startswith("./"):
            assert strip(spec["version"])[0].isdigit(), f"{name}: exact version"


def test_gpu_node_group_matches_the_chart(hcl: dict[str, dict[str, Any]]) -> None:
    eks = blocks(hcl, TERRAFORM, "module")["eks"]
    groups = json.dumps(strip(eks["eks_managed_node_groups"]))
    gpu = yaml.safe_load((CHART / "values.yaml").read_text())["runs"]["gpu"]
    ((label, value),) = gpu["nodeSelector"].items()
    assert label in groups and value in groups
    (toleration,) = gpu["tolerations"]
    assert toleration["key"] in groups and "NO_SCHEDULE" in groups
    assert toleration["effect"] == "NoSchedule"


def test_ecr_repositories_cover_every_image(hcl: dict[str, dict[str, Any]]) -> None:
    repositories = strip(blocks(hcl, TERRAFORM, "variable")["ecr_repositories"]["default"])
    images = {p.name.removesuffix(".Dockerfile") for p in (ROOT / "docker").glob("*.Dockerfile")}
    assert {strip(r) for r in repositories} == images
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    chart_repositories = {
        values["dagster"]["webserver"]["image"]["repository"],
        values["dagster"]["userCode"]["image"]["repository"],
        values["api"]["image"]["repository"],
        values["streamlit"]["image"]["repository"],
    }
    assert chart_repositories == {f"stockops/{image}" for image in images}
