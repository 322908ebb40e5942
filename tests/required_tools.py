"""Programs the suite drives for real (validators, servers, a browser): where to find one.

On a developer machine a missing program skips the tests that need it, with the reason. Under CI
(the ``CI`` environment variable, which GitHub Actions sets) it fails them instead: a validator
that silently skipped would let broken deployment files through. .github/workflows/ci.yml
installs every program named here (tests/deploy/test_workflows.py checks that it does).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

VENV_BIN = Path(__file__).resolve().parents[1] / ".venv" / "bin"


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_tool(name: str, *, env: str | None = None, hint: str = "") -> str:
    """Path of the program ``name``: from the environment variable ``env`` when it is set (e.g.
    CHECKOV, which lives in its own virtual environment), else from PATH or the project's venv.
    Missing: the test fails under CI and is skipped elsewhere."""
    candidates = []
    if env and os.environ.get(env):
        candidates.append(os.environ[env])
    candidates += [shutil.which(name) or "", str(VENV_BIN / name)]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    where = f" (or set {env})" if env else ""
    message = f"{name} is not installed{where}" + (f": {hint}" if hint else "")
    if under_ci():
        pytest.fail(f"{message}. CI is set, so a missing program fails the suite.", pytrace=False)
    pytest.skip(message)
