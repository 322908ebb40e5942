"""checkov on the rendered manifests (both values files and the run pods' Jobs), on Terraform,
and on the Dockerfiles and workflows.

Zero findings: every accepted exception is suppressed where it lives, with its reason (checkov.io
annotations in the chart, #checkov:skip comments in Terraform), and counted as skipped here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.manifests import ROOT, checkov_binary, run


def scan(directories: list[Path], *frameworks: str) -> list[dict[str, Any]]:
    folders = [arg for d in directories for arg in ("-d", str(d))]
    result = run(
        [
            checkov_binary(),
            *folders,
            "--framework",
            *frameworks,
            "--skip-download",
            "--compact",
            "--quiet",
            "--output",
            "json",
        ],
        timeout=300,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    # One JSON document per folder (a report, or a list of reports per framework).
    decoder, text, reports = json.JSONDecoder(), result.stdout.strip(), []
    while text:
        document, end = decoder.raw_decode(text)
        reports.extend(document if isinstance(document, list) else [document])
        text = text[end:].strip()
    return reports


def findings(reports: list[dict[str, Any]]) -> list[str]:
    return [
        f"{check['check_id']} {check['resource']} ({check['file_path']})"
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]


def test_rendered_manifests_and_run_jobs(rendered_dir: Path, run_jobs: dict[str, Any]) -> None:
    assert len(list(rendered_dir.glob("*/run-job-*.yaml"))) == len(run_jobs)
    reports = scan([rendered_dir], "kubernetes")
    assert findings(reports) == []
    (summary,) = [r["summary"] for r in reports]
    assert summary["passed"] > 500  # the scan really covered the manifests
    assert summary["resource_count"] >= 60


def test_terraform() -> None:
    reports = scan([ROOT / "terraform"], "terraform")
    assert findings(reports) == []
    summary = reports[0]["summary"]
    assert summary["passed"] > 100
    # Local modules (ECR, S3) are scanned too, not just the root.
    if not summary.get("resource_count"):
        pytest.fail("checkov saw no Terraform resources")


def test_dockerfiles_and_workflows() -> None:
    """Beyond hadolint and actionlint: checkov's Dockerfile and GitHub Actions policies."""
    reports = scan([ROOT / "docker", ROOT / ".github"], "dockerfile", "github_actions")
    assert findings(reports) == []
    assert {r["check_type"] for r in reports} == {"dockerfile", "github_actions"}
