"""One ``ast.parse`` at a time in this process: CPython 3.11 keeps the AST builder's recursion
counter per interpreter, not per thread.

The API runs Dagster runs on a worker thread (``runs.LocalLauncher``) beside the agents' warm-up
and the request threads. Two threads inside ``ast.parse`` at once (a garbage collection between
two node allocations is enough to switch) leave the counter off and one of them fails with
``SystemError: AST constructor recursion depth mismatch`` (python/cpython#106905). Libraries
parse source at import time: Feast's ``@typechecked`` classes re-parse their module (typeguard),
pydantic reads attribute docstrings, LangChain reads lambdas. A run that imports Feast for the
first time while the local LLM loads failed that way. Parsing is rare after start-up and takes
milliseconds, so a process-wide lock costs nothing measurable.
"""

from __future__ import annotations

import ast
import functools
import threading
from typing import Any

_LOCK = threading.RLock()  # re-entrant: a finalizer run mid-parse may itself parse


def _serialised(original: Any) -> Any:
    @functools.wraps(original)
    def parse(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return original(*args, **kwargs)

    parse._stockops_serialised = True  # type: ignore[attr-defined]
    return parse


def serialise_ast_parse() -> None:
    """Replace ``ast.parse`` by a lock-holding wrapper (once; later calls change nothing)."""
    with _LOCK:
        if not getattr(ast.parse, "_stockops_serialised", False):
            ast.parse = _serialised(ast.parse)
