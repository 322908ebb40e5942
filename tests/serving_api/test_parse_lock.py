"""``ast.parse`` holds a process-wide lock in the API (``serving_api.parse_lock``): CPython 3.11
fails a parse that overlaps another thread's (python/cpython#106905)."""

from __future__ import annotations

import ast
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from serving_api.parse_lock import serialise_ast_parse


@pytest.fixture
def restored_parse() -> Iterator[None]:
    original = ast.parse
    yield
    ast.parse = original


def test_parses_on_many_threads_never_overlap(restored_parse: None) -> None:
    inside = 0
    most = 0
    count = threading.Lock()

    def slow_parse(source: str, *args: Any, **kwargs: Any) -> ast.Module:
        nonlocal inside, most
        with count:
            inside += 1
            most = max(most, inside)
        time.sleep(0.02)  # long enough that unserialised threads would overlap
        with count:
            inside -= 1
        return ast.Module(body=[], type_ignores=[])

    ast.parse = slow_parse
    serialise_ast_parse()
    serialise_ast_parse()  # a second app in the same process wraps nothing twice
    assert ast.parse.__wrapped__ is slow_parse  # type: ignore[attr-defined]
    threads = [threading.Thread(target=ast.parse, args=("x = 1",)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1


def test_the_app_parses_under_the_lock_and_parses_right(
    restored_parse: None, make_client: Callable[..., Any]
) -> None:
    make_client()
    assert getattr(ast.parse, "_stockops_serialised", False)
    tree = ast.parse("total = price * (1 + rate)")
    assert ast.unparse(tree) == "total = price * (1 + rate)"
