"""Terraform's own plan of the parts of the root module that need only the AWS provider: the KMS
key with the Auto Scaling service-linked role its policy names, the ECR repositories with their
lifecycle policy, and the S3 buckets.

The AWS provider plans offline (no credentials, no API call for resources that do not exist
yet). It comes from the filesystem mirror at $STOCKOPS_TF_PLUGIN_MIRROR (default
/opt/tf-plugins) where there is one, else from the Terraform registry; without either the tests
skip, and fail under CI. The blocks planned are copied verbatim from the root module (kms.tf
whole, the module calls of storage.tf), with the account's identity given as locals.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.required_tools import require_tool, under_ci

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
ACCOUNT = "123456789012"
SLR_ARN = (
    f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/"
    "AWSServiceRoleForAutoScaling"
)
STORAGE_MODULES = ("ecr", "access_logs", "mlflow_artifacts")


def block(text: str, header: str) -> str:
    """The HCL block that starts with ``header`` (up to its matching brace)."""
    start = text.index(header)
    depth = 0
    for index in range(text.index("{", start), len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[start : index + 1]
    raise ValueError(f"{header}: unbalanced braces")


def aws_constraint() -> str:
    versions = (TERRAFORM / "versions.tf").read_text()
    aws = block(versions, "aws = {")
    match = re.search(r'version\s*=\s*"([^"]+)"', aws)
    assert match, aws
    return match.group(1)


class Plan:
    """`terraform plan` of a sandbox module, as `terraform show -json` gives it."""

    def __init__(self, folder: Path, variables: dict[str, Any]) -> None:
        terraform = require_tool("terraform")
        mirror = Path(os.environ.get("STOCKOPS_TF_PLUGIN_MIRROR", "/opt/tf-plugins"))
        config = folder / "cli.tfrc"
        if mirror.is_dir():
            config.write_text(
                "provider_installation {\n"
                f'  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n'
                "}\n"
            )
        else:
            config.write_text("")
        env = {
            "TF_CLI_CONFIG_FILE": str(config), "TF_IN_AUTOMATION": "1", "HOME": str(folder),
            "PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true",
        }  # fmt: skip

        def call(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [terraform, *args], cwd=folder, env=env, capture_output=True, text=True,
                timeout=300, check=False,
            )  # fmt: skip

        init = call("init", "-backend=false", "-input=false", "-no-color")
        if init.returncode != 0:
            message = f"the AWS provider cannot be installed here: {init.stderr[-600:]}"
            if under_ci():
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        flags = [f"-var={k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in
                 variables.items()]  # fmt: skip
        plan = call("plan", "-input=false", "-no-color", "-out=plan.bin", *flags)
        assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
        shown = call("show", "-json", "plan.bin")
        assert shown.returncode == 0, shown.stderr
        self.data: dict[str, Any] = json.loads(shown.stdout)

    def changes(self) -> dict[str, dict[str, Any]]:
        return {c["address"]: c["change"] for c in self.data["resource_changes"]}

    def references(self, address: str) -> list[str]:
        """Every reference in the configuration of one root resource or data source."""
        (resource,) = [
            r for r in self.data["configuration"]["root_module"]["resources"]
            if r["address"] == address
        ]  # fmt: skip
        return re.findall(r'"references": \[([^\]]*)\]', json.dumps(resource["expressions"]))


def sandbox(folder: Path) -> Path:
    """kms.tf, variables.tf and the storage module calls, with the account as locals."""
    for name in ("kms.tf", "variables.tf"):
        shutil.copy(TERRAFORM / name, folder / name)
    shutil.copytree(TERRAFORM / "modules", folder / "modules")
    storage = (TERRAFORM / "storage.tf").read_text()
    calls = "\n\n".join(block(storage, f'module "{name}" {{') for name in STORAGE_MODULES)
    (folder / "storage.tf").write_text(calls + "\n")
    (folder / "sandbox.tf").write_text(
        f"""terraform {{
  required_providers {{
    aws = {{ source = "hashicorp/aws", version = "{aws_constraint()}" }}
  }}
}}
provider "aws" {{
  region                      = var.region
  access_key                  = "offline"
  secret_key                  = "offline"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}}
locals {{
  name       = "${{var.project}}-${{var.environment}}"
  account_id = "{ACCOUNT}"
  partition  = "aws"
}}
"""
    )
    return folder


REQUIRED = {"cluster_endpoint_public_access_cidrs": ["203.0.113.0/24"]}


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Plan]:
    """The new account (defaults), and an account that has the service-linked role."""
    return {
        "new-account": Plan(sandbox(tmp_path_factory.mktemp("plan-new")), REQUIRED),
        "role-exists": Plan(
            sandbox(tmp_path_factory.mktemp("plan-existing")),
            {**REQUIRED, "create_autoscaling_service_linked_role": False},
        ),
    }


def kms_principals(change: dict[str, Any]) -> list[str]:
    policy = json.loads(change["after"]["policy"])
    found = []
    for statement in policy["Statement"]:
        principal = statement["Principal"].get("AWS", [])
        found += [principal] if isinstance(principal, str) else principal
    return found


def test_new_account_creates_the_autoscaling_role_before_the_key(plans: dict[str, Plan]) -> None:
    """KMS rejects a key policy that names a principal that does not exist yet
    (MalformedPolicyDocumentException: https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html),
    and AWS creates AWSServiceRoleForAutoScaling only with the account's first Auto Scaling
    group (https://docs.aws.amazon.com/autoscaling/ec2/userguide/autoscaling-service-linked-role.html),
    which the node groups create after the key. So in a new account Terraform must create the
    role and order the key after it: the key's policy is only known once the role exists."""
    plan = plans["new-account"]
    changes = plan.changes()
    role = changes["aws_iam_service_linked_role.autoscaling[0]"]
    assert role["actions"] == ["create"]
    assert role["after"]["aws_service_name"] == "autoscaling.amazonaws.com"
    key = changes["aws_kms_key.main"]
    # The account and partition are constants here: the role's ARN is the only value of the
    # policy that exists only once the role is created, so an unknown policy means Terraform
    # creates the key after the role (the account whose role exists plans it known, below).
    assert key["after_unknown"].get("policy") is True, "the key's policy does not wait for the role"
    assert "local.autoscaling_service_role_arn" in "".join(
        plan.references("data.aws_iam_policy_document.kms")
    )


def test_existing_role_is_named_not_created(plans: dict[str, Plan]) -> None:
    changes = plans["role-exists"].changes()
    assert not [a for a in changes if a.startswith("aws_iam_service_linked_role")]
    assert not changes["aws_kms_key.main"]["after_unknown"].get("policy")
    assert SLR_ARN in kms_principals(changes["aws_kms_key.main"])


# --- ECR: what the lifecycle policy expires ------------------------------------------------


def lifecycle_expired(policy: dict[str, Any], images: list[dict[str, Any]]) -> set[str]:
    """The images an ECR lifecycle policy expires, by the documented rules
    (https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html): rules in
    ascending rulePriority; an image is selected by the first rule whose tag selection matches
    it and by no later rule; `imageCountMoreThan` expires the oldest pushes beyond the count
    among the images of its rule; `tagPatternList` wildcards (`*`) must all match one of the
    image's tags; `any` matches every image. Images are {"digest", "tags", "pushed"}."""
    claimed: set[str] = set()
    expired: set[str] = set()
    for rule in sorted(policy["rules"], key=lambda r: r["rulePriority"]):
        selection = rule["selection"]

        def matches(image: dict[str, Any], selection: dict[str, Any] = selection) -> bool:
            status = selection["tagStatus"]
            if status == "untagged":
                return not image["tags"]
            if status == "any":
                return True
            patterns = selection.get("tagPatternList", [])
            prefixes = selection.get("tagPrefixList", [])
            return (
                bool(image["tags"])
                and all(any(fnmatch.fnmatchcase(t, p) for t in image["tags"]) for p in patterns)
                and all(any(t.startswith(p) for t in image["tags"]) for p in prefixes)
            )

        chosen = [i for i in images if i["digest"] not in claimed and matches(i)]
        claimed |= {i["digest"] for i in chosen}
        chosen.sort(key=lambda i: i["pushed"], reverse=True)
        if selection["countType"] == "imageCountMoreThan":
            expired |= {i["digest"] for i in chosen[selection["countNumber"] :]}
    return expired


def push_history(pushes_to_main: int, releases: int) -> list[dict[str, Any]]:
    """user-code's history as images.yml writes it: two images (plain and -cuda) per push to
    main, and per release tag, the releases spread over the pushes."""
    images = []
    every = max(pushes_to_main // max(releases, 1), 1)
    clock = 0
    for push in range(pushes_to_main):
        for suffix in ("", "-cuda"):
            clock += 1
            images.append({"digest": f"c{push}{suffix}", "tags": [f"sha-{push:012x}{suffix}"],
                           "pushed": clock})  # fmt: skip
        if push % every == every - 1 and push // every < releases:
            for suffix in ("", "-cuda"):
                clock += 1
                version = f"v0.{push // every}.0{suffix}"
                images.append({"digest": f"r{push}{suffix}", "tags": [version], "pushed": clock})
    return images


def test_ecr_lifecycle_never_expires_release_images(plans: dict[str, Plan]) -> None:
    """The running release's images, and the one `helm rollback` returns to, are pulled again
    by every new node (GPU nodes start from zero) and rescheduled pod: expiring them breaks
    the running release. Three years of pushes to main (two images each) may not touch them."""
    changes = plans["new-account"].changes()
    policies = {
        address: json.loads(change["after"]["policy"])
        for address, change in changes.items()
        if address.endswith("aws_ecr_lifecycle_policy.this")
    }
    assert len(policies) == 4, sorted(policies)
    for address, policy in policies.items():
        history = push_history(pushes_to_main=1500, releases=40)
        expired = lifecycle_expired(policy, history)
        releases = {i["digest"] for i in history if i["tags"][0].startswith("v")}
        assert not expired & releases, f"{address} expires release images"
        commits = [i for i in history if i["tags"][0].startswith("sha-")]
        kept = [i for i in commits if i["digest"] not in expired]
        assert 0 < len(kept) < len(commits), f"{address}: commit builds are not bounded"
        # The newest commit builds are the ones kept.
        newest = sorted(commits, key=lambda i: i["pushed"])[-len(kept) :]
        assert {i["digest"] for i in kept} == {i["digest"] for i in newest}


def test_the_lifecycle_simulation_catches_a_count_on_any_tag() -> None:
    """The rule the release images used to fall to: the simulation must expire them."""
    selection = {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 200}
    old = {"rules": [{"rulePriority": 2, "selection": selection, "action": {"type": "expire"}}]}
    history = push_history(pushes_to_main=150, releases=10)
    expired = lifecycle_expired(old, history)
    assert {i["digest"] for i in history if i["tags"][0].startswith("v0.0")} <= expired


# --- S3 --------------------------------------------------------------------------------------


def test_access_log_bucket_is_sse_s3_and_the_others_use_the_key(plans: dict[str, Plan]) -> None:
    """S3 delivers server access logs only to a destination bucket whose default encryption is
    SSE-S3 (https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html,
    "Amazon S3 server access log destination bucket ... SSE-KMS is not supported"); with the
    project key the logs were silently never written."""
    changes = plans["new-account"].changes()

    def encryption(module: str) -> tuple[dict[str, Any], dict[str, Any]]:
        change = changes[f"module.{module}.aws_s3_bucket_server_side_encryption_configuration.this"]
        (rule,), (unknown,) = change["after"]["rule"], change["after_unknown"]["rule"]
        return (
            rule["apply_server_side_encryption_by_default"][0],
            unknown["apply_server_side_encryption_by_default"][0],
        )

    logs, _ = encryption("access_logs")
    assert logs["sse_algorithm"] == "AES256" and not logs["kms_master_key_id"]
    # The artifacts bucket takes the project key (known once the key exists).
    _, artifacts = encryption("mlflow_artifacts")
    assert artifacts.get("kms_master_key_id") is True
    logging = changes["module.mlflow_artifacts.aws_s3_bucket_logging.this[0]"]
    assert logging["after_unknown"].get("target_bucket") or logging["after"]["target_bucket"]
