"""Request and response models (with OpenAPI examples)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

from stock_assets import names
from stock_assets.domain.symbols import MAX_TICKER_LENGTH, TICKER_PATTERN, normalize_ticker

# Published in the OpenAPI schema (clients and fuzzers see the rule); the validator below still
# does the checking, so errors keep their plain-language messages.
TICKER_JSON_SCHEMA: dict[str, Any] = {
    "pattern": TICKER_PATTERN,
    "minLength": 1,
    "maxLength": MAX_TICKER_LENGTH,
}
# A ticker in a URL path (routes still normalise it and answer 422 with a message).
TickerPath = Annotated[
    str, Path(description="e.g. AAPL, ^GSPC (URL-encoded)", json_schema_extra=TICKER_JSON_SCHEMA)
]


class TickerRequest(BaseModel):
    """A request about one ticker; the symbol is validated and canonicalised (upper case).

    Strict: a field of the wrong type (``"refresh": 0``) or one the schema does not know
    (``"tick"``) is a 422 with its name, never silently coerced or dropped.
    """

    model_config = ConfigDict(strict=True, extra="forbid")

    ticker: str = Field(
        examples=["AAPL"],
        description="e.g. AAPL, BRK-B, RELIANCE.NS, ^GSPC",
        json_schema_extra=TICKER_JSON_SCHEMA,
    )

    @field_validator("ticker")
    @classmethod
    def _valid(cls, value: str) -> str:
        return normalize_ticker(value)  # InvalidTickerError is a ValueError -> 422


class PredictRequest(TickerRequest):
    model_config = ConfigDict(
        strict=True, extra="forbid", json_schema_extra={"examples": [{"ticker": "AAPL"}]}
    )


class TrainRequest(TickerRequest):
    strategy: Literal["freeze", "fine_tune"] = Field(
        default="fine_tune",
        description="freeze: train the head on frozen parent LSTM layers; fine_tune: all layers "
        "at a lower learning rate.",
    )
    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={"examples": [{"ticker": "MSFT", "strategy": "freeze"}]},
    )


class ForecastPoint(BaseModel):
    horizon: int
    date: str = Field(description="NYSE session (ISO date).")
    median: float
    lower: float
    upper: float
    model: str | None = Field(
        default=None,
        description="The model that made this horizon (a mix serves each horizon from the "
        "model that earned it): lstm or a baseline.",
    )


class PredictResponse(BaseModel):
    ticker: str
    model_version: str | None = Field(description="MLflow registered version (None: unregistered)")
    bundle_version: str
    model: str = Field(
        description="What serves: lstm, or the baseline the promotion policy chose (naive, drift, "
        "linear, additive or boosted) when no learned model beat it, or mix when the horizons are "
        "served by different models (each point names its own)."
    )
    model_kind: Literal["learned", "baseline", "mixed"]
    skill: str | None = Field(
        description="The served model's measured skill over the naive forecast, in one sentence "
        "(significance from the walk-forward backtest, not a raw ratio)."
    )
    as_of: str = Field(description="Date of the last data row used.")
    last_close: float
    nominal_coverage: float
    points: list[ForecastPoint]
    cache_hit: bool
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ticker": "AAPL",
                    "model_version": "3",
                    "bundle_version": "20250101T120000-ab12cd",
                    "model": "naive",
                    "model_kind": "baseline",
                    "skill": "The naive forecast (the last close) serves: no model beat it with "
                    "statistical significance on the walk-forward windows, so no skill over "
                    "naive is claimed.",
                    "as_of": "2013-03-01",
                    "last_close": 430.47,
                    "nominal_coverage": 0.8,
                    "points": [
                        {
                            "horizon": 1,
                            "date": "2013-03-04",
                            "median": 431.2,
                            "lower": 420.1,
                            "upper": 441.9,
                        },
                    ],
                    "cache_hit": False,
                }
            ]
        }
    )


class TaskAccepted(BaseModel):
    task_id: str = Field(
        description="The task: a ticker's onboarding plan (one or two runs) or one run."
    )
    status_url: str
    ticker: str
    joined: bool = Field(description="True when the request joined a task already running.")
    message: str
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "task_id": "0f5e8a2c-3b1d-4c5e-9a7f-2d6b8e1c4a90",
                    "status_url": "/status/0f5e8a2c-3b1d-4c5e-9a7f-2d6b8e1c4a90",
                    "ticker": "IBM",
                    "joined": False,
                    "message": "IBM has no model yet: task started (2 runs); follow it at the "
                    "status URL.",
                }
            ]
        }
    )


class RunInfo(BaseModel):
    run_id: str
    job: str
    status: str


class TaskStatus(BaseModel):
    task_id: str
    ticker: str | None
    state: Literal["queued", "running", "succeeded", "failed"] = Field(
        description="succeeded: what the task was for exists (an onboarding: the ticker's "
        "forecast is materialized)."
    )
    job: str | None = Field(description="Job of the current (or failed) step.")
    steps_done: int
    steps_total: int
    progress: dict[str, Any] | None = Field(
        description="Latest progress event of the current run: phase, unit (epoch or fold), "
        "done, total; step and steps of the plan; job."
    )
    error: str | None
    runs: list[RunInfo]
    links: dict[str, str]
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "task_id": "0f5e8a2c-3b1d-4c5e-9a7f-2d6b8e1c4a90",
                    "ticker": "IBM",
                    "state": "running",
                    "job": names.ONBOARD_TICKER_JOB,
                    "steps_done": 1,
                    "steps_total": 2,
                    "progress": {
                        "phase": "child IBM",
                        "unit": "epoch",
                        "done": 12,
                        "total": 40,
                        "step": 2,
                        "steps": 2,
                        "job": names.ONBOARD_TICKER_JOB,
                    },
                    "error": None,
                    "runs": [],
                    "links": {"dagster_run": "http://127.0.0.1:3000/runs/4c1d2e3f"},
                }
            ]
        }
    )


class CheckResult(BaseModel):
    status: Literal["ok", "degraded"]
    message: str


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    live: bool
    ready: bool = Field(
        description="The pod can serve from its own data directory (what /health/ready says); "
        "the shared servers are reported in checks."
    )
    checks: dict[str, CheckResult]


class LiveResponse(BaseModel):
    status: Literal["ok"]


class ResetResponse(BaseModel):
    redis_keys_deleted: int
    paths_deleted: list[str]


class TickersResponse(BaseModel):
    tickers: list[str]
    index_ticker: str


class HorizonSummary(BaseModel):
    horizon: int
    relative_mae: float | None = Field(description="MAE / naive MAE on prices.")
    fva: float | None = Field(description="Forecast value added over naive: 1 - relative MAE.")
    p_vs_naive: float | None = Field(
        description="One-sided Diebold-Mariano p-value of 'better than naive', adjusted "
        "over the model's horizons (None for naive)."
    )
    significant: bool
    directional_accuracy: float | None
    up_rate: float | None = Field(description="Always-up directional accuracy, same windows.")
    coverage: float | None
    nominal_coverage: float | None
    model: str | None = Field(
        default=None, description="The model serving this horizon (backtest) or the candidate."
    )


class DecisionRecord(BaseModel):
    run_id: str
    time: int = Field(description="Milliseconds since the epoch.")
    outcome: str | None
    served: str | None
    previous_champion: str | None
    champion: str | None
    challenger_version: str | None
    policy_version: str | None
    reason: str | None
    trigger: str | None = Field(
        default=None,
        description="What started the challenger: onboarding, drift, decay, replay or manual.",
    )


class LiveHorizon(BaseModel):
    horizon: int
    window: int = Field(description="The last N matured forecasts; 0 means all of them.")
    n: int = Field(description="Matured (scored) forecasts in the window.")
    relative_mae: float | None = Field(description="Live MAE / naive MAE.")
    promised_relative_mae: float | None = Field(
        description="The served model's backtest relative MAE at this horizon."
    )
    directional_accuracy: float | None
    up_rate: float | None = Field(description="Always-up's accuracy on the same sessions.")
    coverage: float | None
    promised_coverage: float | None
    pinball_pct: float | None


class LiveSkill(BaseModel):
    decayed: bool = Field(
        description="The served model's live errors are significantly worse than its backtest."
    )
    matured: int = Field(description="Matured forecasts at horizon 1, all models.")
    served_bundle: str | None
    horizons: list[LiveHorizon]


class ModelSummary(BaseModel):
    ticker: str
    champion_version: str | None = Field(description="MLflow version behind the alias champion.")
    serving_model_version: str | None
    serving_bundle_version: str | None
    model: str | None = Field(
        description="What serves: lstm, a baseline (naive, drift, linear, additive or boosted), or "
        "mix (one model per horizon: see backtest[].model)."
    )
    model_kind: str | None
    skill: str | None = Field(description="The served model's measured skill, in one sentence.")
    outcome: str | None = Field(
        description="The latest decision: promote, keep, serve_baseline, reassign (the "
        "champion keeps some horizons, baselines take the others), blocked or "
        "insufficient_history (too little history to backtest: naive serves)."
    )
    promoted: bool | None = Field(description="Whether the latest challenger was promoted.")
    decision_reason: str | None
    policy_version: str | None
    best_baseline: str | None
    challenger_bundle_version: str | None
    backtest: list[HorizonSummary] = Field(description="The served model, per horizon.")
    challenger: list[HorizonSummary] = Field(description="The latest challenger LSTM.")
    decisions: list[DecisionRecord] = Field(
        description="Promotion decisions, newest first: the champion alias' history."
    )
    live: LiveSkill | None = Field(
        default=None,
        description="How the served forecasts did once their target sessions arrived, beside "
        "the backtest's promise (None before the first forecast matured).",
    )


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


# --- /analyze (agent reports) ------------------------------------------------------------------
class AnalyzeRequest(TickerRequest):
    question: str | None = Field(
        default=None,
        max_length=500,
        description="What the reader wants to know; similar questions share a cached report.",
    )
    refresh: bool = Field(default=False, description="Skip the semantic cache: a new report.")
    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={
            "examples": [{"ticker": "AAPL", "question": "Is the outlook positive?"}]
        },
    )


class ReportSentence(BaseModel):
    text: str
    source: Literal["model", "code"] = Field(
        description="model: written by the LLM and admitted because it restates the facts; "
        "code: a fact sentence written by code."
    )
    restates: list[str] = Field(description="Keys of the facts the sentence states.")


class ReportParagraph(BaseModel):
    section: str
    title: str = Field(default="", description="The section's heading.")
    source: Literal["model", "code", "mixed"] = Field(
        description="Who wrote the paragraph's sentences (mixed: some of each)."
    )
    text: str = Field(description="As it appears in the markdown (model text escaped).")
    sentences: list[ReportSentence] = Field(
        default_factory=list,
        description="The narrative's sentences one by one (empty for tables and lead lines, "
        "which code writes).",
    )


class GateDecision(BaseModel):
    slot: str = Field(description="answer, summary, analyst or market")
    text: str = Field(description="A sentence the model wrote.")
    admitted: bool
    reasons: list[str] = Field(description="Why it was dropped (empty when admitted).")
    closest: str | None = Field(description="The fact it is closest to in meaning.")
    similarity: float
    covers: list[str] = Field(description="The facts it restates.")


class QuestionAnswer(BaseModel):
    question: str
    topics: list[str] = Field(description="What the question asks that the facts answer.")
    unanswered: list[str] = Field(
        description="What it asks that the facts do not answer (advice, outside, other)."
    )
    facts: list[str] = Field(description="Keys of the facts the answer states.")
    answered: bool


class AgentReport(BaseModel):
    markdown: str
    sections: dict[str, str] = Field(
        description="answer (when a question was asked), summary, forecast, model_quality, "
        "market_context, risks, disclaimer"
    )
    stance: Literal["bullish", "bearish", "neutral"] = Field(
        description="From the forecast and the model's track record, never from the text."
    )
    confidence: float = Field(ge=0, le=1)
    writer: Literal["llm", "deterministic"] = Field(
        description="llm when at least one published sentence was written by the model."
    )
    llm: str
    verified_numbers: int
    unverified_numbers: int
    critique: str | None
    # Defaults: reports stored before sentences were gated have none of these.
    paragraphs: list[ReportParagraph] = Field(
        default_factory=list, description="The report paragraph by paragraph, with who wrote it."
    )
    gate: list[GateDecision] = Field(
        default_factory=list, description="Every sentence the model wrote, admitted or dropped."
    )
    question: QuestionAnswer | None = None


class SentenceCounts(BaseModel):
    generated: int = Field(ge=0, description="Sentences the model wrote.")
    admitted: int = Field(ge=0, description="Of those, admitted by the grounding gate.")
    dropped: int = Field(ge=0, description="Of those, dropped (replaced by code-written facts).")
    published_model: int = Field(ge=0, description="Narrative sentences published, by model.")
    published_code: int = Field(ge=0, description="Narrative sentences published, by code.")


class ReportEvaluation(BaseModel):
    faithfulness: float = Field(
        ge=0, le=1,
        description="(Verified numbers + claims the facts allow) / (all numbers + all claims).",
    )  # fmt: skip
    # Defaults: reports stored before claims were read have neither field.
    claims: int = Field(
        default=0, ge=0, description="Claims read in the report's prose (direction, skill, "
        "certainty, news, volatility, volume, off-topic text).",
    )  # fmt: skip
    unsupported_claims: list[str] = Field(
        default_factory=list,
        description="Each claim the facts do not allow, with the reason (empty when faithful).",
    )
    section_coverage: float = Field(ge=0, le=1)
    critic_verdict: Literal["pass", "revise", "fail"]
    length_words: int
    score: float = Field(ge=0, le=1)
    sentences: SentenceCounts = Field(
        default_factory=lambda: SentenceCounts(
            generated=0, admitted=0, dropped=0, published_model=0, published_code=0
        )
    )
    dropped_sentences: list[str] = Field(
        default_factory=list, description="Each dropped model sentence with why."
    )
    grounded: float = Field(
        default=1.0, ge=0, le=1,
        description="Share of published narrative sentences that restate the facts (read again "
        "by the evaluator).",
    )  # fmt: skip
    ungrounded_sentences: list[str] = Field(default_factory=list)
    question: QuestionAnswer | None = None


class FeatureFreshness(BaseModel):
    source: str = Field(
        description="online store (the Feast features serving reads) or indicator table"
    )
    session: str | None = Field(description="NYSE session of the indicators the report used.")
    fresh: bool = Field(description="They are of the forecast's as-of session.")
    note: str | None = Field(default=None, description="Why the table was read instead.")


class AnalyzeResponse(BaseModel):
    ticker: str
    as_of: str
    cache_hit: bool = Field(description="The report came from the semantic cache.")
    cache_status: str = Field(
        description="ok | disabled | unavailable: <why> (the report was computed without cache)"
    )
    forecast: PredictResponse
    report: AgentReport
    evaluation: ReportEvaluation
    features: FeatureFreshness | None = Field(
        default=None, description="Where the report's latest indicators came from."
    )


# --- /monitor (drift and report evaluation) ----------------------------------------------------
class ColumnDriftResult(BaseModel):
    column: str
    stattest: str
    drift_score: float
    drifted: bool


class DriftResult(BaseModel):
    ticker: str
    as_of: str = Field(description="Last date of the current window.")
    drift_share: float = Field(ge=0, le=1, description="Share of model inputs that drifted.")
    dataset_drift: bool = Field(description="drift_share > threshold: the drift check failed.")
    threshold: float
    drifted_columns: list[str]
    columns: list[ColumnDriftResult]
    reference_window: list[str] = Field(description="[start, end] of the training rows used.")
    current_window: list[str] = Field(description="[start, end] of the most recent rows.")
    model_version: str | None = None
    bundle_version: str | None = None
    created_at: str | None = None
    report_url: str = Field(description="The Evidently HTML report.")


class MonitorResponse(BaseModel):
    ticker: str
    as_of: str
    drift: DriftResult
    report_evaluation: ReportEvaluation | None = Field(
        description="Evaluation of the latest agent report (null before the first one)."
    )
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ticker": "AAPL",
                    "as_of": "2013-03-01",
                    "drift": {
                        "ticker": "AAPL",
                        "as_of": "2013-03-01",
                        "drift_share": 0.4,
                        "dataset_drift": False,
                        "threshold": 0.5,
                        "drifted_columns": ["rsi_14", "volatility_20"],
                        "columns": [
                            {
                                "column": "volatility_20",
                                "stattest": "wasserstein",
                                "drift_score": 2.16,
                                "drifted": True,
                            }
                        ],
                        "reference_window": ["2010-12-03", "2012-12-04"],
                        "current_window": ["2012-12-05", "2013-03-01"],
                        "model_version": "3",
                        "bundle_version": "20250101T120000123456Z",
                        "created_at": "2025-01-02T21:00:00+00:00",
                        "report_url": "/reports/drift/AAPL",
                    },
                    "report_evaluation": None,
                }
            ]
        }
    )
