"""``POST /analyze`` on a trained (tiny) AAPL champion: a report written by the local LLM, then
the same report from the semantic cache; 202 for a ticker without a model; a Qdrant folder
locked by another process degrades to no cache instead of failing; metrics and reset."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from agent_graph.service import AnalystService
from devkit.platform import TRAINED_TICKER as TICKER
from devkit.platform import TinyPlatform as Platform
from devkit.servers import REDIS_URL, delete_redis_keys, redis_prefix
from devkit.sizes import TINY_RUNS
from serving_api.app import create_app
from stock_assets import names
from tests.serving_api.launchers import RecordingLauncher

pytestmark = pytest.mark.slow
ADMIN = "admin-secret"


@pytest.fixture(scope="module")
def prefix() -> Iterator[str]:
    value = redis_prefix()
    yield value
    delete_redis_keys(value)


def _client(platform: Platform, prefix: str, launcher: object, **overrides: object) -> TestClient:
    settings = platform.settings.model_copy(
        update={"redis_url": REDIS_URL, "redis_key_prefix": prefix, **overrides}
    )
    agents = overrides.pop("agents", None)
    app = create_app(
        settings,
        instance=platform.instance,
        launcher=launcher,  # type: ignore[arg-type]
        run_config_overrides=TINY_RUNS,
        agents=agents,  # type: ignore[arg-type]
    )
    return TestClient(app)


def test_analyze_writes_then_serves_from_the_semantic_cache(trained: Platform, prefix: str) -> None:
    launcher = RecordingLauncher()
    settings_update = {"admin_token": SecretStr(ADMIN)}
    with _client(trained, prefix, launcher, **settings_update) as client:
        body = {"ticker": "aapl", "question": "Should I worry about the downside?", "refresh": True}
        cold = client.post("/analyze", json=body)
        assert cold.status_code == 200, cold.text
        answer = cold.json()
        assert answer["ticker"] == TICKER and answer["as_of"] == "2013-03-01"
        assert answer["cache_hit"] is False and answer["cache_status"] == "ok"
        forecast = client.post("/predict-child", json={"ticker": TICKER}).json()
        assert answer["forecast"] | {"cache_hit": True} == forecast | {"cache_hit": True}
        report, evaluation = answer["report"], answer["evaluation"]
        counts = evaluation["sentences"]
        assert report["unverified_numbers"] == 0
        assert list(report["sections"]) == [
            "answer",
            "summary",
            names.FORECAST,
            "model_quality",
            "market_context",
            "risks",
            "disclaimer",
        ]
        # The question is answered first, from the facts about risk.
        assert report["question"]["answered"] and report["question"]["topics"] == ["risk"]
        assert report["sections"]["answer"].startswith("**Asked:** Should I worry")
        assert "On the risks, the facts point to these." in report["sections"]["answer"] or (
            report["paragraphs"][1]["source"] != "code"
        )
        # Who wrote each sentence, and the gate's count of the model's sentences.
        published = [s for p in report["paragraphs"] for s in p["sentences"]]
        assert published and {s["source"] for s in published} <= {"model", "code"}
        assert counts["generated"] == counts["admitted"] + counts["dropped"] == len(report["gate"])
        assert counts["generated"] > 0 and evaluation["grounded"] == 1.0
        assert (report["writer"] == "llm") == (counts["published_model"] > 0)
        assert report["stance"] in {"bullish", "bearish", "neutral"}
        assert 0 <= report["confidence"] <= 1
        assert evaluation["faithfulness"] == 1.0, evaluation["unsupported_claims"]
        assert evaluation["section_coverage"] == 1.0
        assert evaluation["claims"] > 0 and evaluation["unsupported_claims"] == []
        # Skill in the same words as the forecast's: the promotion decision's own sentence.
        assert forecast["skill"] and forecast["skill"] in report["sections"]["model_quality"]
        # The indicators came from the Feast online store (what serving reads), of the same
        # session as the forecast.
        assert answer["features"] == {
            "source": "online store",
            "session": "2013-03-01",
            "fresh": True,
            "note": None,
        }

        started = time.perf_counter()
        warm = client.post("/analyze", json={**body, "refresh": False, "ticker": "AAPL"})
        elapsed = time.perf_counter() - started
        assert warm.status_code == 200 and warm.json()["cache_hit"] is True
        assert warm.json()["report"] == report and elapsed < 2.0
        other = client.post("/analyze", json={"ticker": "AAPL", "question": "x" * 501})
        assert other.status_code == 422

        metrics = client.get("/metrics").text
        assert f'stockops_report_faithfulness{{ticker="{TICKER}"}} 1.0' in metrics
        assert f'stockops_report_section_coverage{{ticker="{TICKER}"}} 1.0' in metrics
        assert f'stockops_report_unsupported_claims{{ticker="{TICKER}"}} 0.0' in metrics
        claims_line = f'stockops_report_claims{{ticker="{TICKER}"}} {float(evaluation["claims"])}'
        assert claims_line in metrics
        assert 'stockops_api_report_cache_total{result="hit"} 1.0' in metrics
        generated = float(counts["generated"])
        assert f'stockops_report_sentences_generated{{ticker="{TICKER}"}} {generated}' in metrics
        assert f'stockops_report_question_answered{{ticker="{TICKER}"}} 1.0' in metrics
        assert f'stockops_report_grounded{{ticker="{TICKER}"}} 1.0' in metrics

        # A ticker without a model: its onboarding, as /predict-child does. The parent exists,
        # so the plan is a single run, from MSFT's data to its forecast.
        accepted = client.post("/analyze", json={"ticker": "MSFT"})
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["ticker"] == "MSFT" and accepted.json()["task_id"]
        assert accepted.headers["location"] == accepted.json()["status_url"]
        (first,) = launcher.specs
        assert (first.job_name, first.partition) == (names.ONBOARD_TICKER_JOB, "MSFT")
        assert client.post("/analyze", json={"ticker": "../etc"}).status_code == 422

        # Reset drops the reports and the collection; the next request is computed again.
        reset = client.delete("/system/reset", headers={"X-Admin-Token": ADMIN})
        assert reset.status_code == 200, reset.text
        assert any(p.endswith("reports") for p in reset.json()["paths_deleted"])
        assert "stockops_report_faithfulness{" not in client.get("/metrics").text


def test_locked_qdrant_folder_degrades_to_no_cache(
    trained: Platform, prefix: str, tmp_path: Path
) -> None:
    folder = tmp_path / "qdrant"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nfrom qdrant_client import QdrantClient\n"
            f"c = QdrantClient(path={str(folder)!r})\nprint('ready', flush=True)\ntime.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        settings = trained.settings.model_copy(update={"qdrant_path": folder})
        # The deterministic writer keeps this test quick; the LLM path is tested above.
        agents = AnalystService(settings, llm=None, use_default_llm=False)
        with _client(
            trained, prefix, RecordingLauncher(), qdrant_path=folder, agents=agents
        ) as client:
            answer = client.post("/analyze", json={"ticker": TICKER})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["cache_hit"] is False
            assert body["cache_status"].startswith("unavailable:")
            assert body["report"]["writer"] == "deterministic"
            assert body["evaluation"]["faithfulness"] == 1.0
            metrics = client.get("/metrics").text
            assert 'stockops_api_report_cache_total{result="unavailable"} 1.0' in metrics
    finally:
        holder.kill()
        holder.wait()
