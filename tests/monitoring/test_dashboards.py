"""Grafana provisioning and dashboards: valid, and every query uses metrics the API exports.

Exported names come from a live ``/metrics`` of the real app (every family the registry and the
state collectors produce) plus the series Prometheus itself adds to each scrape (``up`` ...).
The alert rules are held to the same standard.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml
from fastapi.testclient import TestClient

from serving_api.app import create_app
from stock_assets.settings import Settings

DASHBOARDS = ("system", "api", "models", "agents")
# Series Prometheus attaches to every scrape target.
SCRAPE_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
PROMQL_WORDS = {
    "sum",
    "avg",
    "max",
    "min",
    "count",
    "rate",
    "irate",
    "increase",
    "delta",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "histogram_quantile",
    "time",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "label_values",
    "avg_over_time",
    "max_over_time",
    "abs",
    "topk",
}
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """Metric names of a PromQL expression: label matchers, strings, durations and groupings
    removed, then every identifier that is not a function or keyword."""
    text = re.sub(r"label_values\(([^,()]+),\s*\w+\)", r"\1", expr)  # Grafana variable query
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", text)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\$\w+", "", text)  # Grafana variables
    names = set()
    for match in _IDENT.finditer(text):
        word = match.group()
        rest = text[match.end() :].lstrip()
        if word in PROMQL_WORDS or rest.startswith("("):
            continue
        names.add(word)
    return names


def test_metric_names_parser() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, route) (rate(foo_bucket{route!~"/a|b"}[5m]))) '
        '/ on (job) bar_total > 1 and time() - baz{x="y"} > 4 * 86400'
    )
    assert metric_names(expr) == {"foo_bucket", "bar_total", "baz"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[str]]:
    """Every sample and family name the app's /metrics shows."""
    root = tmp_path_factory.mktemp("exported")
    (root / "dagster").mkdir()
    settings = Settings(
        data_dir=root / "data", redis_key_prefix=f"stockops-test:{uuid.uuid4().hex[:8]}:"
    )
    with (
        dg.instance_for_test(temp_dir=str(root / "dagster")) as instance,
        TestClient(create_app(settings, instance=instance)) as client,
    ):
        client.get("/health")  # at least one request, so request series exist
        text = client.get("/metrics").text
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()[:4]
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
            if kind == "counter" and not name.endswith("_total"):
                names.add(f"{name}_total")
        elif line and not line.startswith("#"):
            names.add(_IDENT.match(line).group())  # type: ignore[union-attr]
    yield names


def _dashboard(monitoring_dir: Path, name: str) -> dict:
    return json.loads((monitoring_dir / "grafana" / "dashboards" / f"{name}.json").read_text())


def _exprs(dashboard: dict) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_provisioning_files_parse(monitoring_dir: Path) -> None:
    provisioning = monitoring_dir / "grafana" / "provisioning"
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus" and source["uid"] == "stockops-prometheus"
    assert source["url"] == "${PROMETHEUS_URL}"  # Grafana's syntax: no shell-style defaults
    boards = yaml.safe_load((provisioning / "dashboards" / "stockops.yaml").read_text())
    assert boards["providers"][0]["type"] == "file"
    for name in DASHBOARDS:
        board = _dashboard(monitoring_dir, name)
        assert board["uid"] == f"stockops-{name}" and board["panels"], name
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == source["uid"], (name, panel["title"])
            assert panel["targets"] and {"x", "y", "w", "h"} <= set(panel["gridPos"])
    ids = [p["id"] for name in DASHBOARDS for p in _dashboard(monitoring_dir, name)["panels"]]
    assert len(ids) > len(DASHBOARDS)


@pytest.mark.parametrize("name", DASHBOARDS)
def test_dashboard_queries_use_exported_metrics(
    name: str, monitoring_dir: Path, exported: set[str]
) -> None:
    board = _dashboard(monitoring_dir, name)
    exprs = _exprs(board) + [
        v["query"]["query"] for v in board["templating"]["list"] if v.get("type") == "query"
    ]
    used = set().union(*(metric_names(e) for e in exprs))
    assert used, name
    unknown = used - exported - SCRAPE_SERIES
    assert not unknown, f"{name}.json queries metrics the API does not export: {sorted(unknown)}"


def test_alert_rules_use_exported_metrics(monitoring_dir: Path, exported: set[str]) -> None:
    rules = yaml.safe_load((monitoring_dir / "alerts" / "stockops.rules.yml").read_text())
    used = set().union(*(metric_names(r["expr"]) for g in rules["groups"] for r in g["rules"]))
    unknown = used - exported - SCRAPE_SERIES
    assert not unknown, f"rules use metrics the API does not export: {sorted(unknown)}"
    assert {"stockops_drift_detected", "stockops_dagster_runs"} <= used


def test_an_unknown_metric_would_be_caught(exported: set[str]) -> None:
    assert metric_names("rate(stockops_not_a_metric_total[5m])") - exported == {
        "stockops_not_a_metric_total"
    }
