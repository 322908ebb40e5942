"""Daily OHLCV and the technical indicators computed from it, one partition per ticker."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from stock_assets import names
from stock_assets.defs.metadata import check_result, table_metadata
from stock_assets.defs.partitions import tickers_partitions
from stock_assets.defs.resources import MarketDataResource, TableStoreResource
from stock_assets.domain.feature_store.incremental import update_indicator_table
from stock_assets.domain.indicators import WARMUP_ROWS
from stock_assets.domain.market_data import MarketDataError
from stock_assets.domain.quality import OHLCV_RULES, check_no_nan_after_warmup

OHLCV_KEY = dg.AssetKey(names.OHLCV)
INDICATORS_KEY = dg.AssetKey(names.INDICATORS)
# Gaps can be the data vendor's, not ours: worth a warning, not worth stopping the pipeline.
_WARN_ONLY = {"trading_day_gaps"}

OHLCV_CHECKS = [
    dg.AssetCheckSpec(
        name=rule,
        asset=OHLCV_KEY,
        blocking=rule not in _WARN_ONLY,
        description=(fn.__doc__ or rule.replace("_", " ")).strip().splitlines()[0],
    )
    for rule, fn in OHLCV_RULES.items()
]


@dg.asset(
    key=OHLCV_KEY,
    partitions_def=tickers_partitions,
    group_name="market_data",
    kinds={"pandas", "parquet"},
    check_specs=OHLCV_CHECKS,
    owners=["team:data"],
)
def ohlcv(
    context: dg.AssetExecutionContext, market_data: MarketDataResource
) -> Iterator[dg.Output[pd.DataFrame] | dg.AssetCheckResult]:
    """Daily split-adjusted OHLCV for one ticker: its whole history from the market-data provider.

    Each run refreshes the full history (adjusted prices change after every split). When the
    provider fails the run fails with the provider's reason and the stored table stays as it was.
    """
    ticker = context.partition_key
    try:
        frame = market_data.fetch(ticker)
    except MarketDataError as exc:
        raise dg.Failure(description=str(exc)) from exc
    context.log.info("Fetched %d rows for %s", len(frame), ticker)
    yield dg.Output(frame, metadata=table_metadata(frame))
    for rule, fn in OHLCV_RULES.items():
        severity = dg.AssetCheckSeverity.WARN if rule in _WARN_ONLY else dg.AssetCheckSeverity.ERROR
        yield check_result(rule, fn(frame), OHLCV_KEY, severity)


@dg.asset(
    key=INDICATORS_KEY,
    partitions_def=tickers_partitions,
    group_name="features",
    kinds={"pandas", "parquet"},
    check_specs=[
        dg.AssetCheckSpec(
            name="no_nan_after_warmup",
            asset=INDICATORS_KEY,
            blocking=True,
            description=f"No missing indicator after the first {WARMUP_ROWS} rows.",
        )
    ],
    owners=["team:data"],
)
def indicators(
    context: dg.AssetExecutionContext, ohlcv: pd.DataFrame, tables: TableStoreResource
) -> Iterator[dg.Output[pd.DataFrame] | dg.AssetCheckResult]:
    """Technical indicators per trading day: RSI(14, Wilder), MACD 12/26/9, log returns,
    20-day annualised volatility and volume z-score.

    Stored in the folder the Feast file source reads, stamped at each day's 16:00 New York close.
    New sessions extend the stored table (a tail recomputed, identical to a full recomputation);
    when the provider's history changed underneath, the whole table is recomputed.
    """
    stored = tables.stored(INDICATORS_KEY, context.partition_key)
    update = update_indicator_table(stored, ohlcv, context.partition_key)
    rows = update.rows
    context.log.info(f"indicators {context.partition_key}: {update.mode} ({update.reason})")
    meta = table_metadata(rows)
    last = rows.iloc[-1]
    meta["update"] = dg.MetadataValue.text(f"{update.mode}: {update.reason}")
    meta["rows_appended"] = dg.MetadataValue.int(update.appended)
    meta["last_rsi_14"] = dg.MetadataValue.float(round(float(last["rsi_14"]), 4))
    meta["last_macd_hist"] = dg.MetadataValue.float(round(float(last["macd_hist"]), 6))
    yield dg.Output(rows, metadata=meta)
    yield check_result("no_nan_after_warmup", check_no_nan_after_warmup(rows), INDICATORS_KEY)
