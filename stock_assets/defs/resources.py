"""Dagster resources: market data (three implementations), the Feast store, the table IO manager."""

from __future__ import annotations

import os
from abc import abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import pandas as pd

from stock_assets.domain import layout
from stock_assets.domain.feature_store.definitions import FeatureDefinitions, build_definitions
from stock_assets.domain.feature_store.retrievals import KeptJoins
from stock_assets.domain.feature_store.store import open_store
from stock_assets.domain.market_data import (
    FileMarketData,
    MarketDataProvider,
    OfflineSampleProvider,
    YahooMarketData,
)
from stock_assets.domain.market_data.replay import ReplayProvider
from stock_assets.domain.storage import atomic_write_parquet
from stock_assets.domain.tracking import EXPERIMENT, ModelTracker
from stock_assets.settings import Settings

if TYPE_CHECKING:
    from feast import FeatureStore


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
    """The Feast feature store: registry and online store (files and SQLite under
    ``feast_dir``, or a SQL registry and Redis), offline store on the indicator tables."""

    feast_dir: str
    indicators_dir: str
    online_store_url: str | None = None
    registry_url: str | None = None

    def store(self) -> FeatureStore:
        return open_store(
            Path(self.feast_dir),
            online_store_url=self.online_store_url,
            registry_url=self.registry_url,
        )

    def definitions(self) -> FeatureDefinitions:
        return build_definitions(Path(self.indicators_dir))

    def kept_joins(self) -> KeptJoins:
        """Training-set joins already made, kept beside the registry (``retrievals``)."""
        return KeptJoins(Path(self.feast_dir))


def table_path(base_dir: str, asset_key: dg.AssetKey, partition_key: str | None) -> Path:
    """An asset's table: the layout's ``<tables>/<asset>/<ticker slug>.parquet``."""
    return layout.table_path(Path(base_dir), "/".join(asset_key.path), partition_key)


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
    def _layout(self) -> layout.Layout:
        return layout.Layout(tables_dir=Path(), outputs_dir=Path(self.outputs_dir))

    @property
    def children_root(self) -> Path:
        return self._layout.children_root

    @property
    def parent_root(self) -> Path:
        return self._layout.parent_root

    @property
    def backtest_parent_root(self) -> Path:
        return self._layout.backtest_parent_root


REGISTRY_URL_ENV = "STOCKOPS_FEAST_REGISTRY_URL"


def feast_resource_from_settings(settings: Settings) -> FeastResource:
    registry = (
        settings.feast_registry_url.get_secret_value() if settings.feast_registry_url else None
    )
    # The registry URL holds a password: from the environment it stays an EnvVar, so the Dagster
    # UI shows the variable's name, never its value.
    registry_field: Any = (
        dg.EnvVar(REGISTRY_URL_ENV)
        if registry and os.environ.get(REGISTRY_URL_ENV) == registry
        else registry
    )
    return FeastResource(
        feast_dir=str(settings.resolved_feast_dir),
        indicators_dir=str(settings.indicators_dir),
        online_store_url=settings.feast_online_store_url,
        registry_url=registry_field,
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
