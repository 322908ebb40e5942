"""The analyst report per ticker: the LangGraph team of ``agent_graph`` on the latest data."""

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import pandas as pd

from agent_graph.store import write_report
from stock_assets import names
from stock_assets.defs.assets.forecasting import FORECAST_KEY
from stock_assets.defs.assets.market import INDICATORS_KEY
from stock_assets.defs.partitions import tickers_partitions
from stock_assets.defs.resources import FeastResource, MLflowResource, ModelStoreResource
from stock_assets.domain.serving import NoModelError, resolve_serving_model
from stock_assets.settings import Settings, get_settings

AGENT_REPORT_KEY = dg.AssetKey(names.AGENT_REPORT)
REPORT_QUALITY_CHECK = "report_quality"

if TYPE_CHECKING:
    from agent_graph.service import AnalystService

# The agent team (LangGraph, the LLM runtime, Qdrant) is imported when a report is written, not
# when the code location loads: every run imports the code location first, and most runs are
# data and training runs that never write a report.
_SERVICES: dict[tuple[str, str], "AnalystService"] = {}
_SERVICES_LOCK = threading.Lock()


def agent_settings(feast: FeastResource, model_store: ModelStoreResource) -> Settings:
    """The process settings with this run's storage: the indicator tables (Feast's file source,
    ``<data_dir>/tables/indicators``) and the model outputs, so a run reads what it was given."""
    data_dir = Path(feast.indicators_dir).parents[1]
    return get_settings().model_copy(
        update={"data_dir": data_dir, "outputs_dir": Path(model_store.outputs_dir)}
    )


def analyst_service(settings: Settings) -> "AnalystService":
    """One service per storage and process: the LLM and the Qdrant client load once."""
    from agent_graph.service import AnalystService

    key = (str(settings.resolved_data_dir), str(settings.resolved_outputs_dir))
    with _SERVICES_LOCK:
        if key not in _SERVICES:
            _SERVICES[key] = AnalystService(settings)
        return _SERVICES[key]


def report_quality(report: dict[str, Any], evaluation: dict[str, Any]) -> dg.AssetCheckResult:
    """Fails unless every number was verified, every claim is allowed by the facts, every
    published narrative sentence restates the facts, a question asked is answered (or said to
    be outside the facts) and every section is present."""
    wrong = evaluation.get("unsupported_claims", [])
    ungrounded = evaluation.get("ungrounded_sentences", [])
    passed = (
        evaluation["faithfulness"] >= 1.0
        and evaluation["section_coverage"] >= 1.0
        and float(evaluation.get("grounded", 1.0)) >= 1.0
    )
    counts = evaluation.get("sentences") or {}
    return dg.AssetCheckResult(
        check_name=REPORT_QUALITY_CHECK,
        passed=passed,
        description="All numbers verified, all claims supported, every narrative sentence "
        "grounded in the facts and all sections present."
        if passed
        else f"Faithfulness {evaluation['faithfulness']} ({report['unverified_numbers']} "
        f"unverified numbers, {len(wrong)} unsupported claims"
        + (f": {'; '.join(wrong[:3])}" if wrong else "")
        + f"), {len(ungrounded)} ungrounded sentences"
        + (f": {'; '.join(ungrounded[:3])}" if ungrounded else "")
        + f", section coverage {evaluation['section_coverage']}.",
        metadata={
            "faithfulness": float(evaluation["faithfulness"]),
            "section_coverage": float(evaluation["section_coverage"]),
            "unverified_numbers": int(report["unverified_numbers"]),
            "claims": int(evaluation.get("claims", 0)),
            "unsupported_claims": len(wrong),
            "grounded": float(evaluation.get("grounded", 1.0)),
            "sentences_generated": int(counts.get("generated", 0)),
            "sentences_admitted": int(counts.get("admitted", 0)),
            "sentences_dropped": int(counts.get("dropped", 0)),
        },
    )


class AgentReportConfig(dg.Config):
    question: str | None = None
    refresh: bool = False  # True: skip the semantic cache and write a new report


DESCRIPTION = (
    "Analyst report from the LangGraph team: facts and tools computed by code, fact sentences "
    "restated by the LLM and admitted one by one only when grounded (the rest written by code), "
    "every number checked by the critic; evaluated and stored under "
    "outputs/reports/<ticker>/latest.json (the API's /analyze serves the same)."
)


# A multi-asset only to name the op: the job that materializes this asset is called
# "agent_report", and a job may not share its name with an op of the code location.
@dg.multi_asset(
    name="write_agent_report",
    specs=[
        dg.AssetSpec(
            AGENT_REPORT_KEY,
            deps=[FORECAST_KEY, INDICATORS_KEY],
            group_name="agents",
            kinds={"python"},
            owners=["team:ml"],
            description=DESCRIPTION,
        )
    ],
    partitions_def=tickers_partitions,
    ins={"indicators": dg.AssetIn(key=INDICATORS_KEY)},
    check_specs=[
        dg.AssetCheckSpec(
            name=REPORT_QUALITY_CHECK,
            asset=AGENT_REPORT_KEY,
            description="Every number in the report verified, every claim allowed by the facts "
            "(faithfulness 1.0), every narrative sentence grounded, every section present.",
        )
    ],
)
def agent_report(
    context: dg.AssetExecutionContext,
    config: AgentReportConfig,
    indicators: pd.DataFrame,
    mlflow: MLflowResource,
    model_store: ModelStoreResource,
    feast: FeastResource,
) -> dg.MaterializeResult:
    """The analyst report of one ticker (see DESCRIPTION), with a check on its numbers."""
    ticker = context.partition_key
    try:
        serving = resolve_serving_model(mlflow.tracker(), model_store.children_root, ticker)
    except NoModelError as exc:
        raise dg.Failure(f"{exc} Materialize 'child_model' for {ticker} first.") from exc
    service = analyst_service(agent_settings(feast, model_store))
    analysis = service.analyze(
        ticker, serving, indicators=indicators, question=config.question, refresh=config.refresh
    )
    record = analysis.record
    if analysis.cache_hit:
        write_report(service.settings, record)  # the materialized report is the one served
    report, evaluation = record["report"], record["evaluation"]
    counts = evaluation.get("sentences") or {}
    context.log.info(
        f"{ticker}: {report['stance']} ({report['confidence']:.2f}), writer {report['writer']}, "
        f"{report['verified_numbers']} numbers verified, cache {analysis.cache_status}"
    )
    return dg.MaterializeResult(
        metadata={
            "as_of": dg.MetadataValue.text(record["as_of"]),
            "stance": dg.MetadataValue.text(report["stance"]),
            "confidence": dg.MetadataValue.float(float(report["confidence"])),
            "faithfulness": dg.MetadataValue.float(float(evaluation["faithfulness"])),
            "section_coverage": dg.MetadataValue.float(float(evaluation["section_coverage"])),
            "critic_verdict": dg.MetadataValue.text(evaluation["critic_verdict"]),
            "score": dg.MetadataValue.float(float(evaluation["score"])),
            "writer": dg.MetadataValue.text(report["writer"]),
            "llm": dg.MetadataValue.text(report["llm"]),
            "sentences_generated": dg.MetadataValue.int(int(counts.get("generated", 0))),
            "sentences_admitted": dg.MetadataValue.int(int(counts.get("admitted", 0))),
            "sentences_dropped": dg.MetadataValue.int(int(counts.get("dropped", 0))),
            "grounded": dg.MetadataValue.float(float(evaluation.get("grounded", 1.0))),
            "verified_numbers": dg.MetadataValue.int(int(report["verified_numbers"])),
            "cache_hit": dg.MetadataValue.bool(analysis.cache_hit),
            "cache_status": dg.MetadataValue.text(analysis.cache_status),
            "tools": dg.MetadataValue.json(
                [{"name": t["name"], "status": t["status"]} for t in record.get("tools", [])]
            ),
            "report": dg.MetadataValue.md(report["markdown"]),
        },
        check_results=[report_quality(report, evaluation)],
    )
