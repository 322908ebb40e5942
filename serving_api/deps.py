"""Shared state of one app and the FastAPI dependencies that reach it (auth, rate limits).

The dependencies are coroutines: a synchronous one would cost every request two hops through
the thread pool. The API-key and admin-token headers are declared as security schemes, so the
OpenAPI document (and the Authorize button of ``/docs``) knows them.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import dagster as dg
from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from serving_api.cache import ForecastCache
from serving_api.errors import ApiError
from serving_api.forecasting import ForecastService
from serving_api.kv import KeyValueStore
from serving_api.predictions import PredictionService
from serving_api.ratelimit import RateLimiter
from serving_api.tasks import TaskService
from stock_assets.settings import Settings

API_KEY = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKey",
    description="One of STOCKOPS_API_KEYS (required when keys are configured).",
)
ADMIN_TOKEN = APIKeyHeader(
    name="X-Admin-Token",
    auto_error=False,
    scheme_name="AdminToken",
    description="STOCKOPS_ADMIN_TOKEN, for destructive routes.",
)


@dataclass
class AppState:
    """Everything a request needs, built once in the app's lifespan."""

    settings: Settings
    instance: dg.DagsterInstance
    kv: KeyValueStore
    cache: ForecastCache
    forecasts: ForecastService
    tasks: TaskService
    predictions: PredictionService
    limiter: RateLimiter


def get_state(request: Request) -> AppState:
    return request.app.state.stockops


def _matches(given: str, expected: str) -> bool:
    # Constant time: the comparison must not leak how many leading characters were right.
    return hmac.compare_digest(given.encode(), expected.encode())


def api_key_refusal(keys: tuple[str, ...], given: str | None) -> ApiError | None:
    """The 401 for a request with the API key ``given``; None when it may pass (or no keys are
    configured: the API is open)."""
    if not keys:
        return None
    if not given:
        return ApiError(401, "unauthorized", "Missing X-API-Key header.")
    # Check every key (no early exit) so timing does not reveal which one matched.
    if not any([_matches(given, key) for key in keys]):
        return ApiError(401, "unauthorized", "Invalid API key.")
    return None


async def require_api_key(request: Request, given: str | None = Security(API_KEY)) -> None:
    """``X-API-Key`` must be one of ``settings.api_keys``; with none configured, the API is open."""
    refused = api_key_refusal(get_state(request).settings.api_keys, given)
    if refused is not None:
        raise refused


async def require_admin(request: Request, given: str | None = Security(ADMIN_TOKEN)) -> None:
    """``X-Admin-Token`` must equal ``settings.admin_token``; 401 when missing, 403 when wrong."""
    token = get_state(request).settings.admin_token
    if not given:
        raise ApiError(401, "unauthorized", "Missing X-Admin-Token header.")
    if token is None or not token.get_secret_value():
        raise ApiError(403, "forbidden", "Admin routes are disabled: set STOCKOPS_ADMIN_TOKEN.")
    if not _matches(given, token.get_secret_value()):
        raise ApiError(403, "forbidden", "Invalid admin token.")


async def rate_limit(request: Request) -> None:
    await get_state(request).limiter.check(request)
