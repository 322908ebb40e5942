"""Model sizes: tiny ones that train in seconds (tests, quick benchmarks), and the code
location's own (full benchmarks).

Op config is per asset (``{asset: {"config": ...}}``, what a materialization of a selection
takes); ``run_configs`` turns it into the run config of every training job, keyed by job name, as
the API's ``STOCKOPS_RUN_CONFIG_OVERRIDES`` takes it. The promotion policy is never changed: on
the offline stocks no tiny LSTM beats the naive forecast, so the champion is the naive baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stock_assets import names

OpConfig = dict[str, dict[str, Any]]

TINY_PARENT: dict[str, Any] = {
    "lookback": 20,
    "hidden_size": 8,
    "num_layers": 1,
    "epochs": 2,
    "patience": 1,
}
TINY_CHILD: dict[str, Any] = {"epochs": 2, "patience": 1}
# Four folds is the backtest's minimum; half a year of test data keeps them short.
TINY_BACKTEST: dict[str, Any] = {"n_folds": 4, "test_years": 0.5}

# The assets each training job trains, and so the op config it takes.
_TRAINED_BY_JOB: dict[str, tuple[str, ...]] = {
    names.PLATFORM_BOOTSTRAP_JOB: (names.PARENT_MODEL,),
    names.PARENT_TRAINING_JOB: (names.PARENT_MODEL,),
    names.ONBOARD_TICKER_JOB: (names.CHILD_MODEL, names.BACKTEST),
    names.TICKER_TRAINING_JOB: (names.CHILD_MODEL, names.BACKTEST),
}


def tiny(epochs: int = 2) -> OpConfig:
    """Op config of the tiny sizes; ``epochs`` for the parent and the child alike."""
    return {
        names.PARENT_MODEL: {"config": {**TINY_PARENT, "epochs": epochs}},
        names.CHILD_MODEL: {"config": {**TINY_CHILD, "epochs": epochs}},
        names.BACKTEST: {"config": dict(TINY_BACKTEST)},
    }


def run_configs(ops: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The run config of every training job for the op config ``ops``."""
    return {
        job: {"ops": {asset: ops[asset] for asset in assets if asset in ops}}
        for job, assets in _TRAINED_BY_JOB.items()
    }


TINY: OpConfig = tiny()
# The code location's own defaults: what `make up` trains and serves.
FULL_SIZE: OpConfig = {asset: {"config": {}} for asset in TINY}
# Tiny sizes for every run an API under test launches.
TINY_RUNS = run_configs(TINY)
