"""The cache-hit fast path of ``POST /predict-child`` answers as the route does, or not at all.

The fast path (``serving_api.fastpath``) sits outside FastAPI. These tests count the calls that
reach the route (``PredictionService.predict``) to know who answered, and compare the two
answers byte for byte (bar the ``cache_hit`` flag), on a real trained AAPL (the shared tiny
platform) with a real Redis.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from devkit.platform import TRAINED_TICKER as TICKER
from devkit.platform import TinyPlatform as Platform
from devkit.servers import REDIS_URL, delete_redis_keys, redis_prefix
from serving_api.app import create_app
from tests.serving_api.launchers import RecordingLauncher

BROWSER = {"Origin": "http://127.0.0.1:8501"}  # a browser request: always the route (CORS)


class CountingClient:
    """A started client whose ``routed`` counts the requests that reached the route."""

    def __init__(self, platform: Platform, **overrides: Any) -> None:
        self.prefix = redis_prefix()
        settings = platform.settings.model_copy(
            update={"redis_url": REDIS_URL, "redis_key_prefix": self.prefix, **overrides}
        )
        app = create_app(settings, instance=platform.instance, launcher=RecordingLauncher())
        self.client = TestClient(app)
        self.client.__enter__()
        self.routed = 0
        predictions = app.state.stockops.predictions
        predict = predictions.predict

        async def counted(ticker: str) -> Any:
            self.routed += 1
            return await predict(ticker)

        predictions.predict = counted

    def post(self, body: object, **headers: str) -> Any:
        if isinstance(body, bytes):
            headers.setdefault("Content-Type", "application/json")
            return self.client.post("/predict-child", content=body, headers=headers)
        return self.client.post("/predict-child", json=body, headers=headers)

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        delete_redis_keys(self.prefix)


@pytest.fixture
def counting(trained: Platform) -> Iterator[Any]:
    made: list[CountingClient] = []

    def build(**overrides: Any) -> CountingClient:
        made.append(CountingClient(trained, **overrides))
        return made[-1]

    yield build
    for client in made:
        client.close()


def _requests_counted(client: TestClient, status: str) -> float:
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "stockops_api_requests_total"
                and labels.get("route") == "/predict-child"
                and labels.get("status") == status
            ):
                return sample.value
    return 0.0


def test_hits_are_answered_outside_the_framework_with_the_routes_bytes(counting: Any) -> None:
    api = counting()
    first = api.post({"ticker": TICKER})  # nothing in memory yet: the route loads the model
    assert first.status_code == 200 and api.routed == 1
    before = _requests_counted(api.client, "200")
    hit = api.post({"ticker": TICKER.lower()}, **{"X-Request-ID": "caller-id-1"})
    assert hit.status_code == 200 and api.routed == 1  # answered by the fast path
    assert hit.json()["cache_hit"] is True
    assert hit.headers["content-type"] == "application/json"
    assert hit.headers["x-request-id"] == "caller-id-1"  # the caller's id, as every route does
    routed = api.post({"ticker": TICKER}, **BROWSER)
    assert routed.status_code == 200 and api.routed == 2
    assert routed.content == hit.content  # the same cached JSON, flag and all
    assert first.content.replace(b'"cache_hit":false', b'"cache_hit":true') == hit.content
    assert len(hit.headers["x-request-id"]) and routed.headers["x-request-id"] != "caller-id-1"
    assert _requests_counted(api.client, "200") == before + 2  # both counted


def test_a_miss_is_answered_from_the_materialized_forecast_then_cached(counting: Any) -> None:
    import redis

    api = counting()
    first = api.post({"ticker": TICKER})  # the route: loads the model, data and forecast
    assert first.status_code == 200 and api.routed == 1
    with redis.Redis.from_url(REDIS_URL) as r:
        (key,) = r.scan_iter(match=f"{api.prefix}forecast:*")
        r.delete(key)
        miss = api.post({"ticker": TICKER})
        assert miss.status_code == 200 and api.routed == 1  # the fast path, from memory
        assert miss.json()["cache_hit"] is False
        assert miss.content == first.content  # the same answer as the route's
        assert r.get(key) is not None  # stored once the answer was sent
    hit = api.post({"ticker": TICKER})
    assert hit.json()["cache_hit"] is True and api.routed == 1


def test_any_other_body_goes_to_the_route_and_gets_its_answer(counting: Any) -> None:
    api = counting()
    assert api.post({"ticker": TICKER}).status_code == 200
    routed = api.routed
    extra = api.post({"ticker": TICKER, "strategy": "freeze"})
    assert extra.status_code == 422 and api.routed == routed  # refused by the request model
    assert "strategy" in extra.json()["error"]["message"]
    invalid = api.post({"ticker": "../etc"})
    assert invalid.status_code == 422 and "not a valid symbol" in invalid.json()["error"]["message"]
    number = api.post({"ticker": 7})
    assert number.status_code == 422  # no coercion of a number into a symbol
    broken = api.post(b'{"ticker": "AAPL"')
    assert broken.status_code == 422
    # A symbol with no model is the route's: registration and a task (202), never a fast answer.
    unknown = api.post({"ticker": "ZZZZ"})
    assert unknown.status_code == 404 and api.routed == routed + 1


def test_api_keys_and_the_rate_limit_apply_to_the_fast_path(counting: Any) -> None:
    api = counting(api_keys=("k-one",), rate_limit_requests=4, rate_limit_window_s=30)
    key = {"X-API-Key": "k-one"}
    assert api.post({"ticker": TICKER}, **key).status_code == 200  # warms memory (the route)
    routed = api.routed
    missing = api.post({"ticker": TICKER})
    assert missing.status_code == 401 and api.routed == routed
    assert missing.json() == {
        "error": {"code": "unauthorized", "message": "Missing X-API-Key header."}
    }
    wrong = api.post({"ticker": TICKER}, **{"X-API-Key": "nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "Invalid API key."
    codes = [api.post({"ticker": TICKER}, **key).status_code for _ in range(3)]
    assert codes == [200, 200, 200] and api.routed == routed  # four in the window
    limited = api.post({"ticker": TICKER}, **key)
    assert limited.status_code == 429 and api.routed == routed
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 30
    # The route counts in the same window: it refuses too.
    assert api.post({"ticker": TICKER}, **key, **BROWSER).status_code == 429
