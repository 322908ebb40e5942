"""The code location loads, and the asset graph has the lineage the design promises."""

from __future__ import annotations

import dagster as dg

from stock_assets.definitions import defs


def test_definitions_load_and_resolve() -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {
        "ohlcv", "indicators", "feature_definitions", "online_features", "parent_model",
        "child_model", "backtest", "champion_model", "forecast",
    } <= keys  # fmt: skip
    assert graph.get(dg.AssetKey("indicators")).parent_keys == {dg.AssetKey("ohlcv")}
    assert graph.get(dg.AssetKey("online_features")).parent_keys == {
        dg.AssetKey("indicators"),
        dg.AssetKey("feature_definitions"),
    }
    # data -> features -> parent -> child -> backtest -> champion -> forecast
    assert dg.AssetKey("indicators") in graph.get(dg.AssetKey("parent_model")).parent_keys
    assert dg.AssetKey("parent_model") in graph.get(dg.AssetKey("child_model")).parent_keys
    assert dg.AssetKey("child_model") in graph.get(dg.AssetKey("backtest")).parent_keys
    # The champion is decided by the backtest; the data is there to fit a baseline it may serve.
    assert graph.get(dg.AssetKey("champion_model")).parent_keys == {
        dg.AssetKey("backtest"),
        dg.AssetKey("indicators"),
    }
    assert dg.AssetKey("champion_model") in graph.get(dg.AssetKey("forecast")).parent_keys
    for job in ("platform_bootstrap", "onboard_ticker", "ticker_training", "ticker_refresh"):
        assert defs.resolve_job_def(job) is not None


def test_the_leakage_check_blocks_the_champion_and_the_gate_warns() -> None:
    """A leak stops ``champion_model`` (nothing changes what serves); a challenger that is not
    promoted is a warning: the policy then keeps the champion or serves the best baseline, which
    ``champion_model`` must still carry out."""
    specs = {
        s.name: s
        for s in defs.resolve_assets_def(
            dg.AssetKey("backtest")
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
    assert (root / "dagster_cloud" / location["build"]["directory"] / "pyproject.toml").exists()
