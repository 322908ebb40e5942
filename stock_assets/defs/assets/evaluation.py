"""Walk-forward backtests, the promotion gate beside them, and the champion they promote."""

import hashlib
import json
from collections.abc import Iterator

import dagster as dg
import pandas as pd

from stock_assets.defs.assets.market import INDICATORS_KEY
from stock_assets.defs.assets.models import CHILD_KEY, INDEX_TICKER
from stock_assets.defs.configs import BacktestConfig
from stock_assets.defs.partitions import tickers_partitions
from stock_assets.defs.plots import interval_plot
from stock_assets.defs.resources import FeastResource, MLflowResource, ModelStoreResource
from stock_assets.defs.training import feast_training_set, index_training_set, train_logged
from stock_assets.domain.ml.artifacts import (
    ModelBundle,
    list_versions,
    load_bundle,
    save_bundle,
)
from stock_assets.domain.ml.backtest import FoldProgress, first_test_input_date, run_backtest
from stock_assets.domain.ml.dataset import prepare_data
from stock_assets.domain.ml.model import build_model
from stock_assets.domain.ml.promotion import evaluate_promotion, leakage_signs
from stock_assets.domain.storage import exclusive_lock
from stock_assets.domain.tracking import registered_model_name

BACKTEST_KEY = dg.AssetKey("backtest")
CHAMPION_KEY = dg.AssetKey("champion_model")
PROMOTION_GATE = "promotion_gate"
LEAKAGE_CHECK = "no_leakage_signs"
_TABLE_COLUMNS = [
    "horizon", "mae", "rmse", "naive_mae", "relative_mae", "directional_accuracy", "up_rate",
    "coverage", "nominal_coverage", "relative_mae_drift",
]  # fmt: skip


def _backtest_parent(
    context: dg.AssetExecutionContext,
    feast: FeastResource,
    model_store: ModelStoreResource,
    parent: ModelBundle,
    cutoff: pd.Timestamp,
) -> ModelBundle:
    """A parent trained only on index rows before ``cutoff`` (the first backtest input date).

    The production parent has seen the index during the child's test years, and the index moves
    with the stock: using it would leak the test period. One such parent per cutoff and parent
    configuration is trained and cached; a file lock keeps concurrent runs from training it twice.
    """
    config = parent.config
    digest = hashlib.sha1(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:8]
    version = f"cut{cutoff:%Y%m%d}-{digest}"
    root = model_store.backtest_parent_root
    root.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(root / ".lock"):
        if version in list_versions(root, INDEX_TICKER):
            return load_bundle(root, INDEX_TICKER, version)
        frame = index_training_set(feast, INDEX_TICKER, pd.Timestamp("1900-01-01"), cutoff)
        prepared = prepare_data(frame, config, test_fraction=0.0)
        trained = train_logged(
            context,
            f"backtest parent <{cutoff.date()}",
            model=build_model(config),
            prepared=prepared,
            config=config,
            strategy="scratch",
        )
        save_bundle(
            root,
            INDEX_TICKER,
            version,
            state_dict=trained.model.state_dict(),
            scaler=prepared.scaler,
            config=config,
            metadata={"role": "backtest_parent", "train_end_exclusive": str(cutoff.date())},
        )
        return load_bundle(root, INDEX_TICKER, version)


def _metrics_markdown(metrics: pd.DataFrame) -> str:
    table = metrics[[c for c in _TABLE_COLUMNS if c in metrics.columns]].copy()
    return table.round(4).to_markdown(index=False)


@dg.asset(
    key=BACKTEST_KEY,
    partitions_def=tickers_partitions,
    ins={"indicators": dg.AssetIn(key=INDICATORS_KEY)},
    deps=[CHILD_KEY],
    group_name="evaluation",
    kinds={"pytorch", "mlflow"},
    owners=["team:ml"],
    check_specs=[
        dg.AssetCheckSpec(
            name=PROMOTION_GATE,
            asset=BACKTEST_KEY,
            blocking=True,
            description="Relative MAE at h=1 <= 1 (+tolerance) and coverage near nominal; "
            "the latest child becomes champion only if this passes.",
        ),
        dg.AssetCheckSpec(
            name=LEAKAGE_CHECK,
            asset=BACKTEST_KEY,
            description="No horizon looks too good to be true (relative MAE <= 0.97 beyond "
            "drift, or direction >= 60%): that is leakage until proven otherwise.",
        ),
    ],
)
def backtest(
    context: dg.AssetExecutionContext,
    config: BacktestConfig,
    indicators: pd.DataFrame,
    feast: FeastResource,
    mlflow: MLflowResource,
    model_store: ModelStoreResource,
) -> Iterator[dg.Output[pd.DataFrame] | dg.AssetCheckResult]:
    """Walk-forward evaluation of the latest child over the most recent years: per fold the child
    is retrained from a parent that never saw the test period, then scored against the naive
    last-close forecast, the always-up direction rate and its nominal interval coverage."""
    ticker = context.partition_key
    try:
        child = load_bundle(model_store.children_root, ticker)
        parent = load_bundle(model_store.parent_root, INDEX_TICKER)
    except FileNotFoundError as exc:
        raise dg.Failure(f"Nothing to backtest for {ticker}: {exc}") from exc
    strategy = str(child.metadata.get("strategy", "fine_tune"))
    frame = feast_training_set(feast, ticker, indicators["event_timestamp"])
    cutoff = first_test_input_date(frame, child.config, test_years=config.test_years)
    bt_parent = _backtest_parent(context, feast, model_store, parent, cutoff)

    def on_progress(progress: FoldProgress) -> None:
        if progress.epoch is None:
            context.log.info(f"progress backtest {ticker}: fold {progress.fold}/{progress.n_folds}")

    result = run_backtest(
        frame,
        bt_parent.model.state_dict(),
        child.config,
        strategy,
        n_folds=config.n_folds,
        test_years=config.test_years,
        progress_callback=on_progress,
        parent_train_end=cutoff - pd.Timedelta(days=1),
    )
    decision = evaluate_promotion(
        result.metrics,
        max_relative_mae=config.max_relative_mae,
        relative_mae_tolerance=config.relative_mae_tolerance,
        coverage_tolerance=config.coverage_tolerance,
    )
    signs = leakage_signs(result.metrics)
    table = result.metrics.copy()
    table.insert(0, "ticker", ticker)
    table["bundle_version"] = child.version
    table["strategy"] = strategy
    table["promoted"] = decision.passed
    table["gate_reason"] = decision.description

    tracker = mlflow.tracker()
    model_name = registered_model_name(ticker)
    model_version = tracker.version_for_bundle(model_name, child.version)
    if model_version is not None:
        run_id = tracker.run_id_for_version(model_name, model_version)
        if run_id:
            tracker.log_metrics_to_run(
                run_id,
                {
                    f"backtest_{col}_h{int(row['horizon'])}": float(row[col])
                    for _, row in result.metrics.iterrows()
                    for col in ("relative_mae", "mae", "rmse", "directional_accuracy", "coverage")
                },
            )
        tracker.set_version_tag(model_name, model_version, "promotion_gate", decision.description)

    plot_frame = result.plot_frame(1).rename(columns={"target_date": "date"})
    yield dg.Output(
        table,
        metadata={
            "metrics": dg.MetadataValue.md(_metrics_markdown(result.metrics)),
            "h1_forecast_vs_actual": interval_plot(plot_frame, f"{ticker} backtest, h=1"),
            "relative_mae_h1": dg.MetadataValue.float(decision.details["relative_mae_h1"]),
            "mean_coverage": dg.MetadataValue.float(decision.details["mean_coverage"]),
            "promotion": dg.MetadataValue.text(decision.description),
            "bundle_version": dg.MetadataValue.text(child.version),
            "model_version": dg.MetadataValue.text(model_version or "unregistered"),
            "strategy": dg.MetadataValue.text(strategy),
            "folds": dg.MetadataValue.json([f.__dict__ for f in result.folds]),
            "parent_train_end_exclusive": dg.MetadataValue.text(str(cutoff.date())),
        },
    )
    yield dg.AssetCheckResult(
        check_name=PROMOTION_GATE,
        passed=decision.passed,
        description=decision.description,
        metadata={k: v for k, v in decision.details.items() if v is not None},
    )
    yield dg.AssetCheckResult(
        check_name=LEAKAGE_CHECK,
        passed=not signs,
        severity=dg.AssetCheckSeverity.WARN,
        description="No horizon beats naive suspiciously."
        if not signs
        else "Suspiciously good, investigate for leakage: " + "; ".join(signs),
    )


@dg.asset(
    key=CHAMPION_KEY,
    partitions_def=tickers_partitions,
    ins={"backtest": dg.AssetIn(key=BACKTEST_KEY)},
    group_name="evaluation",
    kinds={"mlflow"},
    owners=["team:ml"],
)
def champion_model(
    context: dg.AssetExecutionContext, backtest: pd.DataFrame, mlflow: MLflowResource
) -> dg.MaterializeResult:
    """The child version that serves forecasts: the MLflow alias ``champion``.

    Runs only after the backtest's blocking promotion gate passed; when it fails, this asset is
    skipped and the previous champion (if any) keeps serving.
    """
    ticker = context.partition_key
    bundle_version = str(backtest["bundle_version"].iloc[0])
    if not bool(backtest["promoted"].iloc[0]):
        raise dg.Failure(f"Backtest did not pass the gate: {backtest['gate_reason'].iloc[0]}")
    tracker = mlflow.tracker()
    model_name = registered_model_name(ticker)
    version = tracker.version_for_bundle(model_name, bundle_version)
    if version is None:
        raise dg.Failure(f"No registered MLflow version of {model_name} for {bundle_version}.")
    previous = tracker.champion(model_name)
    tracker.set_champion(model_name, version)
    return dg.MaterializeResult(
        metadata={
            "model": dg.MetadataValue.text(model_name),
            "champion_version": dg.MetadataValue.text(version),
            "bundle_version": dg.MetadataValue.text(bundle_version),
            "previous_champion": dg.MetadataValue.text(
                previous.model_version if previous else "none"
            ),
            "reason": dg.MetadataValue.text(str(backtest["gate_reason"].iloc[0])),
        }
    )
