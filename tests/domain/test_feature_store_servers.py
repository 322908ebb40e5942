"""Feast as production runs it: the online store in a real Redis, the registry in a real
PostgreSQL, through the same store functions the assets use.

Redis on 127.0.0.1:6379 (database 9, emptied before and after) and Postgres on 127.0.0.1:5432
(trust auth; a database of this test's own, dropped afterwards): .ci/run starts both.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg2
import pytest
import redis
from pydantic import SecretStr

from devkit.servers import scratch_database
from stock_assets import names
from stock_assets.domain.feature_store.definitions import INDICATOR_VIEW, build_definitions
from stock_assets.domain.feature_store.store import (
    apply_definitions,
    online_features,
    open_store,
    redis_connection_string,
    repo_config,
    to_feature_rows,
    training_frame,
    write_latest_online,
)
from stock_assets.domain.storage import atomic_write_parquet
from stock_assets.domain.symbols import ticker_slug
from stock_assets.settings import Settings
from tests.required_tools import under_ci

REDIS_URL = "redis://127.0.0.1:6379/9"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def require_server(name: str, port: int) -> None:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError as exc:
        message = f"{name} must listen on 127.0.0.1:{port} (see .ci/run): {exc}"
        if under_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture
def online_redis() -> Iterator[redis.Redis]:
    require_server("Redis", 6379)
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def registry_url() -> Iterator[str]:
    require_server("PostgreSQL", 5432)
    with scratch_database("stockops_feast") as name:
        yield f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{name}"


def indicator_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """Two tickers' feature rows written where the Feast file source reads them."""
    from stock_assets.domain.feature_store.definitions import SERVED_COLUMNS

    rows = {}
    for ticker, level in (("AAPL", 100.0), ("^GSPC", 2000.0)):
        dates = pd.bdate_range("2024-01-02", periods=40)
        table = pd.DataFrame({"date": dates, "close": level + np.arange(40, dtype=float)})
        for i, column in enumerate(SERVED_COLUMNS[1:]):
            table[column] = np.arange(40, dtype=float) + i / 10
        rows[ticker] = to_feature_rows(table, ticker)
        atomic_write_parquet(rows[ticker], folder / f"{ticker_slug(ticker)}.parquet")
    return rows


def test_redis_online_store_and_sql_registry_shared_by_two_processes(
    tmp_path: Path, online_redis: redis.Redis, registry_url: str
) -> None:
    indicators = tmp_path / "tables" / names.INDICATORS
    rows = indicator_tables(indicators)

    # One pod applies the definitions and materializes a ticker...
    writer_dir = tmp_path / "pod-a" / "feast"
    writer = open_store(writer_dir, online_store_url=REDIS_URL, registry_url=registry_url)
    apply_definitions(writer, build_definitions(indicators))
    written = write_latest_online(writer, rows["AAPL"])

    # ...another, with nothing on its disk, finds the definitions and reads the features.
    reader_dir = tmp_path / "pod-b" / "feast"
    reader = open_store(reader_dir, online_store_url=REDIS_URL, registry_url=registry_url)
    assert [view.name for view in reader.list_feature_views()] == [INDICATOR_VIEW]
    served = online_features(reader, ["AAPL", "^GSPC"])
    assert served.loc[0, "close"] == written["close"] == 139.0
    assert pd.isna(served.loc[1, "close"])  # never materialized

    # The state lives in the servers, not in either pod's folder.
    assert online_redis.dbsize() > 0
    for folder in (writer_dir, reader_dir):
        assert not list(folder.glob("*.db")), list(folder.iterdir())
    database = registry_url.rsplit("/", 1)[1]
    with psycopg2.connect(**PG, dbname=database) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT feature_view_name FROM feature_views")
        assert [name for (name,) in cursor.fetchall()] == [INDICATOR_VIEW]

    # Training reads the offline files through the SQL registry as before.
    stamps = rows["AAPL"]["event_timestamp"]
    frame = training_frame(reader, "AAPL", [stamps.iloc[5], stamps.iloc[5] - pd.Timedelta("1s")])
    assert list(frame.set_index("event_timestamp")["close"].sort_index()) == [104.0, 105.0]


def test_settings_choose_the_production_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, online_redis: redis.Redis, registry_url: str
) -> None:
    monkeypatch.setenv("STOCKOPS_FEAST_ONLINE_STORE_URL", REDIS_URL)
    monkeypatch.setenv("STOCKOPS_FEAST_REGISTRY_URL", registry_url)
    settings = Settings(data_dir=tmp_path / "data")
    assert isinstance(settings.feast_registry_url, SecretStr)
    assert registry_url not in repr(settings)  # the password stays out of logs
    store = open_store(
        settings.resolved_feast_dir,
        online_store_url=settings.feast_online_store_url,
        registry_url=settings.feast_registry_url.get_secret_value(),
    )
    assert store.config.online_store.type == "redis"
    assert store.config.registry.registry_type == "sql"
    indicators = tmp_path / names.INDICATORS
    rows = indicator_tables(indicators)
    apply_definitions(store, build_definitions(indicators))
    write_latest_online(store, rows["^GSPC"])
    assert online_features(store, ["^GSPC"]).loc[0, "close"] == 2039.0


def test_unset_settings_keep_the_local_files(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    assert settings.feast_online_store_url is None and settings.feast_registry_url is None
    config = repo_config(settings.resolved_feast_dir)
    assert config.online_store.type == "sqlite"
    assert Path(config.online_store.path) == settings.resolved_feast_dir / "online_store.db"
    assert config.registry.registry_type == "file"
    assert Path(config.registry.path) == settings.resolved_feast_dir / "registry.db"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://stockops-redis:6379/1", "stockops-redis:6379,db=1"),
        ("redis://10.0.0.5", "10.0.0.5:6379,db=0"),
        ("rediss://cache.example.com:6380/2", "cache.example.com:6380,db=2,ssl=true"),
        (
            "redis://app:p%40ss%3Aword@cache:6379/3",
            "cache:6379,db=3,username=app,password=p@ss:word",
        ),
    ],
)
def test_redis_urls_become_feast_connection_strings(url: str, expected: str) -> None:
    assert redis_connection_string(url) == expected


@pytest.mark.parametrize(
    "url", ["http://cache:6379/0", "redis://:a%2Cb@cache:6379/0", "redis://cache:6379/x", "cache"]
)
def test_bad_redis_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="Feast"):
        redis_connection_string(url)


def test_the_code_location_writes_features_to_redis_and_the_sql_registry(
    online_redis: redis.Redis,
    registry_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dagster_instance: object,
) -> None:
    """The assets themselves, with the resources the settings build: the Feast registry lands
    in Postgres (its URL, password and all, stays an environment variable in the resource, so
    the Dagster UI never shows it) and the online row in Redis."""
    import dagster as dg

    from stock_assets.definitions import build_definitions
    from stock_assets.defs.partitions import TICKERS_PARTITION
    from stock_assets.defs.resources import feast_resource_from_settings

    monkeypatch.setenv("STOCKOPS_FEAST_REGISTRY_URL", registry_url)
    monkeypatch.setenv("STOCKOPS_FEAST_ONLINE_STORE_URL", REDIS_URL)
    settings = Settings(data_dir=tmp_path / "data")
    resource = feast_resource_from_settings(settings)
    assert isinstance(resource.registry_url, dg.EnvVar)
    defs = build_definitions(settings)
    dagster_instance.add_dynamic_partitions(TICKERS_PARTITION, ["IBM"])  # type: ignore[attr-defined]
    assets = list(defs.assets)  # type: ignore[arg-type]
    keys = [names.FEATURE_DEFINITIONS, names.OHLCV, names.INDICATORS, names.ONLINE_FEATURES]
    result = dg.materialize(
        assets,
        selection=keys,
        partition_key="IBM",
        instance=dagster_instance,  # type: ignore[arg-type]
        resources=defs.resources,
    )
    assert result.success
    assert online_redis.dbsize() > 0
    store = open_store(
        tmp_path / "elsewhere", online_store_url=REDIS_URL, registry_url=registry_url
    )
    served = online_features(store, ["IBM"])
    table = pd.read_parquet(settings.indicators_dir / f"{ticker_slug('IBM')}.parquet")
    assert served["close"].iloc[0] == pytest.approx(float(table["close"].iloc[-1]))
