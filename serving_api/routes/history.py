"""``GET /history/{ticker}``: recent daily closes from the stored ``ohlcv`` table (read-only).

Clients draw the forecast against this history; it is the same split-adjusted close the models
train on, so the last point equals a forecast's ``last_close``.
"""

from __future__ import annotations

import pandas as pd
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from serving_api.deps import get_state
from serving_api.errors import ApiError
from serving_api.schemas import ErrorResponse, TickerPath
from stock_assets.domain import layout
from stock_assets.domain.symbols import normalize_ticker

router = APIRouter(tags=["forecasts"])

MAX_DAYS = 5000


class PricePoint(BaseModel):
    date: str = Field(description="Trading session (ISO date).")
    close: float


class HistoryResponse(BaseModel):
    ticker: str
    as_of: str = Field(description="Date of the last stored row.")
    points: list[PricePoint]
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ticker": "IBM",
                    "as_of": "2013-03-01",
                    "points": [
                        {"date": "2013-02-28", "close": 200.83},
                        {"date": "2013-03-01", "close": 202.91},
                    ],
                }
            ]
        }
    )


@router.get(
    "/history/{ticker}",
    response_model=HistoryResponse,
    responses={
        404: {"model": ErrorResponse, "description": "No stored prices for this ticker."},
        422: {"model": ErrorResponse, "description": "Invalid ticker or days."},
    },
    summary="The last N daily closes of a ticker from the stored ohlcv table",
)
def history(
    ticker: TickerPath,
    request: Request,
    days: int = Query(default=120, ge=1, le=MAX_DAYS, description="Trading days to return."),
) -> HistoryResponse:
    symbol = normalize_ticker(ticker)  # invalid: 422 through the app's error handlers
    tables = get_state(request).settings.tables_dir
    table = layout.read_table(tables, layout.OHLCV, symbol, columns=["date", "close"])
    if table is None:
        raise ApiError(
            404, "no_data", f"No stored prices for {symbol}: its data has not been loaded yet."
        )
    if table.empty:
        raise ApiError(404, "no_data", f"The stored price table for {symbol} is empty.")
    recent = table.sort_values("date").tail(days)
    dates = pd.to_datetime(recent["date"]).dt.strftime("%Y-%m-%d")
    points = [
        PricePoint(date=d, close=float(c))
        for d, c in zip(dates, recent["close"].astype(float), strict=True)
    ]
    return HistoryResponse(ticker=symbol, as_of=points[-1].date, points=points)
