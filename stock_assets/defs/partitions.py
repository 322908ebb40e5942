"""One dynamic partition set for every per-ticker asset (never ticker x day)."""

from __future__ import annotations

import dagster as dg

TICKERS_PARTITION = "tickers"
tickers_partitions = dg.DynamicPartitionsDefinition(name=TICKERS_PARTITION)

# Runs launched on behalf of a ticker by something other than the onboarding sensor (the API)
# carry this tag; the sensor leaves such tickers to their owner instead of launching twins.
TICKER_TAG = "stockops/ticker"
# Why a run was launched: onboarding, replay, drift, decay (live skill) or by hand (absent).
TRIGGER_TAG = "stockops/trigger"
# The replay session a run was launched for (replay mode only).
AS_OF_TAG = "stockops/as_of"

# The Dagster concurrency pool of every step that trains models (parent, child, backtest folds):
# the instance's pool limit (config/dagster.yaml locally, the Helm values on Kubernetes) bounds
# how many run at once, whoever launched them; runs beyond it wait in the queue, not on a node.
TRAINING_POOL = "training"
