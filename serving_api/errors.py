"""The app's edge for failures: one error shape, ``{"error": {"code": ..., "message": ...}}``.

Services raise the problems of ``serving_api.problems`` (no HTTP in them); each is mapped to its
status code here, FastAPI's own validation errors are reshaped too, so clients parse a single
format, and anything unexpected becomes a 500 with a generic message (details go to the log).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from mlflow.exceptions import MlflowException
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving_api.problems import (
    BusyError,
    DependencyUnavailableError,
    IndexTickerError,
    LaunchRejectedError,
    NoDataError,
    ServiceError,
    UntrainedTickerError,
)
from stock_assets.domain.market_data import MarketDataError, UnknownTickerError
from stock_assets.domain.serving import NoModelError
from stock_assets.domain.symbols import InvalidTickerError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Raised at the edge (routes, auth, rate limits) to answer ``status`` with this code."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


# Each service problem: (status, error code); DependencyUnavailableError names its dependency.
_PROBLEMS: dict[type[ServiceError], tuple[int, str]] = {
    NoDataError: (409, "no_data"),
    UntrainedTickerError: (404, "no_model"),
    IndexTickerError: (409, "index_ticker"),
    LaunchRejectedError: (502, "dagster_error"),
    BusyError: (503, "busy"),
}


def problem_response(exc: ServiceError) -> JSONResponse:
    if isinstance(exc, DependencyUnavailableError):
        return JSONResponse(error_body(f"{exc.name.lower()}_unavailable", exc.message), 503)
    status, code = next(
        (v for k, v in _PROBLEMS.items() if isinstance(exc, k)), (500, "internal_error")
    )
    headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, BusyError) else None
    return JSONResponse(error_body(code, exc.message), status, headers=headers)


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        msg = str(err.get("msg", "invalid"))
        # Our validators raise ValueError("..."); pydantic prefixes "Value error, ".
        msg = msg.removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts) or "Invalid request."


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message), status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(InvalidTickerError)
    async def _invalid_ticker(_: Request, exc: InvalidTickerError) -> JSONResponse:
        return JSONResponse(error_body("invalid_ticker", str(exc)), 422)

    @app.exception_handler(UnknownTickerError)
    async def _unknown_ticker(_: Request, exc: UnknownTickerError) -> JSONResponse:
        return JSONResponse(error_body("unknown_ticker", str(exc)), 404)

    @app.exception_handler(MarketDataError)
    async def _market_data(_: Request, exc: MarketDataError) -> JSONResponse:
        return JSONResponse(
            error_body("market_data_unavailable", f"Market data is unavailable: {exc}"), 503
        )

    @app.exception_handler(ServiceError)
    async def _problem(_: Request, exc: ServiceError) -> JSONResponse:
        return problem_response(exc)

    @app.exception_handler(NoModelError)
    async def _no_model(_: Request, exc: NoModelError) -> JSONResponse:
        return JSONResponse(error_body("no_model", str(exc)), 404)

    @app.exception_handler(MlflowException)
    async def _mlflow(_: Request, exc: MlflowException) -> JSONResponse:
        return problem_response(DependencyUnavailableError("MLflow", exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body("invalid_request", _validation_message(exc)), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI's answer to a body that is not text at all (bytes no JSON decoder takes):
            # the same 422 as any other invalid body, one error for clients to handle.
            message = "The request body is not valid JSON (UTF-8)."
            return JSONResponse(error_body("invalid_request", message), 422)
        code = "not_found" if exc.status_code == 404 else f"http_{exc.status_code}"
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("Unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal_error", "Internal server error."), 500)
