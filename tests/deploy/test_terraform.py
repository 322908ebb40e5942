"""Terraform: `terraform fmt`, what `validate` would need providers for (read from the parsed HCL),
and the places where Terraform, the workflows and the Helm chart must agree.

Providers and registry modules cannot be downloaded here, so `init`/`validate`/`plan` of the root
module do not run. What can run does: the files without resources (variables.tf and the address
plan, node labels and scale-from-zero tags in subnets.tf and nodes.tf) are copied into a sandbox
module that needs no provider, where `terraform plan` evaluates the variable validations and
`terraform console` the locals.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import CHART, KUBE_VERSION, ROOT, Rendered, pod_spec, run
from tests.required_tools import require_tool

TERRAFORM = ROOT / "terraform"
WORKFLOWS = ROOT / ".github" / "workflows"
MODULE_DIRS = [TERRAFORM, *sorted(p for p in (TERRAFORM / "modules").iterdir() if p.is_dir())]
# Files of the root module that declare no resources, data sources or modules.
PURE_FILES = ("variables.tf", "subnets.tf", "nodes.tf", "derived.tf")

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
    checkov = require_tool("checkov", env="CHECKOV", hint="python-hcl2 comes with checkov's venv")
    python = Path(checkov).parent / "python"
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


def resources(hcl: dict[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """Root-module resources (or data sources, kind "data.<type>") of one type, by name."""
    section, _, type_name = kind.rpartition(".")
    found: dict[str, dict[str, Any]] = {}
    for path, document in hcl.items():
        if "/" in path:  # local modules
            continue
        for block in document.get(section or "resource", []):
            found.update(block.get(type_name, {}))
    return found


def strip(value: Any) -> Any:
    """Plain values across python-hcl2 versions: older ones wrap each attribute in a one-item
    list, newer ones keep the quotes of strings."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value.strip('"') if isinstance(value, str) else value


def default(hcl: dict[str, dict[str, Any]], variable: str) -> Any:
    return strip(blocks(hcl, TERRAFORM, "variable")[variable]["default"])


def production(renderings: dict[str, Rendered]) -> Rendered:
    return renderings["production"]


# --- a provider-free sandbox of the root module's pure files --------------------------------


class Sandbox:
    """variables.tf and the locals-only files alone: `plan` runs their validations, `console`
    evaluates their locals. No provider, backend or network is needed."""

    def __init__(self, folder: Path, terraform: str) -> None:
        self.folder = folder
        self.terraform = terraform
        for name in PURE_FILES:
            (folder / name).write_text((TERRAFORM / name).read_text())
        self._call("init", "-backend=false", "-input=false", check=True)

    # Variables without a default that every call must set.
    REQUIRED = {"cluster_endpoint_public_access_cidrs": ["203.0.113.0/24"]}

    def _call(self, *args: str, stdin: str | None = None, check: bool = False) -> Any:
        result = subprocess.run(
            [self.terraform, *args],
            cwd=self.folder,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={
                "TF_CLI_CONFIG_FILE": "/dev/null",
                "TF_IN_AUTOMATION": "1",
                "HOME": str(self.folder),
                "PATH": "/usr/bin:/bin",
            },
        )
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    def _vars(self, variables: dict[str, Any]) -> list[str]:
        merged = {**self.REQUIRED, **variables}
        return [
            f"-var={k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in merged.items()
        ]

    def plan(self, **variables: Any) -> subprocess.CompletedProcess:
        return self._call("plan", "-input=false", "-no-color", *self._vars(variables))

    def plan_file(self, var_file: Path) -> subprocess.CompletedProcess:
        return self._call("plan", "-input=false", "-no-color", f"-var-file={var_file}")

    def evaluate(self, expression: str, **variables: Any) -> Any:
        result = self._call(
            "console", *self._vars(variables), stdin=f"jsonencode({expression})\n", check=True
        )
        return json.loads(json.loads(result.stdout.strip()))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    return Sandbox(tmp_path_factory.mktemp("tf-sandbox"), require_tool("terraform"))


def test_terraform_fmt() -> None:
    result = run([require_tool("terraform"), "fmt", "-check", "-recursive", "-diff"], cwd=TERRAFORM)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sandbox_files_declare_no_resources(hcl: dict[str, dict[str, Any]]) -> None:
    for name in PURE_FILES:
        assert set(hcl[name]) <= {"variable", "locals"}, f"{name}: {set(hcl[name])}"


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


def test_tfvars_example_sets_declared_variables_and_passes_their_validation(
    hcl: dict[str, dict[str, Any]], sandbox: Sandbox
) -> None:
    declared = set(blocks(hcl, TERRAFORM, "variable"))
    example = TERRAFORM / "terraform.tfvars.example"
    used = {
        line.split("=")[0].strip()
        for line in example.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert used and used <= declared, used - declared
    result = sandbox.plan_file(example)
    assert result.returncode == 0, result.stdout + result.stderr


def test_registry_modules_are_pinned(hcl: dict[str, dict[str, Any]]) -> None:
    modules = blocks(hcl, TERRAFORM, "module")
    sources = {name: strip(spec["source"]) for name, spec in modules.items()}
    assert "terraform-aws-modules/vpc/aws" in sources.values()
    assert "terraform-aws-modules/eks/aws" in sources.values()
    for name, spec in modules.items():
        if not sources[name].startswith("./"):
            assert re.fullmatch(r"\d+\.\d+\.\d+", strip(spec["version"])), f"{name}: exact version"
    # One release of the IAM module for every role (their policies differ between releases).
    iam = {
        strip(spec["version"])
        for name, spec in modules.items()
        if sources[name].startswith("terraform-aws-modules/iam/aws")
    }
    assert len(iam) == 1, iam


# --- CI: the OIDC trust admits the jobs that assume the role, and nothing else -------------


def workflow(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))
    return data


def iam_like(pattern: str, value: str) -> bool:
    """IAM's StringLike: `*` any run of characters, `?` one character, nothing else special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value) is not None


def ref_subjects(on: dict[str, Any]) -> list[str]:
    """The `ref:...` subjects a job without an environment gets under these triggers (a tag
    pattern is instantiated with a sample version, as GitHub would for v1.2.3)."""
    subjects = []
    push = on.get("push") or {}
    subjects += [f"ref:refs/heads/{b}" for b in push.get("branches", [])]
    subjects += [f"ref:refs/tags/{t.replace('*', '1.2.3')}" for t in push.get("tags", [])]
    if "workflow_dispatch" in on:
        subjects.append("ref:refs/heads/main")  # run from the default branch
    if "pull_request" in on:
        subjects.append("pull_request")
    return subjects


def role_assuming_jobs(repository: str) -> list[tuple[str, str]]:
    """(job, OIDC `sub`) for every job that assumes an AWS role, reusable workflows included
    under the triggers of the workflow that calls them."""
    found = []

    def visit(name: str, on: dict[str, Any]) -> None:
        for job_id, job in workflow(name)["jobs"].items():
            uses = job.get("uses", "")
            if uses.startswith("./.github/workflows/"):
                visit(Path(uses).name, on)
                continue
            steps = job.get("steps", [])
            if not any(
                s.get("uses", "").startswith("aws-actions/configure-aws-credentials") for s in steps
            ):
                continue
            environment = job.get("environment")
            if isinstance(environment, dict):
                environment = environment.get("name")
            subjects = (
                [f"environment:{environment}"]
                if environment
                else [s for s in ref_subjects(on) if s != "pull_request"]
            )
            found.extend((f"{name}:{job_id}", f"repo:{repository}:{s}") for s in subjects)

    for path in sorted(WORKFLOWS.glob("*.yml")):
        on = workflow(path.name)["on"]
        if "workflow_call" in on and set(on) <= {"workflow_call", "push", "workflow_dispatch"}:
            on = {k: v for k, v in on.items() if k != "workflow_call"}
        visit(path.name, on)
    return found


def trust(hcl: dict[str, dict[str, Any]], document: str) -> tuple[str, list[str]]:
    """(test, subject patterns) of one role's trust policy, ${var.*} resolved with the
    defaults and a sample repository."""
    statement = strip(resources(hcl, "data.aws_iam_policy_document")[document]["statement"])
    conditions = {strip(c["variable"]): c for c in statement["condition"]}
    audience = conditions["token.actions.githubusercontent.com:aud"]
    assert strip(audience["values"]) == "sts.amazonaws.com"
    subject = conditions["token.actions.githubusercontent.com:sub"]
    values = subject["values"]
    while isinstance(values, list) and len(values) == 1 and isinstance(values[0], list):
        values = values[0]
    values = values if isinstance(values, list) else [values]
    variables = blocks(hcl, TERRAFORM, "variable")
    defaults = {name: strip(spec.get("default", "")) for name, spec in variables.items()}
    defaults["github_repository"] = REPOSITORY
    resolved = [
        re.sub(r"\$\{var\.(\w+)\}", lambda m: str(defaults.get(m.group(1), m.group(0))), strip(p))
        for p in values
    ]
    assert not [p for p in resolved if "${" in p], resolved
    return strip(subject["test"]), resolved


def admitted(test: str, patterns: list[str], subject: str) -> bool:
    if test == "StringEquals":
        return subject in patterns
    assert test == "StringLike", test
    return any(iam_like(p, subject) for p in patterns)


REPOSITORY = "example-org/stockops"
# The repository variable of each role in the workflows, and its trust policy document.
ROLES = {
    "AWS_IMAGES_ROLE_ARN": "github_images_assume",
    "AWS_DEPLOY_ROLE_ARN": "github_deploy_assume",
}


def role_assuming_jobs_by_role() -> list[tuple[str, str, str]]:
    """(job, role variable, OIDC subject) of every job that assumes an AWS role."""
    found = []
    for job, sub in role_assuming_jobs(REPOSITORY):
        name, job_id = job.split(":")
        steps = workflow(name)["jobs"][job_id]["steps"]
        (step,) = [
            s
            for s in steps
            if s.get("uses", "").startswith("aws-actions/configure-aws-credentials")
        ]
        variable = re.fullmatch(r"\$\{\{ vars\.(\w+) \}\}", step["with"]["role-to-assume"])
        assert variable, step["with"]["role-to-assume"]
        found.append((job, variable.group(1), sub))
    return found


def test_each_job_assumes_the_role_made_for_it_and_only_that_one(
    hcl: dict[str, dict[str, Any]],
) -> None:
    """deploy.yml's deploy job sets `environment: production`: GitHub names it
    repo:OWNER/NAME:environment:production. It alone may assume the deploy role, which holds the
    cluster access; images.yml (main, version tags) assumes the images role, which may only push
    to ECR. A job on main can then neither deploy nor read the namespace's Secrets."""
    jobs = role_assuming_jobs_by_role()
    assert {job for job, _, _ in jobs} >= {"images.yml:build", "deploy.yml:deploy"}
    trusts = {variable: trust(hcl, document) for variable, document in ROLES.items()}
    for job, variable, sub in jobs:
        assert variable in ROLES, f"{job} assumes {variable}, which no role of ci.tf backs"
        for other, (test, patterns) in trusts.items():
            assert admitted(test, patterns, sub) == (other == variable), (job, sub, other)
    deploy_test, deploy_patterns = trusts["AWS_DEPLOY_ROLE_ARN"]
    assert deploy_patterns == [f"repo:{REPOSITORY}:environment:production"]
    for sub in (
        f"repo:{REPOSITORY}:ref:refs/heads/main",
        f"repo:{REPOSITORY}:ref:refs/tags/v1.2.3",
        f"repo:{REPOSITORY}:pull_request",
        f"repo:{REPOSITORY}:environment:staging",
        "repo:someone-else/stockops:environment:production",
    ):
        assert not admitted(deploy_test, deploy_patterns, sub), sub
    images_test, images_patterns = trusts["AWS_IMAGES_ROLE_ARN"]
    for sub in (f"repo:{REPOSITORY}:pull_request", f"repo:{REPOSITORY}:ref:refs/heads/feature"):
        assert not admitted(images_test, images_patterns, sub), sub


def test_only_the_deploy_role_reaches_the_cluster(hcl: dict[str, dict[str, Any]]) -> None:
    entries = blocks(hcl, TERRAFORM, "module")["eks"]["access_entries"]
    principals = {strip(strip(e)["principal_arn"]) for e in strip(entries).values()}
    assert principals == {"${aws_iam_role.github_deploy.arn}"}, principals
    documents = resources(hcl, "data.aws_iam_policy_document")
    images = json.dumps(documents["github_images"])
    assert "eks:" not in images and "module.eks" not in images
    assert "ecr:PutImage" in images
    deploy = json.dumps(documents["github_deploy"])
    assert "eks:DescribeCluster" in deploy and "ecr:PutImage" not in deploy
    policies = {
        strip(p["role"]): strip(p["policy"]) for p in resources(hcl, "aws_iam_role_policy").values()
    }
    assert policies == {
        "${aws_iam_role.github_images.id}": "${data.aws_iam_policy_document.github_images.json}",
        "${aws_iam_role.github_deploy.id}": "${data.aws_iam_policy_document.github_deploy.json}",
    }


def test_deploy_environment_matches_the_workflow(hcl: dict[str, dict[str, Any]]) -> None:
    job = workflow("deploy.yml")["jobs"]["deploy"]
    environment = job["environment"]
    name = environment["name"] if isinstance(environment, dict) else environment
    assert name == default(hcl, "github_deploy_environment")


# --- the EKS API endpoint the deploy runner talks to ----------------------------------------


@pytest.mark.parametrize(
    "cidrs",
    [
        ["10.0.0.0/8"],  # the old default: the VPC, which no internet runner comes from
        ["10.1.2.0/24"],
        ["172.20.0.0/16"],
        ["192.168.1.0/24"],
        ["100.64.0.0/10"],
        ["0.0.0.0/0"],
        ["8.0.0.0/6"],  # a public-looking block that contains 10.0.0.0/8
        ["203.0.113.0/24", "10.0.0.0/16"],
        [],
        ["not-a-cidr"],
    ],
)
def test_public_endpoint_refuses_private_or_open_ranges(sandbox: Sandbox, cidrs: list[str]) -> None:
    result = sandbox.plan(cluster_endpoint_public_access_cidrs=cidrs)
    assert result.returncode != 0
    assert "cluster_endpoint_public_access_cidrs" in result.stdout + result.stderr


def test_public_endpoint_takes_public_ranges(sandbox: Sandbox) -> None:
    ok = sandbox.plan(cluster_endpoint_public_access_cidrs=["203.0.113.0/24", "198.51.100.7/32"])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # A private endpoint only (a self-hosted runner in the VPC) needs no public range.
    private = sandbox.plan(
        cluster_endpoint_public_access="false", cluster_endpoint_public_access_cidrs=[]
    )
    assert private.returncode == 0, private.stdout + private.stderr


def test_endpoint_list_is_required_and_reaches_the_module(hcl: dict[str, dict[str, Any]]) -> None:
    spec = blocks(hcl, TERRAFORM, "variable")["cluster_endpoint_public_access_cidrs"]
    assert "default" not in spec  # no silent default (the old one was the VPC's 10.0.0.0/8)
    eks = blocks(hcl, TERRAFORM, "module")["eks"]
    assert strip(eks["cluster_endpoint_public_access_cidrs"]) == (
        "${var.cluster_endpoint_public_access_cidrs}"
    )
    assert strip(eks["cluster_endpoint_private_access"]) is True
    deploy = workflow("deploy.yml")["jobs"]["deploy"]
    # The deploy job runs where the allow-list says it may: a runner named by a variable.
    assert "vars.DEPLOY_RUNNER" in str(deploy["runs-on"])


# --- address plan, node pools, capacity ------------------------------------------------------


def test_zone_counts_allowed_have_subnets_that_never_overlap(sandbox: Sandbox) -> None:
    allowed = [n for n in range(1, 7) if sandbox.plan(availability_zone_count=n).returncode == 0]
    assert 3 in allowed and allowed == list(range(allowed[0], allowed[-1] + 1))
    for count in allowed:
        plan = sandbox.evaluate("local.subnet_cidrs", availability_zone_count=count)
        vpc = ipaddress.ip_network(sandbox.evaluate("var.vpc_cidr"))
        networks = [(kind, ipaddress.ip_network(c)) for kind, cs in plan.items() for c in cs]
        assert len(networks) == 5 * count
        for i, (kind, network) in enumerate(networks):
            assert network.subnet_of(vpc), (kind, network)
            for _, other in networks[i + 1 :]:
                assert not network.overlaps(other), f"{count} zones: {kind} {network} / {other}"


def test_alb_subnets_are_what_the_chart_admits(
    sandbox: Sandbox, renderings: dict[str, Rendered]
) -> None:
    """The production NetworkPolicies admit the ALBs by address: those are the public and the
    internal ALB subnets, never the node subnets (which hold every pod of the VPC)."""
    plan = sandbox.evaluate("local.subnet_cidrs")
    admitted = {
        ipaddress.ip_network(peer["ipBlock"]["cidr"])
        for policy in production(renderings).of_kind("NetworkPolicy")
        for rule in policy["spec"].get("ingress", [])
        for peer in rule.get("from", [])
        if "ipBlock" in peer
    }
    albs = {ipaddress.ip_network(c) for c in plan["public"] + plan["internal_alb"]}
    assert admitted == albs
    for node_subnet in map(ipaddress.ip_network, plan["private"]):
        assert not any(block.overlaps(node_subnet) for block in admitted), node_subnet


def test_only_the_alb_subnets_carry_load_balancer_role_tags(hcl: dict[str, dict[str, Any]]) -> None:
    vpc = blocks(hcl, TERRAFORM, "module")["vpc"]
    assert "kubernetes.io/role/elb" in json.dumps(vpc["public_subnet_tags"])
    assert "private_subnet_tags" not in vpc or "internal-elb" not in json.dumps(
        vpc["private_subnet_tags"]
    )
    internal = resources(hcl, "aws_subnet")["internal_alb"]
    assert "kubernetes.io/role/internal-elb" in json.dumps(internal["tags"])
    assert strip(internal["cidr_block"]) == "${local.subnet_cidrs.internal_alb[count.index]}"


def test_gpu_node_group_matches_the_chart(hcl: dict[str, dict[str, Any]], sandbox: Sandbox) -> None:
    eks = blocks(hcl, TERRAFORM, "module")["eks"]
    groups = json.dumps(strip(eks["eks_managed_node_groups"]))
    assert "${local.gpu_node_labels}" in groups and "${local.gpu_taint.key}" in groups
    labels = sandbox.evaluate("local.gpu_node_labels")
    taint = sandbox.evaluate("local.gpu_taint")
    gpu = yaml.safe_load((CHART / "values.yaml").read_text())["runs"]["gpu"]
    assert gpu["nodeSelector"].items() <= labels.items()
    (toleration,) = gpu["tolerations"]
    assert toleration["key"] == taint["key"] and toleration["effect"] == taint["effect"]
    assert toleration["operator"] == "Exists" or toleration.get("value") == taint["value"]


def test_gpu_group_scales_from_zero(hcl: dict[str, dict[str, Any]], sandbox: Sandbox) -> None:
    """At zero nodes the autoscaler only sees the Auto Scaling group's tags: they must carry the
    labels the GPU run pod selects, the taint it tolerates and the GPU it asks for."""
    tags = sandbox.evaluate("local.gpu_autoscaler_template_tags")
    prefix = "k8s.io/cluster-autoscaler/node-template/"
    for key, value in sandbox.evaluate("local.gpu_node_labels").items():
        assert tags[f"{prefix}label/{key}"] == value
    taint = sandbox.evaluate("local.gpu_taint")
    assert tags[f"{prefix}taint/{taint['key']}"] == f"{taint['value']}:{taint['effect']}"
    assert int(tags[f"{prefix}resources/nvidia.com/gpu"]) >= 1
    tag = resources(hcl, "aws_autoscaling_group_tag")["gpu_node_template"]
    assert "local.gpu_autoscaler_template_tags" in strip(tag["for_each"])
    assert "node_group_autoscaling_group_names" in strip(tag["autoscaling_group_name"])
    groups = json.dumps(strip(blocks(hcl, TERRAFORM, "module")["eks"]["eks_managed_node_groups"]))
    assert re.search(r"'gpu': \{.*?'min_size': 0,", groups), "the GPU group starts at zero"


# Instance facts the sizing test needs (vCPU, GiB, pods per node with the VPC CNI).
INSTANCES = {
    "m6i.xlarge": (4, 16, 58),
    "m6i.2xlarge": (8, 32, 58),
    "m6i.4xlarge": (16, 64, 234),
    "g5.xlarge": (4, 16, 58),
    "g5.2xlarge": (8, 32, 58),
}
# Per node: kube-proxy, aws-node, the EBS and EFS CSI node pods, the pod identity agent.
DAEMONSETS = (0.3, 0.6)
# Cluster-wide add-ons on the general group: CoreDNS x2, load balancer controller x2,
# metrics-server x2, cluster autoscaler, EBS/EFS CSI controllers.
ADDONS = (1.0, 2.5)


def schedulable(instance: str) -> tuple[float, float]:
    """What a node of this type offers pods: EKS's kubelet CPU reservation (6% of the first
    core, 1% of the second, 0.5% of the next two, 0.25% beyond) and memory reservation
    (255 MiB + 11 MiB per pod, 100 MiB eviction threshold, ~7% the kernel keeps), less the
    DaemonSets."""
    vcpu, gib, max_pods = INSTANCES[instance]
    shares = [0.06, 0.01, 0.005, 0.005] + [0.0025] * max(vcpu - 4, 0)
    cpu = vcpu - sum(shares[:vcpu])
    memory = gib * 0.93 - (255 + 11 * max_pods + 100) / 1024
    return cpu - DAEMONSETS[0], memory - DAEMONSETS[1]


def cpu(value: str) -> float:
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)


def gib(value: str) -> float:
    for suffix, scale in (("Gi", 1), ("Mi", 1 / 1024), ("G", 1e9 / 2**30), ("M", 1e6 / 2**30)):
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * scale
    return float(value) / 2**30


def requests(spec: dict[str, Any]) -> tuple[float, float]:
    wanted = [c.get("resources", {}).get("requests", {}) for c in spec["containers"]]
    return (
        sum(cpu(str(r.get("cpu", "0"))) for r in wanted),
        sum(gib(str(r.get("memory", "0"))) for r in wanted),
    )


def pack(pods: list[tuple[float, float]], node: tuple[float, float]) -> int:
    """Nodes that first-fit decreasing needs for these pods (what the scheduler and the
    autoscaler achieve at best)."""
    free: list[list[float]] = []
    for want_cpu, want_mem in sorted(pods, reverse=True):
        assert want_cpu <= node[0] and want_mem <= node[1], "a pod larger than a node"
        for room in free:
            if room[0] >= want_cpu and room[1] >= want_mem:
                room[0] -= want_cpu
                room[1] -= want_mem
                break
        else:
            free.append([node[0] - want_cpu, node[1] - want_mem])
    return len(free)


def production_pods(rendering: Rendered, *, peak: bool) -> list[tuple[float, float]]:
    """The production release's pods: every replica at its minimum or (peak) at the API
    autoscaler's maximum plus the most run pods the queue admits at once, and the add-ons."""
    scaled = {
        hpa["spec"]["scaleTargetRef"]["name"]: hpa["spec"]
        for hpa in rendering.of_kind("HorizontalPodAutoscaler")
    }
    pods = [ADDONS]
    for workload in rendering.docs:
        if workload["kind"] not in ("Deployment", "StatefulSet"):
            continue
        hpa = scaled.get(workload["metadata"]["name"])
        replicas = workload["spec"].get("replicas", 1)
        if hpa:
            replicas = hpa["maxReplicas"] if peak else hpa.get("minReplicas", 1)
        pods += [requests(pod_spec(workload))] * replicas
    if peak:
        instance = rendering.instance()
        runs = instance["concurrency"]["runs"]["max_concurrent_runs"]
        run = instance["run_launcher"]["config"]["resources"]["requests"]
        # Every run on the general group: GPU runs are a subset of the same queue.
        pods += [(cpu(str(run["cpu"])), gib(str(run["memory"])))] * runs
    return pods


def test_general_node_group_fits_production(
    hcl: dict[str, dict[str, Any]], renderings: dict[str, Rendered]
) -> None:
    """Production queues 8 concurrent 2-vCPU runs beside an API that scales to 12 replicas: the
    autoscaled general group must hold all of it at its maximum, and the idle platform at its
    minimum (the old 3 fixed m6i.xlarge nodes held neither)."""
    instance = strip(default(hcl, "general_node_instance_types"))
    node = schedulable(instance)
    rendering = production(renderings)
    peak = pack(production_pods(rendering, peak=True), node)
    idle = pack(production_pods(rendering, peak=False), node)
    minimum, maximum = default(hcl, "general_node_min_size"), default(hcl, "general_node_max_size")
    assert peak <= maximum, f"{peak} {instance} nodes needed at the peak, max_size {maximum}"
    assert idle <= minimum, f"{idle} nodes needed idle, min_size {minimum}"
    assert minimum >= 2  # the API's and the webserver's replicas on two nodes
    assert default(hcl, "general_node_desired_size") >= minimum


def test_gpu_node_group_fits_the_gpu_run_queue(
    hcl: dict[str, dict[str, Any]], renderings: dict[str, Rendered]
) -> None:
    rendering = production(renderings)
    limits = rendering.instance()["concurrency"]["runs"]["tag_concurrency_limits"]
    (gpu_limit,) = [limit["limit"] for limit in limits if limit["key"] == "stockops/gpu"]
    env = next(
        d for d in rendering.of_kind("ConfigMap") if "STOCKOPS_GPU_RUN_TAGS" in d.get("data", {})
    )
    tags = json.loads(env["data"]["STOCKOPS_GPU_RUN_TAGS"])
    container = json.loads(tags["dagster-k8s/config"])["container_config"]
    want = container["resources"]["requests"]
    per_run = int(want["nvidia.com/gpu"])
    gpus = default(hcl, "gpu_node_gpus_per_instance")
    instance = strip(default(hcl, "gpu_node_instance_types"))
    node = schedulable(instance)
    assert cpu(str(want["cpu"])) <= node[0] and gib(str(want["memory"])) <= node[1]
    runs_per_node = gpus // per_run
    assert runs_per_node >= 1
    assert math.ceil(gpu_limit / runs_per_node) <= default(hcl, "gpu_node_max_size")


def test_kubernetes_version_is_the_one_the_chart_is_validated_against(
    hcl: dict[str, dict[str, Any]],
) -> None:
    version = default(hcl, "kubernetes_version")
    assert version == "1.35"
    assert KUBE_VERSION.rsplit(".", 1)[0] == version  # the schemas the chart tests use
    example = (TERRAFORM / "terraform.tfvars.example").read_text()
    assert re.search(rf'kubernetes_version\s*=\s*"{re.escape(version)}"', example)
    # The autoscaler's minor version must be the cluster's.
    tag = default(hcl, "cluster_autoscaler_image_tag")
    assert tag.removeprefix("v").split(".")[:2] == version.split(".")


# --- add-ons -----------------------------------------------------------------------------------

ADDON_CHARTS = {
    "aws-load-balancer-controller": "https://aws.github.io/eks-charts",
    "metrics-server": "https://kubernetes-sigs.github.io/metrics-server/",
    "cluster-autoscaler": "https://kubernetes.github.io/autoscaler",
    "nvidia-device-plugin": "https://nvidia.github.io/k8s-device-plugin",
}


def test_addons_are_pinned_helm_releases(hcl: dict[str, dict[str, Any]]) -> None:
    releases = {strip(r["chart"]): r for r in resources(hcl, "helm_release").values()}
    assert set(releases) == set(ADDON_CHARTS)
    for chart, release in releases.items():
        assert strip(release["repository"]) == ADDON_CHARTS[chart]
        assert re.fullmatch(r"\d+\.\d+\.\d+", strip(release["version"])), chart
        assert strip(release["namespace"]) == "kube-system"
    plugin = releases["nvidia-device-plugin"]
    assert "var.enable_gpu_node_group" in strip(plugin["count"])


@pytest.mark.parametrize(
    ("release", "irsa", "account"),
    [
        ("aws_load_balancer_controller", "load_balancer_controller_irsa", "serviceAccount"),
        ("cluster_autoscaler", "cluster_autoscaler_irsa", "rbac"),
    ],
)
def test_addon_service_accounts_get_their_iam_roles(
    hcl: dict[str, dict[str, Any]], release: str, irsa: str, account: str
) -> None:
    values = strip(resources(hcl, "helm_release")[release]["values"])
    assert f"module.{irsa}.iam_role_arn" in values
    role = blocks(hcl, TERRAFORM, "module")[irsa]
    bound = json.dumps(role["oidc_providers"])
    names = re.findall(r"'name': '\$\{(local\.[a-z_]+)\}'", values)
    assert names, values
    assert f"kube-system:${{{names[0]}}}" in bound


def test_ebs_driver_and_default_gp3_class(
    hcl: dict[str, dict[str, Any]], renderings: dict[str, Rendered]
) -> None:
    addons = strip(blocks(hcl, TERRAFORM, "module")["eks"]["cluster_addons"])
    assert "module.ebs_csi_irsa.iam_role_arn" in json.dumps(addons["aws-ebs-csi-driver"])
    classes = {
        strip(strip(c["metadata"])["name"]): c
        for c in resources(hcl, "kubernetes_storage_class_v1").values()
    }
    gp3 = classes["gp3"]
    assert strip(strip(gp3["metadata"])["annotations"]) == {
        "storageclass.kubernetes.io/is-default-class": "true"
    }
    assert strip(gp3["storage_provisioner"]) == "ebs.csi.aws.com"
    assert strip(gp3["parameters"])["type"] == "gp3"
    assert strip(gp3["volume_binding_mode"]) == "WaitForFirstConsumer"
    # Every class the production release asks for exists.
    wanted = set()
    for doc in production(renderings).docs:
        if doc["kind"] == "PersistentVolumeClaim":
            wanted.add(doc["spec"].get("storageClassName"))
        elif doc["kind"] == "StatefulSet":
            for template in doc["spec"].get("volumeClaimTemplates", []):
                wanted.add(template["spec"].get("storageClassName"))
    assert wanted and wanted <= set(classes), wanted - set(classes)


def test_namespace_is_created_here_not_by_the_deploy(hcl: dict[str, dict[str, Any]]) -> None:
    """The deploy role acts in the release's namespace only, so it cannot create namespaces:
    Terraform does, and the deploy must not try."""
    namespace = strip(resources(hcl, "kubernetes_namespace_v1")["stockops"]["metadata"])
    assert strip(namespace["name"]) == "${var.kubernetes_namespace}"
    binding = strip(resources(hcl, "kubernetes_role_binding_v1")["deployers"]["metadata"])
    assert strip(binding["namespace"]) == "${kubernetes_namespace_v1.stockops.metadata[0].name}"
    deploy = (WORKFLOWS / "deploy.yml").read_text()
    assert "helm upgrade" in deploy and "--create-namespace" not in deploy
    assert f"--namespace {default(hcl, 'kubernetes_namespace')}" in deploy


# The built-in `admin` ClusterRole's rules for the API groups the chart's Roles use, as the
# Kubernetes RBAC bootstrap policy defines it (admin aggregates edit, which aggregates view):
# https://kubernetes.io/docs/reference/access-authn-authz/rbac/#user-facing-roles and
# plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go in kubernetes/kubernetes.
ADMIN_RULES: list[dict[str, list[str]]] = [
    {"apiGroups": ["batch"], "resources": ["cronjobs", "jobs"],
     "verbs": ["create", "delete", "deletecollection", "patch", "update", "get", "list", "watch"]},
    {"apiGroups": ["batch"], "resources": ["cronjobs/status", "jobs/status"],
     "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods", "pods/attach", "pods/exec", "pods/portforward",
                                      "pods/proxy"],
     "verbs": ["create", "delete", "deletecollection", "patch", "update", "get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods/log", "pods/status", "events"],
     "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"],
     "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]},
]  # fmt: skip


def covers(owner: list[dict[str, list[str]]], rule: dict[str, list[str]]) -> bool:
    """Kubernetes' escalation check (rbac/validation Covers): every (group, resource, verb) the
    rule grants must be granted by one of the owner's rules."""

    def has(values: list[str], value: str) -> bool:
        return "*" in values or value in values

    return all(
        any(
            has(o["apiGroups"], group) and has(o["resources"], resource) and has(o["verbs"], verb)
            for o in owner
        )
        for group in rule.get("apiGroups", [""])
        for resource in rule["resources"]
        for verb in rule["verbs"]
    )


def test_the_deploy_role_holds_the_charts_role_through_rbac(
    hcl: dict[str, dict[str, Any]], renderings: dict[str, Rendered]
) -> None:
    """The API server lets a user create or update a Role or RoleBinding only when the user
    already holds every permission in it through RBAC, or has `escalate`/`bind`
    (https://kubernetes.io/docs/reference/access-authn-authz/rbac/#privilege-escalation-prevention-and-bootstrapping).
    EKS access policies are an authorizer of their own: what they grant does not count for that
    check, and AmazonEKSAdminPolicy has neither verb, so the deploy role needs its namespace
    permissions as an RBAC binding (https://docs.aws.amazon.com/eks/latest/userguide/access-policies.html:
    "to grant ... permissions not included in an access policy, use Kubernetes RBAC with the
    access entry's Kubernetes groups"). The role's group is bound to `admin` in the namespace,
    and `admin` must cover every rule of every Role the chart renders."""
    (entry,) = strip(blocks(hcl, TERRAFORM, "module")["eks"]["access_entries"]).values()
    entry = strip(entry)
    assert "policy_associations" not in entry, "the permissions must come from RBAC"
    assert strip(entry["kubernetes_groups"]) == "${local.deployer_group}"
    binding = resources(hcl, "kubernetes_role_binding_v1")["deployers"]
    role_ref, subject = strip(binding["role_ref"]), strip(binding["subject"])
    assert (strip(role_ref["kind"]), strip(role_ref["name"])) == ("ClusterRole", "admin")
    assert (strip(subject["kind"]), strip(subject["name"])) == ("Group", "${local.deployer_group}")
    roles = [role for r in renderings.values() for role in r.of_kind("Role")]
    assert roles, "no Role rendered: nothing checked"
    for role in roles:
        for rule in role["rules"]:
            assert covers(ADMIN_RULES, rule), f"{role['metadata']['name']}: {rule}"
    # The chart's RoleBinding itself: creating it needs the same permissions, and the
    # rolebindings verbs.
    assert covers(ADMIN_RULES, {"apiGroups": ["rbac.authorization.k8s.io"],
                                "resources": ["roles", "rolebindings"],
                                "verbs": ["create", "update", "patch", "delete"]})  # fmt: skip


def test_the_escalation_check_refuses_what_admin_lacks() -> None:
    """The check above can fail: a Role asking for what admin does not hold is refused."""
    assert not covers(ADMIN_RULES, {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]})
    assert not covers(ADMIN_RULES, {"apiGroups": ["batch"], "resources": ["jobs"],
                                    "verbs": ["escalate"]})  # fmt: skip


CLUSTER_SCOPED = {
    "APIService",
    "CSIDriver",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "PersistentVolume",
    "PriorityClass",
    "RuntimeClass",
    "StorageClass",
    "ValidatingWebhookConfiguration",
}


def test_the_deploy_role_may_apply_everything_the_release_renders(
    renderings: dict[str, Rendered],
) -> None:
    """The deploy role is an admin of the release's namespace only: a cluster-scoped object in the
    chart (or the namespace itself) would fail every `helm upgrade`; Terraform owns those."""
    for rendering in renderings.values():
        kinds = {doc["kind"] for doc in rendering.docs}
        assert not kinds & CLUSTER_SCOPED, f"{rendering.name}: {kinds & CLUSTER_SCOPED}"


# --- Postgres credentials ---------------------------------------------------------------------


def secret_keys_read(rendering: Rendered, secret: str) -> set[str]:
    """Keys of one Secret the rendered release reads, from env entries anywhere (pods, the
    run launcher's config, the GPU run tags)."""
    text = json.dumps(rendering.docs)
    instance = json.dumps(rendering.instance())
    keys = set()
    for blob in (text, instance):
        for match in re.finditer(r"\{[^{}]*\}", blob.replace("\\", "")):
            fragment = match.group(0)
            if f'"{secret}"' in fragment and '"key"' in fragment:
                keys |= set(re.findall(r'"key": "([^"]+)"', fragment))
    return keys


def test_postgres_password_is_not_rotated_under_the_pods(
    hcl: dict[str, dict[str, Any]], renderings: dict[str, Rendered]
) -> None:
    """Pods read the password once, at start. RDS-managed master passwords rotate every 7 days:
    within a week every new connection would fail. The password is Terraform's, kept in the
    Kubernetes Secret the chart reads and in a secret nobody rotates automatically."""
    (database,) = resources(hcl, "aws_db_instance").values()
    assert strip(database.get("manage_master_user_password", False)) is not True
    assert strip(database["password"]) == "${random_password.postgres.result}"
    assert not resources(hcl, "aws_secretsmanager_secret_rotation")
    password = resources(hcl, "random_password")["postgres"]
    assert strip(password["special"]) is False  # safe in URLs as it is

    secret = strip(resources(hcl, "kubernetes_secret_v1")["postgresql"]["metadata"])
    name_ref = strip(secret["name"])
    assert name_ref == "${local.postgresql_secret_name}"
    rds_locals = {k: strip(v) for block in hcl["rds.tf"]["locals"] for k, v in block.items()}
    name = rds_locals["postgresql_secret_name"]
    provided = set(strip(rds_locals["postgresql_secret_data"]))
    read = secret_keys_read(production(renderings), name)
    assert read, f"the production release reads no key of {name}"
    assert read <= provided, read - provided
    readme = (TERRAFORM / "README.md").read_text()
    assert f"`{name}`" in readme
    for key in provided:
        assert f"`{key}`" in readme, f"terraform/README.md does not document {key}"


# --- buckets, auth ----------------------------------------------------------------------------


def test_every_bucket_is_used(hcl: dict[str, dict[str, Any]]) -> None:
    """A bucket nobody can read is not storage (the Feast one was never used: Feast's offline
    store reads the shared volume, its registry is in Postgres, its online store in Redis)."""
    modules = blocks(hcl, TERRAFORM, "module")
    buckets = [n for n, m in modules.items() if strip(m["source"]) == "./modules/s3_bucket"]
    policy = json.dumps(resources(hcl, "data.aws_iam_policy_document")["workload"])
    outputs = json.dumps(blocks(hcl, TERRAFORM, "output"))
    for bucket in buckets:
        if bucket == "access_logs":
            continue
        assert f"module.{bucket}.bucket_arn" in policy, f"{bucket}: no pod may use it"
        assert f"module.{bucket}" in outputs, f"{bucket}: the chart cannot be told about it"
    assert not [b for b in buckets if "feast" in b]


def test_cognito_login_for_the_operator_uis(hcl: dict[str, dict[str, Any]]) -> None:
    client = resources(hcl, "aws_cognito_user_pool_client")["alb"]
    assert strip(client["generate_secret"]) is True
    assert strip(client["allowed_oauth_flows"]) == "code"
    assert "/oauth2/idpresponse" in strip(client["callback_urls"])
    pool = resources(hcl, "aws_cognito_user_pool")["operators"]
    assert strip(strip(pool["admin_create_user_config"])["allow_admin_create_user_only"]) is True
    annotations = strip(blocks(hcl, TERRAFORM, "output")["alb_auth_annotations"]["value"])
    for key in ("auth-type", "auth-idp-cognito", "auth-on-unauthenticated-request"):
        assert f"alb.ingress.kubernetes.io/{key}" in annotations
    for field in ("userPoolARN", "userPoolClientID", "userPoolDomain"):
        assert field in annotations


def test_ecr_repositories_cover_every_image(hcl: dict[str, dict[str, Any]]) -> None:
    repositories = strip(blocks(hcl, TERRAFORM, "variable")["ecr_repositories"]["default"])
    images = {p.name.removesuffix(".Dockerfile") for p in (ROOT / "docker").glob("*.Dockerfile")}
    assert {strip(r) for r in repositories} == images
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    chart_repositories = {
        values["dagster"]["webserver"]["image"]["repository"],
        values["dagster"]["userCode"]["image"]["repository"],
        values["runs"]["gpu"]["image"]["repository"],
        values["api"]["image"]["repository"],
        values["streamlit"]["image"]["repository"],
    }
    assert chart_repositories == {f"stockops/{image}" for image in images}


# --- derived values, versions, the private endpoint, GPU ----------------------------------


@pytest.mark.parametrize(
    ("version", "family"), [("16", "postgres16"), ("16.4", "postgres16"), ("17", "postgres17")]
)
def test_rds_parameter_group_family_follows_the_engine_version(
    hcl: dict[str, dict[str, Any]], sandbox: Sandbox, version: str, family: str
) -> None:
    """A hard-coded postgres16 family failed any apply that changed the major version."""
    assert sandbox.evaluate("local.rds_parameter_group_family", rds_engine_version=version) == (
        family
    )
    group = resources(hcl, "aws_db_parameter_group")["postgres"]
    assert strip(group["family"]) == "${local.rds_parameter_group_family}"
    assert "local.rds_parameter_group_family" in strip(group["name_prefix"])
    assert sandbox.plan(rds_engine_version="sixteen").returncode != 0


def test_terraform_version_admits_the_backends_lock_file(hcl: dict[str, dict[str, Any]]) -> None:
    """backend.hcl.example locks the state with use_lockfile, which Terraform 1.10 brought."""
    (terraform_block,) = hcl["versions.tf"]["terraform"]
    required = strip(terraform_block["required_version"])
    match = re.fullmatch(r">=\s*(\d+)\.(\d+)\.\d+", required)
    assert match, required
    example = (TERRAFORM / "backend.hcl.example").read_text()
    if re.search(r"^use_lockfile\s*=\s*true", example, re.M):
        assert (int(match.group(1)), int(match.group(2))) >= (1, 10), required
    ci = workflow("ci.yml")["jobs"]["test"]["steps"]
    (setup,) = [s for s in ci if s.get("uses", "").startswith("hashicorp/setup-terraform@")]
    assert tuple(map(int, setup["with"]["terraform_version"].split(".")[:2])) >= (1, 10)


def test_private_endpoint_admits_the_listed_ranges(
    hcl: dict[str, dict[str, Any]], sandbox: Sandbox
) -> None:
    """A self-hosted deploy runner on the private endpoint: the cluster security group admits
    only the nodes unless its range is listed (https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html:
    "the cluster security group must allow ingress on port 443 from the source")."""
    eks = blocks(hcl, TERRAFORM, "module")["eks"]
    assert strip(eks["cluster_security_group_additional_rules"]) == (
        "${local.cluster_endpoint_private_rules}"
    )
    rules = sandbox.evaluate(
        "local.cluster_endpoint_private_rules",
        cluster_endpoint_private_access_cidrs=["10.20.0.0/24", "192.168.7.0/24"],
    )
    assert sorted(r["cidr_blocks"][0] for r in rules.values()) == ["10.20.0.0/24", "192.168.7.0/24"]
    for rule in rules.values():
        assert (rule["type"], rule["protocol"], rule["from_port"], rule["to_port"]) == (
            "ingress", "tcp", 443, 443,
        )  # fmt: skip
    assert sandbox.evaluate("local.cluster_endpoint_private_rules") == {}
    refused = sandbox.plan(cluster_endpoint_private_access_cidrs=["0.0.0.0/0"])
    assert refused.returncode != 0


def test_the_deploy_job_has_no_fallback_runner() -> None:
    """A GitHub-hosted runner has no fixed address: falling back to one timed out at the
    endpoint. The runner is a required variable that a preflight job checks."""
    deploy = workflow("deploy.yml")
    assert deploy["jobs"]["deploy"]["runs-on"] == "${{ vars.DEPLOY_RUNNER }}"
    preflight = deploy["jobs"]["preflight"]
    script = "\n".join(s.get("run", "") for s in preflight["steps"])
    assert "DEPLOY_RUNNER" in script and "exit 1" in script
    assert deploy["jobs"]["images"]["needs"] == "preflight"


def test_gpu_runs_follow_the_gpu_node_group(hcl: dict[str, dict[str, Any]]) -> None:
    """GPU runs without the GPU node group stay Pending until their start timeout: the chart's
    runs.gpu.enabled comes from Terraform's output in the deploy, and the example agrees."""
    outputs = blocks(hcl, TERRAFORM, "output")
    assert strip(outputs["gpu_runs_enabled"]["value"]) == "${var.enable_gpu_node_group}"
    script = next(
        s["run"] for s in workflow("deploy.yml")["jobs"]["deploy"]["steps"]
        if "helm upgrade" in s.get("run", "")
    )  # fmt: skip
    assert '--set "runs.gpu.enabled=${GPU_RUNS_ENABLED}"' in script
    example = (TERRAFORM / "terraform.tfvars.example").read_text()
    enabled = re.search(r"^enable_gpu_node_group\s*=\s*(true|false)", example, re.M)
    assert enabled, "the example sets enable_gpu_node_group"
    production = yaml.safe_load((CHART / "values-production.yaml").read_text())
    assert production["runs"]["gpu"]["enabled"] == (enabled.group(1) == "true")
