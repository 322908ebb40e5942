"""The latest 7-trading-day forecast per ticker, from the model that serves it."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from stock_assets import names
from stock_assets.defs.assets.evaluation import BACKTEST_KEY, CHAMPION_KEY
from stock_assets.defs.assets.market import INDICATORS_KEY
from stock_assets.defs.partitions import tickers_partitions
from stock_assets.defs.plots import interval_plot
from stock_assets.defs.resources import MLflowResource, ModelStoreResource
from stock_assets.domain.ml.dataset import clean_frame
from stock_assets.domain.ml.evaluation import evaluation_from_table
from stock_assets.domain.ml.forecast import ForecastResult, forecast_next
from stock_assets.domain.ml.policy import INSUFFICIENT_HISTORY
from stock_assets.domain.serving import (
    UNREGISTERED,
    NoModelError,
    ServingModel,
    resolve_serving_model,
    result_table,
)

FORECAST_KEY = dg.AssetKey(names.FORECAST)
HISTORY_CHECK = "judged_on_current_history"


def history_verdict(
    backtest: pd.DataFrame, indicators: pd.DataFrame, serving: ServingModel, ticker: str
) -> dg.AssetCheckResult:
    """Fails (a warning the retrain sensor acts on) when the served decision was made for too
    short a history and the ticker now has the sessions a backtest needs: its models can be
    judged, and the naive forecast should not keep serving by default."""
    first = backtest.iloc[0] if not backtest.empty else None
    if first is None or str(first.get("outcome")) != INSUFFICIENT_HISTORY:
        return dg.AssetCheckResult(
            check_name=HISTORY_CHECK,
            passed=True,
            description=f"{ticker}'s served model was decided on a full walk-forward backtest.",
        )
    sessions = len(clean_frame(indicators, serving.bundle.config.feature_columns, "date"))
    needed = int(first["sessions_needed"])
    metadata = {"sessions": sessions, "sessions_needed": needed}
    if sessions < needed:
        return dg.AssetCheckResult(
            check_name=HISTORY_CHECK,
            passed=True,
            description=f"{ticker} has {sessions} of the {needed} sessions a backtest needs; "
            "the naive forecast serves until then.",
            metadata=metadata,
        )
    return dg.AssetCheckResult(
        check_name=HISTORY_CHECK,
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{ticker} now has {sessions} sessions of complete history, and a backtest "
        f"needs {needed}: its last decision (on {int(first['sessions'])}) served the naive "
        "forecast for lack of history. A retrain will judge its models.",
        metadata=metadata,
    )


def forecast_table(
    serving: ServingModel, indicators: pd.DataFrame, ticker: str, as_of: pd.Timestamp | None = None
) -> tuple[pd.DataFrame, ForecastResult]:
    """The served model's forecast after ``as_of`` (default: the last row), as stored and
    archived: one row per horizon with the model that made it."""
    result = forecast_next(
        serving.bundle,
        indicators,
        as_of=as_of,
        ticker=ticker,
        model_version=serving.model_version,
        timestamp_column="date",
    )
    return result_table(serving, result, ticker), result


@dg.asset(
    key=FORECAST_KEY,
    partitions_def=tickers_partitions,
    # The backtest table carries the served model's measured skill, stated beside the forecast.
    ins={"indicators": dg.AssetIn(key=INDICATORS_KEY), "backtest": dg.AssetIn(key=BACKTEST_KEY)},
    deps=[CHAMPION_KEY],
    group_name="forecasting",
    kinds={"pytorch", "pandas"},
    owners=["team:ml"],
    check_specs=[
        dg.AssetCheckSpec(
            name=HISTORY_CHECK,
            asset=FORECAST_KEY,
            description="A ticker served the naive forecast for lack of history is judged again "
            "once it has the sessions a backtest needs (a warning the retrain sensor acts on).",
        )
    ],
)
def forecast(
    context: dg.AssetExecutionContext,
    indicators: pd.DataFrame,
    backtest: pd.DataFrame,
    mlflow: MLflowResource,
    model_store: ModelStoreResource,
) -> Iterator[dg.Output[pd.DataFrame] | dg.AssetCheckResult]:
    """Median and calibrated interval prices for the next 7 NYSE trading days after the last data
    date, from the MLflow ``champion``: the model the promotion policy chose (an LSTM, or the best
    baseline when no learned model beat it), named in the table with its measured skill."""
    ticker = context.partition_key
    try:
        serving = resolve_serving_model(mlflow.tracker(), model_store.children_root, ticker)
    except NoModelError as exc:
        raise dg.Failure(
            f"{exc} Materialize 'child_model', 'backtest' and 'champion_model' for {ticker}."
        ) from exc
    evaluation = evaluation_from_table(backtest) if "served" in backtest.columns else None
    table, result = forecast_table(serving, indicators, ticker)
    history = indicators[["date", "close"]].tail(60)
    chart = pd.concat(
        [
            history.assign(median=history["close"], lower=history["close"], upper=history["close"]),
            table.assign(date=pd.to_datetime(table["date"])),
        ]
    )
    yield dg.Output(
        table,
        metadata={
            "as_of": dg.MetadataValue.text(result.as_of),
            "last_close": dg.MetadataValue.float(round(result.last_close, 4)),
            "model_version": dg.MetadataValue.text(serving.model_version or UNREGISTERED),
            "model": dg.MetadataValue.text(serving.model),
            "model_kind": dg.MetadataValue.text(serving.kind),
            "skill": dg.MetadataValue.text(
                evaluation.statement_for(serving.plan)
                if evaluation
                else "No backtest is stored yet."
            ),
            "forecast": dg.MetadataValue.md(
                table[["date", "median", "lower", "upper"]].round(4).to_markdown(index=False)
            ),
            "chart": interval_plot(chart, f"{ticker}: last 60 closes and 7-day forecast"),
        },
    )
    yield history_verdict(backtest, indicators, serving, ticker)
