"""The code location loads, and the asset graph has the lineage the design promises."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg

from stock_assets import names
from stock_assets.definitions import defs


def _parents(name: str) -> set[str]:
    graph = defs.resolve_asset_graph()
    return {k.to_user_string() for k in graph.get(dg.AssetKey(name)).parent_keys}


def test_definitions_load_and_resolve() -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert set(names.ASSETS) == keys
    assert _parents(names.INDICATORS) == {names.OHLCV}
    assert _parents(names.ONLINE_FEATURES) == {names.INDICATORS, names.FEATURE_DEFINITIONS}
    # data -> features -> parent -> child -> backtest -> champion -> forecast
    assert names.INDICATORS in _parents(names.PARENT_MODEL)
    assert names.PARENT_MODEL in _parents(names.CHILD_MODEL)
    assert names.CHILD_MODEL in _parents(names.BACKTEST)
    # The champion is decided by the backtest; the data is there to fit a baseline it may serve.
    assert _parents(names.CHAMPION_MODEL) == {names.BACKTEST, names.INDICATORS}
    assert names.CHAMPION_MODEL in _parents(names.FORECAST)
    for job in names.JOBS:
        assert defs.resolve_job_def(job) is not None


def test_loading_the_code_location_leaves_feast_unimported() -> None:
    """Every process that loads the definitions (the webserver's and daemon's code server, each
    run, the API) would pay Feast's import, seconds on two cores; only opening a store needs it."""
    probe = "import sys, stock_assets.definitions; print('feast' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert loaded.stdout.strip() == "False", loaded.stderr[-2000:]


def test_the_leakage_check_blocks_the_champion_and_the_gate_warns() -> None:
    """A leak stops ``champion_model`` (nothing changes what serves); a challenger that is not
    promoted is a warning: the policy then keeps the champion or serves the best baseline, which
    ``champion_model`` must still carry out."""
    specs = {
        s.name: s
        for s in defs.resolve_assets_def(
            dg.AssetKey(names.BACKTEST)
        ).check_specs_by_output_name.values()
    }
    assert specs["no_leakage_signs"].blocking
    assert not specs["promotion_gate"].blocking and not specs["calibrated_coverage"].blocking


def test_dagster_cloud_config_points_at_the_code_location() -> None:
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((root / "dagster_cloud" / "dagster_cloud.yaml").read_text())
    (location,) = config["locations"]
    assert location["code_source"]["module_name"] == "stock_assets.definitions"
    # No build section: the images are built by CI from the repository root (docker/).
    assert "build" not in location
    assert (root / "pyproject.toml").exists()
