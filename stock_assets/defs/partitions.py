"""One dynamic partition set for every per-ticker asset (never ticker x day)."""

from __future__ import annotations

import dagster as dg

TICKERS_PARTITION = "tickers"
tickers_partitions = dg.DynamicPartitionsDefinition(name=TICKERS_PARTITION)
