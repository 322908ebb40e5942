"""Served forecasts kept and scored: the forecast archive and live skill, per ticker."""

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from stock_assets import names
from stock_assets.defs.assets.evaluation import BACKTEST_KEY
from stock_assets.defs.assets.forecasting import FORECAST_KEY, forecast_table
from stock_assets.defs.assets.market import INDICATORS_KEY
from stock_assets.defs.metadata import partitioned_check_spec
from stock_assets.defs.partitions import tickers_partitions
from stock_assets.defs.plots import live_skill_plot
from stock_assets.defs.resources import MLflowResource, ModelStoreResource, TableStoreResource
from stock_assets.domain.ml.evaluation import evaluation_from_table
from stock_assets.domain.ml.live import (
    ARCHIVE_KEY,
    WINDOWS,
    Promise,
    append_forecast,
    archive_kept,
    decay_test,
    score_matured,
)
from stock_assets.domain.ml.live import live_skill as live_skill_table
from stock_assets.domain.serving import resolve_serving_model
from stock_assets.settings import get_settings

FORECAST_ARCHIVE_KEY = dg.AssetKey(names.FORECAST_ARCHIVE)
LIVE_SKILL_KEY = dg.AssetKey(names.LIVE_SKILL)
ARCHIVE_CHECK = "append_only"
LIVE_SKILL_CHECK = "live_skill_holds"

LIVE_SKILL_CHECK_SPEC = partitioned_check_spec(
    LIVE_SKILL_CHECK,
    LIVE_SKILL_KEY,
    "The served model's live errors are not significantly worse than its backtest promised "
    "(Diebold-Mariano per horizon, Bonferroni); when it fails, the retrain sensor trains a "
    "challenger.",
)


# At most this many missed sessions are forecast after the fact in one materialization.
MAX_CATCH_UP_SESSIONS = 20


def missed_sessions(
    previous: pd.DataFrame | None, forecast: pd.DataFrame, indicators: pd.DataFrame
) -> list[pd.Timestamp]:
    """Sessions with data after the last archived forecast and before this one's as-of."""
    if previous is None or previous.empty:
        return []
    last = pd.Timestamp(previous["as_of"].max())
    now = pd.Timestamp(forecast["as_of"].iloc[0])
    dates = pd.to_datetime(indicators["date"])
    missed = dates[(dates > last) & (dates < now)]
    return list(missed.tail(MAX_CATCH_UP_SESSIONS))


@dg.asset(
    key=FORECAST_ARCHIVE_KEY,
    partitions_def=tickers_partitions,
    ins={"forecast": dg.AssetIn(key=FORECAST_KEY), "indicators": dg.AssetIn(key=INDICATORS_KEY)},
    group_name="forecasting",
    kinds={"pandas", "parquet"},
    owners=["team:ml"],
    check_specs=[
        dg.AssetCheckSpec(
            name=ARCHIVE_CHECK,
            asset=FORECAST_ARCHIVE_KEY,
            blocking=True,
            description="Every archived forecast is kept unchanged; one row per session, "
            "horizon and model.",
        )
    ],
)
def forecast_archive(
    context: dg.AssetExecutionContext,
    forecast: pd.DataFrame,
    indicators: pd.DataFrame,
    tables: TableStoreResource,
    mlflow: MLflowResource,
    model_store: ModelStoreResource,
) -> Iterator[dg.Output[pd.DataFrame] | dg.AssetCheckResult]:
    """Every forecast this ticker was served, per as-of session, with the model that made it.

    Append-only: each materialization adds the current forecast (unless the same model already
    forecast that session) and never rewrites an earlier row; live scoring reads it. When
    sessions arrived since the last archived forecast without one (a replay advancing several
    sessions per tick, a missed daily run), the model serving now, which served them, forecasts
    each from the rows up to it (the same computation as on the day), marked ``caught_up``.
    """
    ticker = context.partition_key
    previous = tables.stored(FORECAST_ARCHIVE_KEY, ticker)
    now = datetime.now(UTC).isoformat()
    missed = missed_sessions(previous, forecast, indicators)
    archive = previous
    added = 0
    if missed:
        serving = resolve_serving_model(mlflow.tracker(), model_store.children_root, ticker)
        if serving.bundle.version == str(forecast["bundle_version"].iloc[0]):
            for session in missed:
                table, _ = forecast_table(serving, indicators, ticker, as_of=session)
                archive, n = append_forecast(archive, table.assign(caught_up=True), now)
                added += n
    archive, n = append_forecast(archive, forecast, now)
    added += n
    kept = archive_kept(previous, archive)
    duplicated = int(archive.duplicated(list(ARCHIVE_KEY)).sum())
    sessions = archive["as_of"].nunique()
    yield dg.Output(
        archive,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(archive)),
            "rows_added": dg.MetadataValue.int(added),
            "sessions_caught_up": dg.MetadataValue.int(len(missed)),
            "sessions": dg.MetadataValue.int(int(sessions)),
            "first_as_of": dg.MetadataValue.text(str(pd.Timestamp(archive["as_of"].min()).date())),
            "last_as_of": dg.MetadataValue.text(str(pd.Timestamp(archive["as_of"].max()).date())),
            "models": dg.MetadataValue.json(sorted(archive["bundle_version"].astype(str).unique())),
        },
    )
    yield dg.AssetCheckResult(
        check_name=ARCHIVE_CHECK,
        passed=kept and duplicated == 0,
        description=(
            f"{len(archive)} rows over {sessions} sessions, {added} added, none rewritten."
            if kept and duplicated == 0
            else f"Archive integrity broken: earlier rows kept={kept}, duplicate keys={duplicated}."
        ),
    )


def _promises(backtest: pd.DataFrame, latest: pd.DataFrame) -> list[Promise]:
    """The backtest's skill per horizon for the model serving now (``latest``: the newest
    archived forecast's rows); none when the backtest describes another model (then there is
    no promise to hold it to)."""
    if "served" not in backtest.columns:
        return []
    evaluation = evaluation_from_table(backtest)
    rows = latest.sort_values("horizon")
    # Rows archived before per-horizon plans name the bundle only.
    components = (
        rows["component_bundle"].fillna(rows["bundle_version"])
        if "component_bundle" in rows.columns
        else rows["bundle_version"]
    )
    serving = list(zip(rows["model"].astype(str), components.astype(str), strict=True))
    if not evaluation.describes(serving):
        return []
    return [Promise(h.horizon, h.relative_mae, h.coverage) for h in evaluation.horizons]


@dg.asset(
    key=LIVE_SKILL_KEY,
    partitions_def=tickers_partitions,
    ins={
        "forecast_archive": dg.AssetIn(key=FORECAST_ARCHIVE_KEY),
        "indicators": dg.AssetIn(key=INDICATORS_KEY),
        "backtest": dg.AssetIn(key=BACKTEST_KEY),
    },
    group_name="monitoring",
    kinds={"pandas", "parquet"},
    owners=["team:ml"],
    check_specs=[LIVE_SKILL_CHECK_SPEC],
)
def live_skill(
    context: dg.AssetExecutionContext,
    forecast_archive: pd.DataFrame,
    indicators: pd.DataFrame,
    backtest: pd.DataFrame,
) -> Iterator[dg.Output[pd.DataFrame] | dg.AssetCheckResult]:
    """How the served forecasts did once their target sessions arrived, beside what the backtest
    promised: per horizon over the last 20, the last 60 and all matured forecasts, MAE relative
    to naive, direction against always-up, interval coverage and pinball loss. Forecasts whose
    target session has not arrived are not scored. The check tests the serving model's live
    errors against its promise."""
    settings = get_settings()
    scored = score_matured(forecast_archive, indicators[["date", "close"]])
    table = live_skill_table(scored, WINDOWS)
    latest = forecast_archive.sort_values("archived_at").iloc[-1]
    serving_bundle = str(latest["bundle_version"])
    newest = forecast_archive[
        (forecast_archive["archived_at"] == latest["archived_at"])
        & (forecast_archive["bundle_version"] == latest["bundle_version"])
    ]
    promises = _promises(backtest, newest)
    verdict = decay_test(
        scored,
        promises,
        serving_bundle,
        alpha=settings.decay_alpha,
        min_forecasts=settings.decay_min_forecasts,
    )
    by_h = {p.horizon: p for p in promises}
    table["promised_relative_mae"] = table["horizon"].map(
        lambda h: by_h[h].relative_mae if h in by_h else None
    )
    table["promised_coverage"] = table["horizon"].map(
        lambda h: by_h[h].coverage if h in by_h else None
    )
    table["decayed"] = verdict.decayed
    table["served_bundle"] = serving_bundle
    pending = len(forecast_archive) - len(scored)
    overall = table[table["window"] == 0]
    metadata: dict[str, dg.MetadataValue] = {
        "dagster/row_count": dg.MetadataValue.int(len(table)),
        "matured_forecasts": dg.MetadataValue.int(len(scored)),
        "pending_forecasts": dg.MetadataValue.int(int(pending)),
        "served_bundle": dg.MetadataValue.text(serving_bundle),
        "decayed": dg.MetadataValue.bool(verdict.decayed),
        "verdict": dg.MetadataValue.text(verdict.reason),
    }
    if not overall.empty:
        metadata["live_vs_backtest"] = dg.MetadataValue.md(
            overall[
                [
                    "horizon",
                    "n",
                    "relative_mae",
                    "promised_relative_mae",
                    "coverage",
                    "promised_coverage",
                    "directional_accuracy",
                    "up_rate",
                    "pinball_pct",
                ]
            ]
            .round(3)
            .to_markdown(index=False)
        )
        first = overall.iloc[0]
        metadata["live_relative_mae_h1"] = dg.MetadataValue.float(float(first["relative_mae"]))
        metadata["live_coverage_h1"] = dg.MetadataValue.float(float(first["coverage"]))
    if len(scored) >= 2:
        metadata["chart"] = live_skill_plot(
            scored, by_h, f"{context.partition_key}: rolling live skill (20 forecasts)"
        )
    yield dg.Output(table, metadata=metadata)
    yield dg.AssetCheckResult(
        check_name=LIVE_SKILL_CHECK,
        passed=not verdict.decayed,
        # A warning: the forecast keeps serving while the retrain sensor trains a challenger.
        severity=dg.AssetCheckSeverity.WARN,
        description=verdict.reason,
        metadata={
            "matured": dg.MetadataValue.int(verdict.matured),
            "tests": dg.MetadataValue.int(verdict.tests),
            "p_threshold": dg.MetadataValue.float(verdict.threshold),
            "served_bundle": dg.MetadataValue.text(serving_bundle),
            "findings": dg.MetadataValue.json([f.__dict__ for f in verdict.findings]),
        },
    )
