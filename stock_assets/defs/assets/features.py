"""Feast: register the feature definitions, then materialize each ticker into the online store."""

import dagster as dg
import pandas as pd

from stock_assets import names
from stock_assets.defs.partitions import tickers_partitions
from stock_assets.defs.resources import FeastResource
from stock_assets.domain.feature_store.definitions import INDICATOR_VIEW
from stock_assets.domain.feature_store.store import (
    OnlineFeatureReader,
    apply_definitions,
    write_latest_online,
)

FEATURE_DEFINITIONS_KEY = dg.AssetKey(names.FEATURE_DEFINITIONS)
ONLINE_FEATURES_KEY = dg.AssetKey(names.ONLINE_FEATURES)


@dg.asset(
    key=FEATURE_DEFINITIONS_KEY,
    group_name="features",
    kinds={"feast"},
    owners=["team:data"],
)
def feature_definitions(feast: FeastResource) -> dg.MaterializeResult:
    """The Feast registry: entity ``ticker``, the indicator file source, the feature view and the
    ``lstm_inputs`` feature service, applied (created or updated) in one step."""
    store = feast.store()
    names = apply_definitions(store, feast.definitions())
    views = [fv.name for fv in store.list_feature_views()]
    return dg.MaterializeResult(
        metadata={
            "applied": dg.MetadataValue.json(names),
            "feature_views": dg.MetadataValue.json(views),
            "registry": dg.MetadataValue.path(str(store.config.registry.path)),
        }
    )


@dg.asset(
    key=ONLINE_FEATURES_KEY,
    partitions_def=tickers_partitions,
    deps=[FEATURE_DEFINITIONS_KEY],
    group_name="features",
    kinds={"feast", "sqlite"},
    owners=["team:data"],
    check_specs=[
        dg.AssetCheckSpec(
            name="online_matches_offline",
            asset=ONLINE_FEATURES_KEY,
            description="The online store serves this ticker's latest offline feature row.",
        )
    ],
)
def online_features(
    context: dg.AssetExecutionContext, feast: FeastResource, indicators: pd.DataFrame
) -> dg.MaterializeResult:
    """This ticker's latest feature row, materialized into the Feast online store for serving."""
    store = feast.store()
    if INDICATOR_VIEW not in {fv.name for fv in store.list_feature_views()}:
        raise dg.Failure(
            "The Feast registry has no feature view "
            f"{INDICATOR_VIEW!r}: materialize the 'feature_definitions' asset first."
        )
    ticker = context.partition_key
    written = write_latest_online(store, indicators.drop(columns=["date"], errors="ignore"))
    served = OnlineFeatureReader(store).read([ticker]).to_dict(orient="list")
    mismatched = [
        name
        for name, values in served.items()
        if name != "ticker" and not _same(values[0], written.get(name))
    ]
    return dg.MaterializeResult(
        metadata={
            "event_timestamp": dg.MetadataValue.text(str(written["event_timestamp"])),
            "online_row": dg.MetadataValue.json({k: v[0] for k, v in served.items()}),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="online_matches_offline",
                passed=not mismatched,
                description=(
                    "Online values equal the offline row."
                    if not mismatched
                    else f"Online store differs on {', '.join(mismatched)}."
                ),
            )
        ],
    )


def _same(online: object, offline: object) -> bool:
    if online is None or offline is None:
        return online is None and offline is None
    return abs(float(online) - float(offline)) <= 1e-9 * max(1.0, abs(float(offline)))  # type: ignore[arg-type]
