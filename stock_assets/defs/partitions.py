"""One dynamic partition set for every per-ticker asset (never ticker x day)."""

from __future__ import annotations

import dagster as dg

from stock_assets.names import TICKERS_PARTITION

tickers_partitions = dg.DynamicPartitionsDefinition(name=TICKERS_PARTITION)
