"""``GET /tickers`` and ``GET /models/{ticker}``: what is registered and how good it is."""

from __future__ import annotations

import pandas as pd
from fastapi import APIRouter, Request

from serving_api.deps import get_state
from serving_api.errors import ApiError
from serving_api.problems import DependencyUnavailableError
from serving_api.schemas import (
    DecisionRecord,
    ErrorResponse,
    HorizonSummary,
    LiveHorizon,
    LiveSkill,
    ModelSummary,
    TickerPath,
    TickersResponse,
)
from stock_assets.defs.registry import registered_tickers
from stock_assets.domain.ml.evaluation import optional_float
from stock_assets.domain.ml.live import load_live_skill
from stock_assets.domain.serving import NoModelError
from stock_assets.domain.symbols import normalize_ticker
from stock_assets.domain.tracking import registered_model_name

router = APIRouter(tags=["catalog"])


@router.get("/tickers", response_model=TickersResponse, summary="Registered ticker partitions")
def tickers(request: Request) -> TickersResponse:
    state = get_state(request)
    try:
        names = sorted(registered_tickers(state.instance))
    except Exception as exc:  # the instance's storage (SQLite/Postgres) is unreachable
        raise DependencyUnavailableError("Dagster", exc) from exc
    return TickersResponse(tickers=names, index_ticker=state.settings.index_ticker)


@router.get(
    "/models/{ticker}",
    name="model_summary",
    response_model=ModelSummary,
    responses={
        404: {"model": ErrorResponse, "description": "No model for this ticker."},
        422: {"model": ErrorResponse, "description": "Invalid ticker."},
    },
    summary="Champion / serving version, the backtest per horizon, live skill beside it",
)
def model_summary(ticker: TickerPath, request: Request) -> ModelSummary:
    symbol = normalize_ticker(ticker)  # invalid: 422 through the app's error handlers
    state = get_state(request)
    tracker = state.forecasts.tracker
    try:
        champion = tracker.champion(registered_model_name(symbol))
        serving = state.forecasts.serving(symbol)
    except NoModelError as exc:
        raise ApiError(404, "no_model", str(exc)) from exc
    evaluation = state.forecasts.evaluation(symbol)
    return ModelSummary(
        ticker=symbol,
        champion_version=champion.model_version if champion else None,
        serving_model_version=serving.model_version,
        serving_bundle_version=serving.bundle.version,
        model=serving.model,
        model_kind=serving.kind,
        skill=evaluation.statement_for(serving.plan) if evaluation else None,
        outcome=evaluation.outcome if evaluation else None,
        promoted=evaluation.promoted if evaluation else None,
        decision_reason=evaluation.reason if evaluation else None,
        policy_version=evaluation.policy_version if evaluation else None,
        best_baseline=evaluation.best_baseline if evaluation else None,
        challenger_bundle_version=evaluation.challenger_bundle if evaluation else None,
        backtest=[HorizonSummary(**h.to_dict()) for h in evaluation.horizons] if evaluation else [],
        challenger=[HorizonSummary(**h.to_dict()) for h in evaluation.challenger]
        if evaluation
        else [],
        decisions=[DecisionRecord(**d) for d in tracker.decisions(symbol)],
        live=_live(load_live_skill(state.settings.tables_dir, symbol)),
    )


_LIVE_FIELDS = (
    "relative_mae",
    "promised_relative_mae",
    "directional_accuracy",
    "up_rate",
    "coverage",
    "promised_coverage",
    "pinball_pct",
)


def _live(table: pd.DataFrame | None) -> LiveSkill | None:
    if table is None or table.empty:
        return None
    first = table[(table["window"] == 0) & (table["horizon"] == 1)]
    return LiveSkill(
        decayed=bool(table["decayed"].iloc[0]),
        matured=int(first["n"].iloc[0]) if not first.empty else 0,
        served_bundle=str(table["served_bundle"].iloc[0]),
        horizons=[
            LiveHorizon(
                horizon=int(r["horizon"]),
                window=int(r["window"]),
                n=int(r["n"]),
                **{k: optional_float(r[k]) for k in _LIVE_FIELDS},
            )
            for r in table.to_dict("records")
        ],
    )
