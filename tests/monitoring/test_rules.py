"""The Prometheus config and alert rules, checked and unit-tested by promtool itself."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from stock_assets import names


def _promtool(promtool: str, *args: str, cwd: Path) -> str:
    done = subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_config_is_valid(promtool: str, monitoring_dir: Path) -> None:
    out = _promtool(promtool, "check", "config", "prometheus.yml", cwd=monitoring_dir)
    assert "1 rule files found" in out


def test_rules_are_valid(promtool: str, monitoring_dir: Path) -> None:
    out = _promtool(promtool, "check", "rules", "alerts/stockops.rules.yml", cwd=monitoring_dir)
    assert "SUCCESS" in out


def test_rule_unit_tests_pass(promtool: str, monitoring_dir: Path) -> None:
    out = _promtool(promtool, "test", "rules", "alerts/stockops.rules.test.yml", cwd=monitoring_dir)
    assert "SUCCESS" in out


def test_every_alert_has_a_unit_test(monitoring_dir: Path) -> None:
    rules = yaml.safe_load((monitoring_dir / "alerts" / "stockops.rules.yml").read_text())
    tests = yaml.safe_load((monitoring_dir / "alerts" / "stockops.rules.test.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    firing = {
        case["alertname"]
        for t in tests["tests"]
        for case in t.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert alerts == firing, f"alerts without a firing test: {alerts - firing}"
    wanted = {
        "StockOpsApiDown",
        "StockOpsApiHighErrorRate",
        "StockOpsApiHighLatencyP99",
        "StockOpsDataDriftDetected",
        "StockOpsTrainingRunsFailing",
        "StockOpsModelBelowNaiveBaseline",
        "StockOpsReportFaithfulnessLow",
    }
    assert wanted <= alerts


def test_a_broken_rule_is_caught(promtool: str, tmp_path: Path) -> None:
    """The checks above can fail: promtool rejects an invalid expression."""
    bad = tmp_path / "bad.rules.yml"
    bad.write_text(
        "groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: rate(up[5m]\n"
    )
    done = subprocess.run([promtool, "check", "rules", str(bad)], capture_output=True, check=False)
    assert done.returncode != 0


def test_the_training_alert_watches_every_job_that_trains(monitoring_dir: Path) -> None:
    """A job that trains, added to the name sheet, must be added to the alert too (onboarding
    jobs once went unwatched while they did almost all the training)."""
    rules = yaml.safe_load((monitoring_dir / "alerts" / "stockops.rules.yml").read_text())
    (expr,) = [
        r["expr"]
        for g in rules["groups"]
        for r in g["rules"]
        if r.get("alert") == "StockOpsTrainingRunsFailing"
    ]
    watched = re.search(r'job=~"([^"]+)"', expr)
    assert watched is not None, expr
    assert sorted(watched.group(1).split("|")) == sorted(names.TRAINING_JOBS)
