"""``GET /tickers`` and ``GET /models/{ticker}``: what is registered and how good it is."""

from __future__ import annotations

import math

from fastapi import APIRouter, Request

from serving_api.deps import get_state
from serving_api.errors import ApiError, dependency_unavailable
from serving_api.schemas import (
    ErrorResponse,
    HorizonSummary,
    ModelSummary,
    TickerPath,
    TickersResponse,
)
from stock_assets.defs.registry import registered_tickers
from stock_assets.domain.serving import NoModelError
from stock_assets.domain.symbols import normalize_ticker
from stock_assets.domain.tracking import registered_model_name

router = APIRouter(tags=["catalog"])


def _num(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


@router.get("/tickers", response_model=TickersResponse, summary="Registered ticker partitions")
def tickers(request: Request) -> TickersResponse:
    state = get_state(request)
    try:
        names = sorted(registered_tickers(state.instance))
    except Exception as exc:  # the instance's storage (SQLite/Postgres) is unreachable
        raise dependency_unavailable("Dagster", exc) from exc
    return TickersResponse(tickers=names, index_ticker=state.settings.index_ticker)


@router.get(
    "/models/{ticker}",
    name="model_summary",
    response_model=ModelSummary,
    responses={
        404: {"model": ErrorResponse, "description": "No model for this ticker."},
        422: {"model": ErrorResponse, "description": "Invalid ticker."},
    },
    summary="Champion / serving version and the backtest summary per horizon",
)
def model_summary(ticker: TickerPath, request: Request) -> ModelSummary:
    symbol = normalize_ticker(ticker)  # invalid: 422 through the app's error handlers
    state = get_state(request)
    try:
        champion = state.forecasts.tracker.champion(registered_model_name(symbol))
        serving = state.forecasts.serving(symbol)
    except NoModelError as exc:
        raise ApiError(404, "no_model", str(exc)) from exc
    table = state.forecasts.backtest_table(symbol)
    rows = [] if table is None else table.sort_values("horizon").to_dict("records")
    first = rows[0] if rows else {}
    return ModelSummary(
        ticker=symbol,
        champion_version=champion.model_version if champion else None,
        serving_model_version=serving.model_version,
        serving_bundle_version=serving.bundle.version,
        below_baseline=serving.below_baseline,
        backtest_bundle_version=first.get("bundle_version"),
        promoted=bool(first["promoted"]) if "promoted" in first else None,
        gate_reason=first.get("gate_reason"),
        backtest=[
            HorizonSummary(
                horizon=int(r["horizon"]),
                relative_mae=_num(r.get("relative_mae")),
                directional_accuracy=_num(r.get("directional_accuracy")),
                up_rate=_num(r.get("up_rate")),
                coverage=_num(r.get("coverage")),
            )
            for r in rows
        ],
    )
