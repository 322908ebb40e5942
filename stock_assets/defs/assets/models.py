"""The parent LSTM (trained on the index) and per-ticker children made from it by transfer."""

from typing import Any

import dagster as dg
import pandas as pd

from stock_assets import names
from stock_assets.defs.assets.features import FEATURE_DEFINITIONS_KEY
from stock_assets.defs.assets.market import INDICATORS_KEY
from stock_assets.defs.configs import ChildModelConfig, ParentModelConfig
from stock_assets.defs.partitions import tickers_partitions
from stock_assets.defs.resources import FeastResource, MLflowResource, ModelStoreResource
from stock_assets.defs.training import (
    dagster_tags,
    feast_training_set,
    publish,
    train_logged,
    training_metadata,
)
from stock_assets.domain.ml.artifacts import load_bundle
from stock_assets.domain.ml.candidates import config_digest, lstm_recipe, recipe_id
from stock_assets.domain.ml.dataset import prepare_data
from stock_assets.settings import get_settings

PARENT_KEY = dg.AssetKey(names.PARENT_MODEL)
CHILD_KEY = dg.AssetKey(names.CHILD_MODEL)
INDEX_TICKER = get_settings().index_ticker


def _model() -> Any:
    """The LSTM module, imported when a model is built: torch loads with training, not with the
    code location (a data or forecast run never needs it)."""
    from stock_assets.domain.ml import model

    return model


@dg.asset(
    key=PARENT_KEY,
    ins={
        "index_indicators": dg.AssetIn(
            key=INDICATORS_KEY,
            partition_mapping=dg.SpecificPartitionsPartitionMapping([INDEX_TICKER]),
        )
    },
    deps=[FEATURE_DEFINITIONS_KEY],
    group_name="models",
    pool=names.TRAINING_POOL,
    kinds={"pytorch", "mlflow"},
    owners=["team:ml"],
)
def parent_model(
    context: dg.AssetExecutionContext,
    config: ParentModelConfig,
    index_indicators: pd.DataFrame,
    feast: FeastResource,
    mlflow: MLflowResource,
    model_store: ModelStoreResource,
) -> dg.MaterializeResult:
    """LSTM forecaster of 1..7-day log returns (quantile head) trained on the S&P 500 index.

    Its training set is the Feast point-in-time join for the index partition; time-ordered
    train/validation/test splits with a lookback+horizon gap; scaler fit on the train split only.
    Every child model starts from its weights.
    """
    model_config = config.to_model_config()
    frame = feast_training_set(feast, INDEX_TICKER, index_indicators["event_timestamp"])
    # No held-out test split: honest evaluation is the walk-forward backtest's job, and the most
    # recent data (the validation split, for early stopping) matters most for forecasting.
    prepared = prepare_data(frame, model_config, test_fraction=0.0)
    trained = train_logged(
        context,
        "parent",
        model=_model().build_model(model_config),
        prepared=prepared,
        config=model_config,
        strategy="scratch",
    )
    published = publish(
        trained,
        model_config,
        root=model_store.parent_root,
        bundle_ticker=INDEX_TICKER,
        registry_ticker=None,
        tracker=mlflow.tracker(),
        metadata={"role": "parent"},
        params={"index": INDEX_TICKER},
        tags={"role": "parent", **dagster_tags(context)},
    )
    return dg.MaterializeResult(metadata={**training_metadata(trained), **published.metadata()})


@dg.asset(
    key=CHILD_KEY,
    partitions_def=tickers_partitions,
    ins={"indicators": dg.AssetIn(key=INDICATORS_KEY)},
    deps=[PARENT_KEY],
    group_name="models",
    pool=names.TRAINING_POOL,
    kinds={"pytorch", "mlflow"},
    owners=["team:ml"],
)
def child_model(
    context: dg.AssetExecutionContext,
    config: ChildModelConfig,
    indicators: pd.DataFrame,
    feast: FeastResource,
    mlflow: MLflowResource,
    model_store: ModelStoreResource,
) -> dg.MaterializeResult:
    """A per-ticker forecaster initialised from the latest parent by transfer learning.

    ``freeze`` trains only the head on frozen parent LSTM layers, ``fine_tune`` trains all layers
    at a lower learning rate, ``scratch`` ignores the parent (the baseline transfer must beat).
    Written as an immutable bundle under ``outputs/<ticker>/<version>/`` and registered in MLflow.
    """
    ticker = context.partition_key
    try:
        parent = load_bundle(model_store.parent_root, INDEX_TICKER)
    except FileNotFoundError as exc:
        raise dg.Failure("No parent model yet: materialize 'parent_model' first.") from exc
    model_config = config.apply(parent.config)
    frame = feast_training_set(feast, ticker, indicators["event_timestamp"])
    # No held-out test split: honest evaluation is the walk-forward backtest's job, and the most
    # recent data (the validation split, for early stopping) matters most for forecasting.
    prepared = prepare_data(frame, model_config, test_fraction=0.0)
    model = _model().init_child_from_parent(
        parent.model.state_dict(), model_config, config.strategy
    )
    trained = train_logged(
        context,
        f"child {ticker}",
        model=model,
        prepared=prepared,
        config=model_config,
        strategy=config.strategy,
    )
    as_of = str(
        pd.Timestamp(frame["event_timestamp"].iloc[-1]).tz_convert("America/New_York").date()
    )
    # The recipe (config, strategy, the parent's configuration) is what the backtest re-runs
    # per fold; its id tells a retrain of the champion's own recipe from a rival one.
    recipe = lstm_recipe(model_config, config.strategy, config_digest(parent.config))
    lineage = {
        "strategy": config.strategy,
        "parent_version": parent.version,
        "recipe_id": recipe_id(recipe),
    }
    published = publish(
        trained,
        model_config,
        root=model_store.children_root,
        bundle_ticker=ticker,
        registry_ticker=ticker,
        tracker=mlflow.tracker(),
        metadata={"role": "child", "data_as_of": as_of, "recipe": recipe, **lineage},
        params=lineage,
        tags={
            "role": "child",
            "kind": "lstm",
            "ticker": ticker,
            "strategy": config.strategy,
            "recipe_id": lineage["recipe_id"],
            **dagster_tags(context),
        },
    )
    return dg.MaterializeResult(
        metadata={
            **training_metadata(trained),
            **published.metadata(),
            **{k: dg.MetadataValue.text(v) for k, v in lineage.items()},
            "data_as_of": dg.MetadataValue.text(as_of),
        }
    )
