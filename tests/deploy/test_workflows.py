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
    """Third-party actions run with the job's credentials (OIDC to AWS): they are pinned by
    commit, with the release in a comment; GitHub's own actions/* by major version."""
    data = load(workflow.name)
    assert data["permissions"].get("contents") == "read"
    assert "write-all" not in str(data["permissions"])
    text = workflow.read_text()
    for step in steps(data):
        if "uses" not in step:
            continue
        uses = step["uses"]
        owner = uses.split("/", 1)[0]
        if owner == "actions":
            assert re.fullmatch(r"actions/[\w.-]+@(v\d+|[0-9a-f]{40})", uses), uses
        else:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", uses), f"{uses}: pin by commit"
            assert re.search(re.escape(uses) + r" # v\d+\.\d+\.\d+\n", text), f"{uses}: version"


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
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_IMAGES_ROLE_ARN }}"
    assert "aws-access-key-id" not in aws["with"]
    build = next(
        s for s in steps(images) if s.get("uses", "").startswith("docker/build-push-action")
    )
    assert build["with"]["file"] == "docker/${{ matrix.image }}.Dockerfile"
    assert "workflow_call" in images["on"]


def test_a_rerun_reuses_images_already_pushed() -> None:
    """ECR tags are immutable: pushing a tag twice fails, so "Re-run all jobs" of a release
    whose images were pushed failed at the push. The build now runs only for a missing tag."""
    job = load("images.yml")["jobs"]["build"]
    (check,) = [s for s in job["steps"] if s.get("id") == "pushed"]
    assert "aws ecr describe-images" in check["run"] and "found=true" in check["run"]
    assert check["env"]["IMAGE_TAG"] == "${{ steps.tag.outputs.tag }}${{ matrix.suffix }}"
    build = next(s for s in job["steps"] if s.get("uses", "").startswith("docker/build-push"))
    assert build["if"] == "steps.pushed.outputs.found != 'true'"
    assert (
        build["with"]["tags"].endswith(":${{ steps.tag.outputs.tag }}${{ matrix.suffix }}")
        and "stockops/${{ matrix.image }}" in build["with"]["tags"]
    )
    assert check["env"]["REPOSITORY"] == "stockops/${{ matrix.image }}"


def test_the_deploy_uses_the_helm_the_tests_use() -> None:
    """The chart is rendered and linted here by Helm's own Go code (helm-python-sdk); the
    deploy installs that same Helm release, and its flags are Helm 4's."""
    import helm_python

    deploy = load("deploy.yml")
    assert deploy["env"]["HELM_VERSION"] == helm_python.helm_sdk_version()
    script = next(s["run"] for s in steps(deploy) if "helm upgrade" in s.get("run", ""))
    assert "--rollback-on-failure" in script and "--atomic" not in script
    install = next(s["run"] for s in steps(deploy) if s.get("name") == "Helm")
    assert "sha256sum -c" in install and "${HELM_VERSION}" in install
    # No ECR push rights needed to deploy: the registry is a repository variable.
    assert not [s for s in steps(deploy) if "amazon-ecr-login" in s.get("uses", "")]


def test_deploy_runs_on_version_tags_with_helm() -> None:
    deploy = load("deploy.yml")
    assert deploy["on"] == {"push": {"tags": ["v*"]}}
    assert deploy["permissions"]["id-token"] == "write"
    assert deploy["jobs"]["images"]["uses"] == "./.github/workflows/images.yml"
    aws = next(s for s in steps(deploy) if "configure-aws-credentials" in s.get("uses", ""))
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
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


def test_docs_show_the_image_tags_images_yml_publishes() -> None:
    """images.yml publishes a release under its git tag (v0.2.0), commits as sha-<commit>: the
    deploy guide's examples must use those tags, not bare versions."""
    images = load("images.yml")
    script = next(s["run"] for s in steps(images) if s.get("id") == "tag")
    assert 'echo "tag=$REF_NAME"' in script and "sha-" in script
    docs = (ROOT / "docs" / "deploy.md").read_text()
    examples = re.findall(r"stockops/[\w-]+:(\d[\w.-]*|v\d[\w.-]*)", docs)
    assert examples, "the guide shows no image tag"
    assert all(tag.startswith("v") for tag in examples), examples
    assert re.search(r"git tag v\d+\.\d+\.\d+", docs)
