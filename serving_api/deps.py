"""Shared state of one app and the FastAPI dependencies that reach it (auth, rate limits)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import dagster as dg
from fastapi import Request

from serving_api.cache import ForecastCache
from serving_api.errors import ApiError
from serving_api.forecasting import ForecastService
from serving_api.kv import KeyValueStore
from serving_api.ratelimit import RateLimiter
from serving_api.tasks import TaskService
from stock_assets.settings import Settings


@dataclass
class AppState:
    """Everything a request needs, built once in the app's lifespan."""

    settings: Settings
    instance: dg.DagsterInstance
    kv: KeyValueStore
    cache: ForecastCache
    forecasts: ForecastService
    tasks: TaskService
    limiter: RateLimiter


def get_state(request: Request) -> AppState:
    return request.app.state.stockops


def _matches(given: str, expected: str) -> bool:
    # Constant time: the comparison must not leak how many leading characters were right.
    return hmac.compare_digest(given.encode(), expected.encode())


def require_api_key(request: Request) -> None:
    """``X-API-Key`` must be one of ``settings.api_keys``; with none configured, the API is open."""
    keys = get_state(request).settings.api_keys
    if not keys:
        return
    given = request.headers.get("x-api-key")
    if not given:
        raise ApiError(401, "unauthorized", "Missing X-API-Key header.")
    # Check every key (no early exit) so timing does not reveal which one matched.
    if not any([_matches(given, key) for key in keys]):
        raise ApiError(401, "unauthorized", "Invalid API key.")


def require_admin(request: Request) -> None:
    """``X-Admin-Token`` must equal ``settings.admin_token``; 401 when missing, 403 when wrong."""
    token = get_state(request).settings.admin_token
    given = request.headers.get("x-admin-token")
    if not given:
        raise ApiError(401, "unauthorized", "Missing X-Admin-Token header.")
    if token is None or not token.get_secret_value():
        raise ApiError(403, "forbidden", "Admin routes are disabled: set STOCKOPS_ADMIN_TOKEN.")
    if not _matches(given, token.get_secret_value()):
        raise ApiError(403, "forbidden", "Invalid admin token.")


def rate_limit(request: Request) -> None:
    get_state(request).limiter.check(request)
