"""Metadata helpers shared by assets: what the Dagster UI shows for a materialized table."""

from __future__ import annotations

import warnings

import dagster as dg
import pandas as pd

from stock_assets.defs.partitions import tickers_partitions
from stock_assets.domain.quality import QualityResult

PREVIEW_ROWS = 5


def table_metadata(frame: pd.DataFrame, date_column: str = "date") -> dict[str, dg.MetadataValue]:
    dates = pd.to_datetime(frame[date_column])
    meta: dict[str, dg.MetadataValue] = {
        "dagster/row_count": dg.MetadataValue.int(len(frame)),
        "first_date": dg.MetadataValue.text(dates.min().strftime("%Y-%m-%d")),
        "last_date": dg.MetadataValue.text(dates.max().strftime("%Y-%m-%d")),
        "preview": dg.MetadataValue.md(frame.tail(PREVIEW_ROWS).to_markdown(index=False)),
    }
    if "close" in frame.columns:
        meta["last_close"] = dg.MetadataValue.float(float(frame["close"].iloc[-1]))
    return meta


def check_result(
    rule: str,
    result: QualityResult,
    asset_key: dg.AssetKey,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
) -> dg.AssetCheckResult:
    """A domain quality result as a Dagster check result; the reason is the description."""
    return dg.AssetCheckResult(
        check_name=rule,
        asset_key=asset_key,
        passed=result.passed,
        severity=severity,
        description=result.description,
        metadata={
            k: dg.MetadataValue.json(v) if isinstance(v, list | dict) else v
            for k, v in result.details.items()
        },
    )


def partitioned_check_spec(name: str, asset: dg.AssetKey, description: str) -> dg.AssetCheckSpec:
    """A non-blocking check evaluated per ticker partition: each evaluation records its ticker,
    which the retrain sensor reads. (Partitioned check specs are a Dagster preview.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            name=name,
            asset=asset,
            blocking=False,
            partitions_def=tickers_partitions,
            description=description,
        )
