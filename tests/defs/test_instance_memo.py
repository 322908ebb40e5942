"""What a batch process remembers about its Dagster instance, on real instances (SQLite and the
local PostgreSQL): a "yes" from the storage is remembered inside the block, a "no" is asked again
every time, and nothing is remembered after it."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy

from devkit.servers import REPO, postgres_storage, scratch_database
from stock_assets import names
from stock_assets.defs.instance_memo import (
    SCHEMA_QUESTIONS,
    partition_lookups_remembered,
    schema_checks_remembered,
)


@pytest.fixture(params=["sqlite", "postgres"])
def instance(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    if request.param == "sqlite":
        with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
            yield instance
        return
    with scratch_database("stockops_memo") as database:
        instance_file = (REPO / "config" / "dagster.yaml").read_text()
        (tmp_path / "dagster.yaml").write_text(instance_file + postgres_storage(database))
        with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
            yield instance


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine executes while the test runs."""
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    sqlalchemy.event.listen(sqlalchemy.engine.Engine, "before_cursor_execute", record)
    yield seen
    sqlalchemy.event.remove(sqlalchemy.engine.Engine, "before_cursor_execute", record)


def test_every_remembered_question_is_one_the_storage_asks(instance: dg.DagsterInstance) -> None:
    """A Dagster upgrade that renames one of these methods fails here, not silently."""
    for storage, name, identity in SCHEMA_QUESTIONS:
        method = getattr(getattr(instance, storage), name)
        assert callable(method), (storage, name)
        assert set(identity) <= set(inspect.signature(method).parameters)
    assert callable(instance.has_dynamic_partition)


def test_a_table_the_storage_has_is_looked_up_once(
    instance: dg.DagsterInstance, statements: list[str]
) -> None:
    storage = instance.event_log_storage
    with schema_checks_remembered(instance):
        assert storage.has_table("asset_check_executions")
        asked = len(statements)
        assert asked > 0
        assert storage.has_table(table_name="asset_check_executions")
        assert storage.supports_asset_checks
        assert len(statements) == asked  # remembered, however it is asked: no query
        assert instance.run_storage.has_run_stats_index_cols()
        after_first = len(statements)
        assert instance.run_storage.has_run_stats_index_cols()
        assert len(statements) == after_first  # remembered: no query
        assert not storage.has_table("no_such_table")
        missing = len(statements)
        assert not storage.has_table("no_such_table")
        assert len(statements) > missing  # a "no" is asked again
    assert "has_table" not in vars(storage)
    assert "has_run_stats_index_cols" not in vars(instance.run_storage)
    before = len(statements)
    assert storage.has_table("asset_check_executions")
    assert len(statements) > before  # after the block, the storage answers again


def test_a_run_looks_a_found_ticker_up_once_and_a_missing_one_every_time(
    instance: dg.DagsterInstance,
) -> None:
    """Within one ticker's run a found partition is not queried again (the storage is asked
    once, not at every step); a missing one is asked each time; after the run, the storage
    answers again."""
    partitions = names.TICKERS_PARTITION
    instance.add_dynamic_partitions(partitions, ["AAPL"])
    with partition_lookups_remembered(instance):
        assert instance.has_dynamic_partition(partitions, "AAPL")
        instance.delete_dynamic_partition(partitions, "AAPL")
        assert instance.has_dynamic_partition(partitions, "AAPL")  # kept for the run
        assert not instance.has_dynamic_partition(partitions, "MSFT")
        instance.add_dynamic_partitions(partitions, ["MSFT"])
        assert instance.has_dynamic_partition(partition_key="MSFT", partitions_def_name=partitions)
    assert "has_dynamic_partition" not in vars(instance)
    assert not instance.has_dynamic_partition(partitions, "AAPL")
    assert instance.has_dynamic_partition(partitions, "MSFT")
