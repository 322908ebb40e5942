"""A trained tiny platform shared by the agent and /analyze tests: built once per test process.

Real Dagster runs on the offline sample: Feast registry, ^GSPC and AAPL data, a tiny parent,
child, backtest under the real promotion policy, champion and forecast (tiny sizes, as in the model
tests). On real AAPL prices no tiny LSTM beats the naive forecast, so the champion is the naive
baseline: the reports are written about what is really served.
"""

from __future__ import annotations

import atexit
import functools
import tempfile
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from stock_assets.defs.assets.agents import agent_report
from stock_assets.defs.assets.evaluation import backtest, champion_model
from stock_assets.defs.assets.features import feature_definitions, online_features
from stock_assets.defs.assets.forecasting import forecast
from stock_assets.defs.assets.market import indicators, ohlcv
from stock_assets.defs.assets.models import child_model, parent_model
from stock_assets.defs.partitions import TICKERS_PARTITION
from stock_assets.defs.resources import resources_from_settings
from stock_assets.domain.serving import ServingModel, resolve_serving_model
from stock_assets.domain.tracking import ModelTracker
from stock_assets.settings import Settings

TICKER = "AAPL"
INDEX = "^GSPC"
TINY_PARENT = {"lookback": 20, "hidden_size": 8, "num_layers": 1, "epochs": 2, "patience": 1}
TINY_CHILD = {"epochs": 2, "patience": 1, "strategy": "fine_tune"}
BACKTEST = {"n_folds": 4, "test_years": 0.5}
ASSETS = [
    ohlcv, indicators, feature_definitions, online_features, parent_model, child_model, backtest,
    champion_model, forecast, agent_report,
]  # fmt: skip


@dataclass
class Platform:
    instance: dg.DagsterInstance
    resources: dict
    settings: Settings

    def run(
        self, assets: list, config: dict | None = None, partition: str | None = None
    ) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            ASSETS,
            selection=assets,
            partition_key=partition,
            instance=self.instance,
            resources=self.resources,
            run_config={"ops": config or {}},
            raise_on_error=False,
        )

    def serving(self, ticker: str = TICKER) -> ServingModel:
        tracker = ModelTracker(self.settings.resolved_mlflow_tracking_uri)
        return resolve_serving_model(tracker, self.settings.resolved_outputs_dir, ticker)


@functools.cache
def trained_platform() -> Platform:
    """Feast registry, ^GSPC + AAPL data, and an AAPL champion with its forecast (~30 s)."""
    root = Path(tempfile.mkdtemp(prefix="stockops-agents-"))
    (root / "dagster").mkdir()
    settings = Settings(data_dir=root / "data")
    context = dg.instance_for_test(temp_dir=str(root / "dagster"))
    instance = context.__enter__()
    atexit.register(context.__exit__, None, None, None)
    platform = Platform(instance, resources_from_settings(settings), settings)
    instance.add_dynamic_partitions(TICKERS_PARTITION, [INDEX, TICKER])
    assert platform.run([feature_definitions]).success
    for ticker in (INDEX, TICKER):
        assert platform.run([ohlcv, indicators, online_features], partition=ticker).success
    assert platform.run([parent_model], {"parent_model": {"config": TINY_PARENT}}).success
    trained = platform.run(
        [child_model, backtest, champion_model, forecast],
        {"child_model": {"config": TINY_CHILD}, "backtest": {"config": BACKTEST}},
        partition=TICKER,
    )
    assert trained.success
    return platform
