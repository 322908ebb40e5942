"""Every name of the code location, spelled once: asset keys, jobs, sensors, schedules, the
partition set, the concurrency pool and run tags.

A leaf module of plain strings (it imports nothing), so the definitions, the domain's storage
layout, the API (monitoring, tasks, launches), metrics, benchmarks and tests all take their names
from here without loading Dagster. ``tests/test_names.py`` checks the sheet against the code
location's snapshot: a job added to the definitions and not here fails that test, and monitoring
(which counts every job listed here) counts it the day it is added.
"""

from __future__ import annotations

# --- assets (each key is one path component) ----------------------------------------------------
FEATURE_DEFINITIONS = "feature_definitions"
OHLCV = "ohlcv"
INDICATORS = "indicators"
ONLINE_FEATURES = "online_features"
PARENT_MODEL = "parent_model"
CHILD_MODEL = "child_model"
BACKTEST = "backtest"
CHAMPION_MODEL = "champion_model"
FORECAST = "forecast"
FORECAST_ARCHIVE = "forecast_archive"
LIVE_SKILL = "live_skill"
DRIFT_REPORT = "drift_report"
AGENT_REPORT = "agent_report"
ASSETS = (
    FEATURE_DEFINITIONS,
    OHLCV,
    INDICATORS,
    ONLINE_FEATURES,
    PARENT_MODEL,
    CHILD_MODEL,
    BACKTEST,
    CHAMPION_MODEL,
    FORECAST,
    FORECAST_ARCHIVE,
    LIVE_SKILL,
    DRIFT_REPORT,
    AGENT_REPORT,
)

# --- jobs ---------------------------------------------------------------------------------------
PLATFORM_BOOTSTRAP_JOB = "platform_bootstrap"
ONBOARD_TICKER_JOB = "onboard_ticker"
TICKER_DATA_JOB = "ticker_data"
TICKER_TRAINING_JOB = "ticker_training"
TICKER_REFRESH_JOB = "ticker_refresh"
TICKER_DRIFT_JOB = "ticker_drift"
PARENT_TRAINING_JOB = "parent_training"
AGENT_REPORT_JOB = "agent_report"
FEATURE_DEFINITIONS_JOB = "apply_feature_definitions"
REGISTER_TICKER_JOB = "register_ticker"
# Many tickers' runs (a daily refresh, a replay tick) in one run's process: ``defs/batches.py``.
TICKER_BATCH_JOB = "ticker_batch"
# The jobs that train models: they carry the GPU run tags, and their failures page
# (``StockOpsTrainingRunsFailing`` in monitoring/alerts/stockops.rules.yml).
TRAINING_JOBS = (
    PLATFORM_BOOTSTRAP_JOB,
    ONBOARD_TICKER_JOB,
    TICKER_TRAINING_JOB,
    PARENT_TRAINING_JOB,
)
JOBS = (
    *TRAINING_JOBS,
    TICKER_DATA_JOB,
    TICKER_REFRESH_JOB,
    TICKER_DRIFT_JOB,
    AGENT_REPORT_JOB,
    FEATURE_DEFINITIONS_JOB,
    REGISTER_TICKER_JOB,
    TICKER_BATCH_JOB,
)

# --- automation ---------------------------------------------------------------------------------
NEW_TICKER_SENSOR = "new_ticker_sensor"
RETRAIN_SENSOR = "retrain_sensor"
MARKET_REPLAY_SENSOR = "market_replay_sensor"
SENSORS = (NEW_TICKER_SENSOR, RETRAIN_SENSOR, MARKET_REPLAY_SENSOR)
DAILY_REFRESH_SCHEDULE = "daily_refresh_schedule"
WEEKLY_AGENT_REPORT_SCHEDULE = "weekly_agent_report_schedule"
SCHEDULES = (DAILY_REFRESH_SCHEDULE, WEEKLY_AGENT_REPORT_SCHEDULE)

# --- partitions and pools -----------------------------------------------------------------------
# One dynamic partition set for every per-ticker asset.
TICKERS_PARTITION = "tickers"
# The Dagster concurrency pool of every step that trains models; its limit is set by the instance
# (config/dagster.yaml locally, the Helm values on Kubernetes).
TRAINING_POOL = "training"

# --- run tags -----------------------------------------------------------------------------------
# Dagster's own: the partition a run materializes.
PARTITION_TAG = "dagster/partition"
# Dagster's own: a sensor's run key; the API puts the same key on the onboarding runs it launches
# (no daemon), so a step's attempt is launched once whoever launches it.
RUN_KEY_TAG = "dagster/run_key"
# The ticker whose task a run was launched for (the shared bootstrap carries the asking ticker's).
TICKER_TAG = "stockops/ticker"
# Why a run was launched: one of the *_TRIGGER values below (absent: by hand).
TRIGGER_TAG = "stockops/trigger"
# The replay session a run was launched for (replay mode only).
AS_OF_TAG = "stockops/as_of"
# The onboarding task a run belongs to (the API's task id).
TASK_TAG = "stockops/task"
# What launched a run on behalf of a task (the API).
SOURCE_TAG = "stockops/source"
# The id of the API request that launched a run (its log lines carry it too).
REQUEST_ID_TAG = "stockops/request_id"
# A retrain run: the evaluation that opened its episode, and why.
EPISODE_TAG = "stockops/episode"
REASON_TAG = "stockops/reason"
# A ticker's run made inside a batch run: the batch run's id; on the batch run, its ticker count.
BATCH_TAG = "stockops/batch"
BATCH_SIZE_TAG = "stockops/batch_size"

# Values of TRIGGER_TAG. A retrain is tagged with the checks that asked for it, joined by "+".
ONBOARDING_TRIGGER = "onboarding"
DAILY_TRIGGER = "daily"
REPLAY_TRIGGER = "replay"
DRIFT_TRIGGER = "drift"
DECAY_TRIGGER = "decay"
HISTORY_TRIGGER = "history"  # a recent listing now has the history a backtest needs
API_TRIGGER = "api"
MANUAL_TRIGGER = "manual"
