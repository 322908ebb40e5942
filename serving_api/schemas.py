"""Request and response models (with OpenAPI examples)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stock_assets.domain.symbols import normalize_ticker


class TickerRequest(BaseModel):
    """A request about one ticker; the symbol is validated and canonicalised (upper case)."""

    ticker: str = Field(examples=["AAPL"], description="e.g. AAPL, BRK-B, RELIANCE.NS, ^GSPC")

    @field_validator("ticker")
    @classmethod
    def _valid(cls, value: str) -> str:
        return normalize_ticker(value)  # InvalidTickerError is a ValueError -> 422


class PredictRequest(TickerRequest):
    model_config = ConfigDict(json_schema_extra={"examples": [{"ticker": "AAPL"}]})


class TrainRequest(TickerRequest):
    strategy: Literal["freeze", "fine_tune"] = Field(
        default="fine_tune",
        description="freeze: train the head on frozen parent LSTM layers; fine_tune: all layers "
        "at a lower learning rate.",
    )
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"ticker": "MSFT", "strategy": "freeze"}]}
    )


class ForecastPoint(BaseModel):
    horizon: int
    date: str = Field(description="NYSE session (ISO date).")
    median: float
    lower: float
    upper: float


class PredictResponse(BaseModel):
    ticker: str
    model_version: str | None = Field(description="MLflow registered version (None: unregistered)")
    bundle_version: str
    champion: bool
    below_baseline: bool = Field(
        description="True when no version has passed the backtest gate (served, but flagged)."
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
                    "champion": True,
                    "below_baseline": False,
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
    task_id: str = Field(description="A Dagster run id.")
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
                    "message": "IBM has no model yet: onboarding started (3 runs).",
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
    state: Literal["queued", "running", "succeeded", "failed"]
    job: str | None = Field(description="Job of the current (or failed) run.")
    steps_done: int
    steps_total: int
    progress: dict[str, Any] | None = Field(
        description="Latest progress line of the current run: phase, unit (epoch or fold), "
        "done, total."
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
                    "job": "ticker_training",
                    "steps_done": 2,
                    "steps_total": 3,
                    "progress": {
                        "phase": "child IBM",
                        "unit": "epoch",
                        "done": 12,
                        "total": 40,
                        "step": 3,
                        "job": "ticker_training",
                    },
                    "error": None,
                    "runs": [],
                    "links": {"dagster_run": "http://127.0.0.1:3000/runs/0f5e8a2c"},
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
    checks: dict[str, CheckResult]


class ResetResponse(BaseModel):
    redis_keys_deleted: int
    paths_deleted: list[str]


class TickersResponse(BaseModel):
    tickers: list[str]
    index_ticker: str


class HorizonSummary(BaseModel):
    horizon: int
    relative_mae: float | None
    directional_accuracy: float | None
    up_rate: float | None
    coverage: float | None


class ModelSummary(BaseModel):
    ticker: str
    champion_version: str | None
    serving_model_version: str | None
    serving_bundle_version: str | None
    below_baseline: bool | None
    backtest_bundle_version: str | None
    promoted: bool | None
    gate_reason: str | None
    backtest: list[HorizonSummary]


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail
