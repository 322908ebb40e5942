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
