"""Dagster resources: market data (three implementations), the Feast store, the table IO manager."""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path

import dagster as dg
import pandas as pd
from feast import FeatureStore

from stock_assets.domain.feature_store.definitions import FeatureDefinitions, build_definitions
from stock_assets.domain.feature_store.store import open_store
from stock_assets.domain.market_data import (
    FileMarketData,
    MarketDataProvider,
    OfflineSampleProvider,
    YahooMarketData,
)
from stock_assets.domain.market_data.replay import ReplayProvider
from stock_assets.domain.storage import atomic_write_parquet
from stock_assets.domain.symbols import ticker_slug
from stock_assets.domain.tracking import EXPERIMENT, ModelTracker
from stock_assets.settings import Settings


class MarketDataResource(dg.ConfigurableResource):
    """Where daily OHLCV comes from. Assets depend on this interface, not on a provider."""

    @abstractmethod
    def provider(self) -> MarketDataProvider: ...

    def fetch(self, ticker: str) -> pd.DataFrame:
        return self.provider().fetch(ticker)

    def knows(self, ticker: str) -> bool:
        return self.provider().knows(ticker)


class OfflineSampleMarketData(MarketDataResource):
    """Real public-domain history shipped in PyPI packages; the offline default."""

    def provider(self) -> MarketDataProvider:
        return OfflineSampleProvider()


class YahooFinanceMarketData(MarketDataResource):
    """Live daily bars from Yahoo Finance (yfinance), with timeouts and retries."""

    start: str = "2000-01-01"
    timeout_s: float = 20.0
    retries: int = 3

    def provider(self) -> MarketDataProvider:
        return YahooMarketData(start=self.start, timeout_s=self.timeout_s, retries=self.retries)


class FileFolderMarketData(MarketDataResource):
    """A folder of <TICKER>.csv / <TICKER>.parquet files."""

    folder: str

    def provider(self) -> MarketDataProvider:
        return FileMarketData(Path(self.folder))


class ReplayMarketData(MarketDataResource):
    """Another source's history cut at the replay clock's as-of session (replay mode)."""

    source: MarketDataResource
    clock_path: str

    def provider(self) -> ReplayProvider:
        return ReplayProvider(self.source.provider(), Path(self.clock_path))


def market_data_from_settings(settings: Settings) -> MarketDataResource:
    source = _source_from_settings(settings)
    if settings.replay_enabled:
        return ReplayMarketData(source=source, clock_path=str(settings.replay_clock_path))
    return source


def _source_from_settings(settings: Settings) -> MarketDataResource:
    if settings.market_data_provider == "yahoo":
        return YahooFinanceMarketData(
            start=settings.yahoo_start,
            timeout_s=settings.yahoo_timeout_s,
            retries=settings.yahoo_retries,
        )
    if settings.market_data_provider == "files":
        if settings.market_data_dir is None:
            raise ValueError(
                "STOCKOPS_MARKET_DATA_PROVIDER=files needs STOCKOPS_MARKET_DATA_DIR (a folder)."
            )
        return FileFolderMarketData(folder=str(settings.market_data_dir))
    return OfflineSampleMarketData()


class FeastResource(dg.ConfigurableResource):
    """The Feast feature store: registry + SQLite online store under ``feast_dir``."""

    feast_dir: str
    indicators_dir: str

    def store(self) -> FeatureStore:
        return open_store(Path(self.feast_dir))

    def definitions(self) -> FeatureDefinitions:
        return build_definitions(Path(self.indicators_dir))


def table_path(base_dir: str, asset_key: dg.AssetKey, partition_key: str | None) -> Path:
    """``<base_dir>/<asset>/<ticker slug>.parquet``: the one place this layout is spelled."""
    name = ticker_slug(partition_key) if partition_key else "all"
    return Path(base_dir).joinpath(*asset_key.path) / f"{name}.parquet"


class TableStoreResource(dg.ConfigurableResource):
    """Read access to the stored tables, for assets that extend their own previous output (the
    indicator table, the append-only forecast archive)."""

    base_dir: str

    def stored(self, asset_key: dg.AssetKey, partition_key: str | None) -> pd.DataFrame | None:
        """The table last written for this asset and partition, or None."""
        path = table_path(self.base_dir, asset_key, partition_key)
        return pd.read_parquet(path) if path.exists() else None


class TableIOManager(dg.ConfigurableIOManager):
    """DataFrames as Parquet at ``<base_dir>/<asset>/<ticker slug>.parquet``, written atomically.

    The indicator folder doubles as the Feast file source, so its layout is part of the contract.
    """

    base_dir: str

    def _path(self, asset_key: dg.AssetKey, partition_key: str | None) -> Path:
        return table_path(self.base_dir, asset_key, partition_key)

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        partition = context.partition_key if context.has_partition_key else None
        path = atomic_write_parquet(obj, self._path(context.asset_key, partition))
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        partition = context.asset_partition_key if context.has_asset_partitions else None
        path = self._path(context.asset_key, partition)
        if not path.exists():
            raise dg.Failure(
                f"No stored table for {context.asset_key.to_user_string()}"
                f"{f' [{partition}]' if partition else ''} at {path}: materialize it first."
            )
        return pd.read_parquet(path)


class MLflowResource(dg.ConfigurableResource):
    """MLflow tracking and model registry (SQLite by default, a tracking server in production)."""

    tracking_uri: str
    experiment: str = EXPERIMENT

    def tracker(self) -> ModelTracker:
        return ModelTracker(self.tracking_uri, self.experiment)


class ModelStoreResource(dg.ConfigurableResource):
    """Where model bundles (state dict, scaler, config, metadata) live: ``<outputs_dir>/...``."""

    outputs_dir: str

    @property
    def children_root(self) -> Path:
        return Path(self.outputs_dir)

    @property
    def parent_root(self) -> Path:
        # A leading underscore can never be a ticker slug, so this cannot collide with a child.
        return Path(self.outputs_dir) / "_parent"

    @property
    def backtest_parent_root(self) -> Path:
        return Path(self.outputs_dir) / "_backtest_parent"


def feast_resource_from_settings(settings: Settings) -> FeastResource:
    return FeastResource(
        feast_dir=str(settings.resolved_feast_dir), indicators_dir=str(settings.indicators_dir)
    )


def resources_from_settings(settings: Settings) -> dict[str, object]:
    return {
        "market_data": market_data_from_settings(settings),
        "feast": feast_resource_from_settings(settings),
        "io_manager": TableIOManager(base_dir=str(settings.tables_dir)),
        "tables": TableStoreResource(base_dir=str(settings.tables_dir)),
        "mlflow": MLflowResource(tracking_uri=settings.resolved_mlflow_tracking_uri),
        "model_store": ModelStoreResource(outputs_dir=str(settings.resolved_outputs_dir)),
    }
