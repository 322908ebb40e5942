"""GitHub workflows: actionlint and GitHub's schema, then the contracts between them and the repo
(every image is built, OIDC to AWS, deploy only on version tags, Helm values that exist)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import CHART, ROOT, run, tool

WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))


def load(name: str) -> dict[str, Any]:
    # PyYAML reads the `on:` key as True; map it back.
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for job in workflow["jobs"].values() for s in job.get("steps", [])]


def test_the_three_workflows_exist() -> None:
    assert {p.name for p in FILES} == {"ci.yml", "images.yml", "deploy.yml"}


def test_actionlint_is_clean() -> None:
    result = run([tool("actionlint"), "-no-color", *map(str, FILES)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", FILES, ids=lambda p: p.name)
def test_github_workflow_schema(workflow: Path) -> None:
    result = run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)]
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", FILES, ids=lambda p: p.name)
def test_actions_are_pinned_and_permissions_minimal(workflow: Path) -> None:
    data = load(workflow.name)
    assert data["permissions"].get("contents") == "read"
    assert "write-all" not in str(data["permissions"])
    for step in steps(data):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@(v\d+(\.\d+)*|[0-9a-f]{40})", step["uses"]), step[
                "uses"
            ]


def test_ci_runs_make_test_on_pull_requests() -> None:
    ci = load("ci.yml")
    assert "pull_request" in ci["on"] and ci["on"]["push"]["branches"] == ["main"]
    assert "make test" in [s.get("run") for s in steps(ci)]
    # Postgres as a service container; Redis is the redis-server package's own service.
    assert "postgres" in ci["jobs"]["test"]["services"]


def test_images_builds_every_dockerfile_with_oidc() -> None:
    images = load("images.yml")
    assert images["permissions"]["id-token"] == "write"
    job = images["jobs"]["build"]
    dockerfiles = {
        p.name.removesuffix(".Dockerfile") for p in (ROOT / "docker").glob("*.Dockerfile")
    }
    assert {entry["image"] for entry in job["strategy"]["matrix"]["include"]} == dockerfiles
    aws = next(
        s
        for s in steps(images)
        if s.get("uses", "").startswith("aws-actions/configure-aws-credentials")
    )
    assert "role-to-assume" in aws["with"] and "aws-access-key-id" not in aws["with"]
    build = next(
        s for s in steps(images) if s.get("uses", "").startswith("docker/build-push-action")
    )
    assert build["with"]["file"] == "docker/${{ matrix.image }}.Dockerfile"
    assert "workflow_call" in images["on"]


def test_deploy_runs_on_version_tags_with_helm() -> None:
    deploy = load("deploy.yml")
    assert deploy["on"] == {"push": {"tags": ["v*"]}}
    assert deploy["permissions"]["id-token"] == "write"
    assert deploy["jobs"]["images"]["uses"] == "./.github/workflows/images.yml"
    assert deploy["jobs"]["deploy"]["needs"] == "images"
    script = next(s["run"] for s in steps(deploy) if "helm upgrade" in s.get("run", ""))
    assert "helm/stockops" in script and CHART.exists()
    assert (
        "-f helm/stockops/values-production.yaml" in script
        and (CHART / "values-production.yaml").exists()
    )
    # Every value the deploy sets is a key of the chart's values.
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for path in re.findall(r'--set-string "([^=]+)=', script):
        node: Any = values
        keys = re.split(r"(?<!\\)\.", path)
        for key in keys[:-1]:
            node = node[key.replace("\\.", ".")]
        assert isinstance(node, dict), path
        if not path.startswith("serviceAccounts."):  # annotation keys are free-form
            assert keys[-1] in node, path


def required_tools() -> set[str]:
    """Every program a test asks tests/required_tools.py for, read from the test sources."""
    names = set()
    for source in (ROOT / "tests").rglob("*.py"):
        if source.name == "test_required_tools.py":  # the helper's own tests, with `sh`
            continue
        names |= set(re.findall(r'require_tool\(\s*"([^"]+)"', source.read_text()))
    return names


def apt_packages(script: str) -> set[str]:
    packages = set()
    for line in script.splitlines():
        if "apt-get install" in line:
            packages |= {w for w in line.split("apt-get install", 1)[1].split() if w[0] != "-"}
    return packages


def test_ci_installs_every_program_the_tests_require() -> None:
    """Under CI a missing validator fails its tests, so the workflow must provide each one; a
    new require_tool(...) without a way to install it fails here first."""
    ci = load("ci.yml")
    job = ci["jobs"]["test"]
    assert str(job["env"]["CI"]).lower() == "true"
    script = "\n".join(s.get("run", "") for s in job["steps"])
    uses = [s.get("uses", "") for s in job["steps"]]
    packages = apt_packages(script)
    makefile = (ROOT / "Makefile").read_text()
    test_target = re.search(r"^test:(.*)\n((?:\t.*\n)+)", makefile, re.M)
    assert test_target, "Makefile has no test target"
    provided = {
        "terraform": any(u.startswith("hashicorp/setup-terraform@") for u in uses),
        "promtool": "prometheus" in packages,
        "prometheus": "prometheus" in packages,
        "redis-server": "redis-server" in packages,
        # Ubuntu's chromium is a snap stub: the runner's Google Chrome, linked as chromium.
        "chromium": "chromium" in packages or "/usr/local/bin/chromium" in script,
        # make test builds checkov's venv first and passes its binary as CHECKOV.
        "checkov": "make test" in script
        and "$(CHECKOV_STAMP)" in test_target.group(1)
        and "CHECKOV=" in test_target.group(2),
    }
    wanted = required_tools()
    assert {"terraform", "promtool", "prometheus", "redis-server", "chromium"} <= wanted
    unknown = wanted - set(provided)
    assert not unknown, f"tests require {unknown}: install them in ci.yml and list them here"
    missing = sorted(program for program in wanted if not provided[program])
    assert missing == [], f"ci.yml does not install {missing}"
    # The tests talk to Redis on 127.0.0.1:6379 and Postgres on 5432 (a service container).
    assert "postgres" in job["services"]
    # The same programs for a developer: the Debian ones in scripts/install-system-packages.sh.
    local = (ROOT / "scripts" / "install-system-packages.sh").read_text()
    for program in ("promtool", "prometheus", "chromium", "redis-server"):
        assert f"[{program}]=" in local, program
