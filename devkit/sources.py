"""The project's own source files, as git sees them: what checks over the code read."""

from __future__ import annotations

import subprocess
from pathlib import Path

from devkit.servers import REPO

# Every Python package of the repository.
PACKAGES = (
    "stock_assets",
    "serving_api",
    "agent_graph",
    "streamlit_app",
    "devkit",
    "bench",
    "tests",
)


def python_files(*roots: str) -> list[Path]:
    """Python files under ``roots`` (paths relative to the repository) that git tracks, or would
    (new files it does not ignore), in a stable order."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *roots],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return sorted({REPO / p for p in listed if p.endswith(".py") and (REPO / p).exists()})
