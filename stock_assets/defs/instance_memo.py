"""What a batch process may remember about its Dagster instance between storage round trips.

A ticker's refresh run inside a batch spends most of its time in Dagster's own bookkeeping. Part
of it asks the storage questions whose answer cannot usefully change while a batch runs: whether
the run's partition exists (about 75 times a run), and whether the storage's schema has a table
or a column (SQLAlchemy reflection, a few queries for each event stored: about 60 a run on
PostgreSQL, and a new SQLite engine each time on SQLite). Only "yes" answers are remembered, and
only inside the ``with`` block: a partition deleted mid-run fails the run's later steps either
way, and a schema only gains tables and columns (``dagster instance migrate``), so a "no" is
asked again every time.

Both are attributes set on the instance's own objects that shadow Dagster's methods for the
block and are removed after it. They depend on Dagster's method names (pinned in
``pyproject.toml``); ``tests/defs/test_instance_memo.py`` fails when a name disappears.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import dagster as dg

# (storage, method, the arguments that identify the question: a connection argument does not)
SCHEMA_QUESTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("event_log_storage", "has_table", ("table_name",)),
    ("event_log_storage", "_has_asset_key_col_on_connection", ("column_name",)),
    ("run_storage", "has_run_stats_index_cols", ()),
    ("run_storage", "has_backfill_id_column", ()),
)


def _remember_yes(ask: Callable[..., bool], identity: tuple[str, ...]) -> Callable[..., bool]:
    signature = inspect.signature(ask)
    known: set[Hashable] = set()

    def remembered(*args: Any, **kwargs: Any) -> bool:
        arguments = signature.bind(*args, **kwargs).arguments
        question = tuple(arguments[name] for name in identity)
        if question in known:
            return True
        answer = bool(ask(*args, **kwargs))
        if answer:
            known.add(question)
        return answer

    return remembered


@contextlib.contextmanager
def _shadowed(owner: object, name: str, identity: tuple[str, ...]) -> Iterator[None]:
    if name in vars(owner) or not callable(getattr(owner, name, None)):
        yield  # already shadowed by an outer block, or not this storage's question
        return
    setattr(owner, name, _remember_yes(getattr(owner, name), identity))
    try:
        yield
    finally:
        delattr(owner, name)


@contextlib.contextmanager
def partition_lookups_remembered(instance: dg.DagsterInstance) -> Iterator[None]:
    """For one run: a ticker found in the dynamic partitions is not looked up again."""
    with _shadowed(instance, "has_dynamic_partition", ("partitions_def_name", "partition_key")):
        yield


@contextlib.contextmanager
def schema_checks_remembered(instance: dg.DagsterInstance) -> Iterator[None]:
    """For a batch: a table or column the storage has is not looked up again."""
    with contextlib.ExitStack() as stack:
        for storage, name, identity in SCHEMA_QUESTIONS:
            stack.enter_context(_shadowed(getattr(instance, storage), name, identity))
        yield
