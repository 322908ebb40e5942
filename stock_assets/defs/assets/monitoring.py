"""Input drift per ticker: an Evidently report against the serving model's training window."""

import dagster as dg
import pandas as pd
from pydantic import Field

from stock_assets import names
from stock_assets.defs.assets.evaluation import CHAMPION_KEY
from stock_assets.defs.assets.market import INDICATORS_KEY
from stock_assets.defs.metadata import partitioned_check_spec
from stock_assets.defs.partitions import tickers_partitions
from stock_assets.defs.resources import MLflowResource, ModelStoreResource
from stock_assets.domain.monitoring import (
    DRIFT_FEATURE_COLUMNS,
    DriftSettings,
    InsufficientDataError,
    compute_drift,
    drift_windows,
    read_adopted_reference,
    render_drift_html,
    training_end,
    write_drift_report,
)
from stock_assets.domain.serving import UNREGISTERED, NoModelError, resolve_serving_model
from stock_assets.settings import get_settings

DRIFT_KEY = dg.AssetKey(names.DRIFT_REPORT)
DRIFT_CHECK = "drift_share_within_threshold"
_settings = get_settings()

DRIFT_CHECK_SPEC = partitioned_check_spec(
    DRIFT_CHECK,
    DRIFT_KEY,
    "The share of drifted model inputs is at most the threshold; when it fails, the retrain "
    "sensor trains a challenger (once per episode).",
)


class DriftConfig(dg.Config):
    """Windows and thresholds of the drift report (defaults from ``STOCKOPS_DRIFT_*``)."""

    current_rows: int = _settings.drift_current_rows
    reference_rows: int = _settings.drift_reference_rows
    method: str = _settings.drift_stattest
    column_threshold: float = _settings.drift_stattest_threshold
    share_threshold: float = _settings.drift_share_threshold
    html: bool = Field(
        default=False,
        description="Render Evidently's HTML report even without drift (it is rendered whenever "
        "drift is found; the API's /monitor asks for it when someone wants to read it).",
    )

    def to_settings(self) -> DriftSettings:
        return DriftSettings(
            current_rows=self.current_rows,
            reference_rows=self.reference_rows,
            method=self.method,
            column_threshold=self.column_threshold,
            share_threshold=self.share_threshold,
        )


@dg.asset(
    key=DRIFT_KEY,
    partitions_def=tickers_partitions,
    ins={"indicators": dg.AssetIn(key=INDICATORS_KEY)},
    deps=[CHAMPION_KEY],
    group_name="monitoring",
    kinds={"evidently", "html"},
    owners=["team:ml"],
    check_specs=[DRIFT_CHECK_SPEC],
)
def drift_report(
    context: dg.AssetExecutionContext,
    config: DriftConfig,
    indicators: pd.DataFrame,
    mlflow: MLflowResource,
    model_store: ModelStoreResource,
) -> dg.MaterializeResult:
    """Evidently data-drift scores of the model's stationary inputs (returns, RSI, normalised
    MACD histogram, volatility, volume z-score): the serving model's training window against
    the most recent rows. A JSON summary lands in ``outputs/drift/<ticker>/``, with Evidently's
    HTML report when drift is found or the run asks for it (``html``)."""
    ticker = context.partition_key
    settings = config.to_settings()
    try:
        serving = resolve_serving_model(mlflow.tracker(), model_store.children_root, ticker)
    except NoModelError as exc:
        raise dg.Failure(f"{exc} Drift is measured against a model's training data.") from exc
    bundle = serving.bundle
    try:
        adopted = read_adopted_reference(model_store.children_root, ticker)
        adopted_end = pd.Timestamp(adopted["data_end"]) if adopted else None
        windows = drift_windows(indicators, training_end(bundle.metadata), settings, adopted_end)
    except InsufficientDataError as exc:
        raise dg.Failure(f"No drift report for {ticker}: {exc}") from exc
    summary = compute_drift(
        windows,
        settings,
        ticker=ticker,
        model_version=serving.model_version,
        bundle_version=bundle.version,
    )
    # The report is for reading: rendered when there is something to read, or when asked.
    render = config.html or summary.dataset_drift
    json_path, html_path = write_drift_report(
        model_store.children_root,
        ticker,
        summary.to_dict(),
        (lambda path: render_drift_html(windows, settings, path)) if render else None,
    )
    context.log.info(
        f"drift {ticker}: share {summary.drift_share:.2f} (threshold {summary.threshold}), "
        f"drifted: {', '.join(summary.drifted_columns) or 'none'}"
    )
    table = pd.DataFrame([c.__dict__ for c in summary.columns])
    description = (
        f"{len(summary.drifted_columns)} of {len(summary.columns)} inputs drifted "
        f"(share {summary.drift_share:.2f}, threshold {summary.threshold})"
        + (f": {', '.join(summary.drifted_columns)}." if summary.drifted_columns else ".")
    )
    return dg.MaterializeResult(
        metadata={
            "drift_share": dg.MetadataValue.float(summary.drift_share),
            "dataset_drift": dg.MetadataValue.bool(summary.dataset_drift),
            "threshold": dg.MetadataValue.float(summary.threshold),
            "drifted_columns": dg.MetadataValue.json(summary.drifted_columns),
            "columns": dg.MetadataValue.md(table.to_markdown(index=False)),
            "reference_window": dg.MetadataValue.text(" .. ".join(summary.reference_window)),
            "current_window": dg.MetadataValue.text(" .. ".join(summary.current_window)),
            "reference_rows": dg.MetadataValue.int(summary.reference_rows),
            "current_rows": dg.MetadataValue.int(summary.current_rows),
            "method": dg.MetadataValue.text(f"{summary.method} (>= {summary.column_threshold})"),
            "model_version": dg.MetadataValue.text(serving.model_version or UNREGISTERED),
            "bundle_version": dg.MetadataValue.text(bundle.version),
            "html_report": dg.MetadataValue.text(
                str(html_path) if html_path else "not rendered (no drift; /monitor renders it)"
            ),
            "summary_json": dg.MetadataValue.path(str(json_path)),
            "features": dg.MetadataValue.json(list(DRIFT_FEATURE_COLUMNS)),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=DRIFT_CHECK,
                passed=not summary.dataset_drift,
                # A warning, not an error: nothing is broken and the forecast keeps serving; the
                # drift sensor reacts to the failure by retraining.
                severity=dg.AssetCheckSeverity.WARN,
                description=description,
                metadata={
                    "drift_share": dg.MetadataValue.float(summary.drift_share),
                    "threshold": dg.MetadataValue.float(summary.threshold),
                    "drifted_columns": dg.MetadataValue.json(summary.drifted_columns),
                    "model_version": dg.MetadataValue.text(serving.model_version or "none"),
                },
            )
        ],
    )
