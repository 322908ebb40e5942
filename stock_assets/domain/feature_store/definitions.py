"""Feast objects for the indicator table: entity ``ticker``, one file source, views, a service.

The file source reads a folder with one Parquet file per ticker (written by the ``indicators``
asset); the folder comes from settings, so the same definitions serve a laptop and production.
Feast itself is imported only when the objects are built: the names below are read by every
process that loads the code location, most of which never open the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from stock_assets.domain.indicators import INDICATOR_COLUMNS, MODEL_FEATURE_COLUMNS

if TYPE_CHECKING:
    from feast import Entity, FeatureService, FeatureView, FileSource

PROJECT = "stockops"
ENTITY_NAME = "ticker"
TIMESTAMP_FIELD = "event_timestamp"
INDICATOR_VIEW = "technical_indicators"
MODEL_SERVICE = "lstm_inputs"
SERVED_COLUMNS: tuple[str, ...] = ("close", *INDICATOR_COLUMNS)
# A daily feature older than this is not joined: long weekends plus holidays stay within it.
FEATURE_TTL = timedelta(days=10)


@dataclass(frozen=True)
class FeatureDefinitions:
    entity: Entity
    source: FileSource
    indicator_view: FeatureView
    model_service: FeatureService

    def objects(self) -> list[object]:
        return [self.entity, self.source, self.indicator_view, self.model_service]


def build_definitions(indicators_dir: Path) -> FeatureDefinitions:
    from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
    from feast.data_format import ParquetFormat
    from feast.types import Float64

    ticker = Entity(
        name=ENTITY_NAME,
        join_keys=[ENTITY_NAME],
        value_type=ValueType.STRING,
        description="A market symbol, e.g. AAPL or ^GSPC.",
    )
    source = FileSource(
        name="indicators_source",
        path=str(indicators_dir),
        file_format=ParquetFormat(),
        timestamp_field=TIMESTAMP_FIELD,
        description="One Parquet file per ticker, written by the Dagster 'indicators' asset.",
    )
    view = FeatureView(
        name=INDICATOR_VIEW,
        entities=[ticker],
        ttl=FEATURE_TTL,
        schema=[Field(name=col, dtype=Float64) for col in SERVED_COLUMNS],
        source=source,
        online=True,
        description="Daily close and technical indicators (RSI, MACD, returns, volatility).",
        tags={"owner": "stockops", "granularity": "daily"},
    )
    service = FeatureService(
        name=MODEL_SERVICE,
        features=[view[["close", *MODEL_FEATURE_COLUMNS]]],
        description="What the LSTM forecaster reads: the close and price-scale-free indicators.",
    )
    return FeatureDefinitions(ticker, source, view, service)
