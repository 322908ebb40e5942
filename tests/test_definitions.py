"""The code location loads, and the asset graph has the lineage the design promises."""

from __future__ import annotations

import dagster as dg

from stock_assets.definitions import defs


def test_definitions_load_and_resolve() -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"ohlcv", "indicators", "feature_definitions", "online_features"} <= keys
    assert graph.get(dg.AssetKey("indicators")).parent_keys == {dg.AssetKey("ohlcv")}
    assert graph.get(dg.AssetKey("online_features")).parent_keys == {
        dg.AssetKey("indicators"),
        dg.AssetKey("feature_definitions"),
    }
    assert defs.resolve_job_def("ticker_refresh") is not None


def test_every_asset_has_a_description() -> None:
    for spec in defs.resolve_all_asset_specs():
        assert spec.description, spec.key
