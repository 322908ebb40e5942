"""The real thing: the ``agent_report`` Dagster asset on a trained (tiny) AAPL champion, written
by the local SmolLM2 model through llama.cpp, checked, evaluated, stored; the weekly schedule."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import pytest

from agent_graph.report import SECTIONS
from agent_graph.store import read_all, report_path, reports_dir
from devkit.platform import TRAINED_TICKER as TICKER
from devkit.platform import TinyPlatform as Platform
from stock_assets import names
from stock_assets.defs.assets.agents import REPORT_QUALITY_CHECK, agent_report, report_quality
from stock_assets.defs.schedules import weekly_agent_report_schedule
from stock_assets.settings import INDEX_TICKER as INDEX

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def platform(trained: Platform) -> Platform:
    return trained


def test_local_llm_writes_a_checked_report_as_a_dagster_asset(platform: Platform) -> None:
    config = {"write_agent_report": {"config": {"refresh": True}}}
    result = platform.run([agent_report], config, TICKER)
    assert result.success
    meta = {
        k: v.value
        for k, v in result.asset_materializations_for_node("write_agent_report")[0].metadata.items()
    }
    assert meta["llm"] == "local:SmolLM2-135M-Instruct.Q4_1"
    assert meta["faithfulness"] == 1.0 and meta["section_coverage"] == 1.0, meta["report"]
    # The model restated facts; the gate admitted some of its sentences or none, and said so.
    generated, admitted = meta["sentences_generated"], meta["sentences_admitted"]
    assert generated > 0 and admitted + meta["sentences_dropped"] == generated
    assert meta["grounded"] == 1.0
    assert meta["stance"] in {"bullish", "bearish", "neutral"} and meta["cache_hit"] is False
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == REPORT_QUALITY_CHECK and check.passed

    record = json.loads(report_path(platform.settings, TICKER).read_text())
    report, evaluation = record["report"], record["evaluation"]
    assert record["ticker"] == TICKER and record["as_of"] == "2013-03-01"
    assert list(report["sections"]) == list(SECTIONS)
    assert all(report["sections"][k].strip() for k in SECTIONS)
    assert report["unverified_numbers"] == 0 and report["verified_numbers"] > 50
    assert evaluation["faithfulness"] == 1.0 and evaluation["critic_verdict"] in {"pass", "revise"}
    # Faithfulness counts the claims of the prose too, and the served naive forecast has no
    # skill: no sentence may claim skill, certainty or a direction the stance does not take.
    assert evaluation["claims"] > 0 and evaluation["unsupported_claims"] == []
    assert meta["report"] == report["markdown"]
    model = [s for p in report["paragraphs"] for s in p["sentences"] if s["source"] == "model"]
    assert (report["writer"] == "llm") == bool(model)
    disclaimer = report["sections"]["disclaimer"]
    assert ("written by a language model" in disclaimer) == bool(model)
    # The facts the report stands on: the forecast served by the champion.
    assert record["facts"]["model"] == "naive" and len(record["facts"]["forecast"]) == 7
    tools = {t["name"]: t["status"] for t in record["tools"]}
    assert tools["relative_strength"] == "ok" and tools["news_sentiment"] == "skipped"

    # A second materialization with the same data and model is a semantic-cache hit.
    again = platform.run([agent_report], None, TICKER)
    assert again.success
    hit = again.asset_materializations_for_node("write_agent_report")[0].metadata
    assert hit["cache_hit"].value is True
    assert set(read_all(reports_dir(platform.settings))) == {TICKER}


def test_weekly_schedule_asks_for_tickers_with_a_forecast(platform: Platform) -> None:
    when = dt.datetime(2026, 1, 3, 8, tzinfo=dt.UTC)
    context = dg.build_schedule_context(instance=platform.instance, scheduled_execution_time=when)
    requests = list(weekly_agent_report_schedule(context))
    assert [r.partition_key for r in requests] == [TICKER]  # the index has no forecast
    assert INDEX not in {r.partition_key for r in requests}
    assert requests[0].run_key == f"agent_report:2026-W01:{TICKER}"


def test_report_quality_check_fails_on_an_unverified_number_or_a_missing_section() -> None:
    report = {"unverified_numbers": 0}
    full = {"faithfulness": 1.0, "section_coverage": 1.0}
    assert report_quality(report, full).passed
    failed = report_quality({"unverified_numbers": 1}, {**full, "faithfulness": 0.99})
    assert not failed.passed and "1 unverified numbers" in failed.description
    assert not report_quality(report, {**full, "section_coverage": 5 / 6}).passed


def test_code_location_has_the_asset_job_and_schedule() -> None:
    from stock_assets.definitions import defs

    job = defs.resolve_job_def(names.AGENT_REPORT_JOB)  # raises on a name clash with an op
    report = dg.AssetKey(names.AGENT_REPORT)
    assert job.asset_layer.executable_asset_keys == {report}
    schedule = defs.resolve_schedule_def(names.WEEKLY_AGENT_REPORT_SCHEDULE)
    assert schedule.job_name == names.AGENT_REPORT_JOB
    spec = defs.resolve_assets_def(report)
    assert dg.AssetKey(names.FORECAST) in spec.asset_deps[report]
