"""A trained tiny platform shared by the agent and /analyze tests: built once per test process.

Real Dagster runs on the offline sample, as the onboarding plan makes them: the bootstrap
(Feast registry, ^GSPC data, a tiny parent), then AAPL from data to forecast under the real
promotion policy. On real AAPL prices no tiny LSTM beats the naive forecast, so the champion is
the naive baseline: the reports are written about what is really served.
"""

from __future__ import annotations

import atexit
import functools
import tempfile
from pathlib import Path

from tests.support.platform import TinyPlatform, tiny_platform

TICKER = "AAPL"
INDEX = "^GSPC"
Platform = TinyPlatform


@functools.cache
def trained_platform() -> TinyPlatform:
    """The bootstrap, and an AAPL champion with its forecast (~30 s)."""
    root = Path(tempfile.mkdtemp(prefix="stockops-agents-"))
    context = tiny_platform(root)
    platform = context.__enter__()
    atexit.register(context.__exit__, None, None, None)
    platform.bootstrap()
    platform.onboard(TICKER)
    return platform
