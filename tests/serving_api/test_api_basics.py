"""Validation, auth, rate limits, errors, metrics, health and the Redis fallback."""

from __future__ import annotations

from collections.abc import Callable

import redis
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from devkit.servers import REDIS_URL
from serving_api.metrics import METRIC_NAMES

MakeClient = Callable[..., TestClient]


def test_invalid_ticker_is_422_with_message(make_client: MakeClient) -> None:
    client = make_client()
    response = client.post("/predict-child", json={"ticker": "AA PL/"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and "not a valid symbol" in error["message"]
    missing = client.post("/predict-child", json={})
    assert missing.status_code == 422 and "ticker" in missing.json()["error"]["message"]
    bad_strategy = client.post("/train-child", json={"ticker": "AAPL", "strategy": "magic"})
    assert bad_strategy.status_code == 422
    assert client.get("/models/a%20b").status_code == 422


def test_unknown_ticker_is_404_with_message(make_client: MakeClient) -> None:
    client = make_client()
    response = client.post("/predict-child", json={"ticker": "ZZZZ"})
    assert response.status_code == 404
    assert "does not know ZZZZ" in response.json()["error"]["message"]
    assert client.get("/tickers").json()["tickers"] == []  # nothing half-registered
    assert client.get("/status/not-a-task").status_code == 404
    assert client.get("/models/IBM").status_code == 404


def test_api_keys(make_client: MakeClient) -> None:
    client = make_client(api_keys=("k-one", "k-two"))
    assert client.get("/tickers").status_code == 401
    wrong = client.get("/tickers", headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
    assert client.get("/tickers", headers={"X-API-Key": "k-two"}).status_code == 200
    assert client.get("/health").status_code == 200  # probes stay open


def test_admin_reset_deletes_only_our_keys(make_client: MakeClient, prefix: str) -> None:
    client = make_client(admin_token="s3cret")
    assert client.delete("/system/reset").status_code == 401
    assert client.delete("/system/reset", headers={"X-Admin-Token": "bad"}).status_code == 403
    raw = redis.Redis.from_url(REDIS_URL)
    foreign = prefix.rstrip(":") + "-foreign"
    try:
        raw.set(prefix + "forecast:X:1:2020-01-01", "{}")
        raw.set(foreign, "keep me")
        response = client.delete("/system/reset", headers={"X-Admin-Token": "s3cret"})
        assert response.status_code == 200
        assert response.json()["redis_keys_deleted"] >= 1
        assert raw.get(prefix + "forecast:X:1:2020-01-01") is None
        assert raw.get(foreign) == b"keep me"
    finally:
        raw.delete(foreign)
        raw.close()


def test_admin_routes_disabled_without_token(make_client: MakeClient) -> None:
    client = make_client()
    assert client.delete("/system/reset", headers={"X-Admin-Token": "x"}).status_code == 403


def test_rate_limit_429_with_retry_after(make_client: MakeClient) -> None:
    client = make_client(rate_limit_requests=3, rate_limit_window_s=30)
    codes = [client.get("/tickers").status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    limited = client.get("/tickers")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 30
    assert limited.json()["error"]["code"] == "rate_limited"
    # Per route template: another route has its own window.
    assert client.get("/status/unknown-id").status_code == 404


def test_metrics_exposition(make_client: MakeClient) -> None:
    client = make_client()
    client.get("/tickers")
    client.get("/status/abc")
    text = client.get("/metrics").text
    names = {family.name for family in text_string_to_metric_families(text)}
    for name in METRIC_NAMES:
        assert name in names, name
    # Route templates, never raw ids, as labels.
    assert 'route="/status/{task_id}"' in text and "/status/abc" not in text


def test_redis_down_falls_back_and_health_is_degraded(make_client: MakeClient) -> None:
    client = make_client(redis_url="redis://127.0.0.1:1/0", rate_limit_requests=2)
    assert client.get("/tickers").status_code == 200
    assert client.post("/predict-child", json={"ticker": "ZZZZ"}).status_code == 404
    assert client.get("/tickers").status_code == 200
    assert client.get("/tickers").status_code == 429  # the in-process window still limits
    health = client.get("/health").json()
    assert health["status"] == "degraded" and health["live"] is True
    assert health["checks"]["redis"]["status"] == "degraded"
    assert "fallback" in health["checks"]["redis"]["message"]
    assert health["checks"]["dagster"]["status"] == "ok"


def test_health_ok_with_redis(make_client: MakeClient) -> None:
    client = make_client()
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["ready"] is True, health
    assert set(health["checks"]) == {"data", "redis", "dagster", "mlflow", "qdrant", "agents"}
    assert health["checks"]["agents"]["message"].startswith("analyst models ")
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and set(ready.json()["checks"]) == {"data"}
    assert client.get("/health/live").json() == {"status": "ok"}


def test_shared_servers_down_leave_the_pod_ready_and_are_reported(
    make_client: MakeClient,
) -> None:
    """Every API pod shares Redis, MLflow and Dagster: a readiness that asked them would take
    all pods out of the load balancer at once. Down, they show in /health, not in readiness."""
    client = make_client(
        redis_url="redis://127.0.0.1:1/0",
        mlflow_tracking_uri="http://127.0.0.1:1",
        # Dagster+ answers GraphQL only with a token: hybrid mode must not block readiness.
        dagster_graphql_url="http://127.0.0.1:1/graphql",
    )
    ready = client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    health = client.get("/health").json()
    assert health["ready"] is True and health["status"] == "degraded"
    down = {n for n, c in health["checks"].items() if c["status"] != "ok"}
    assert {"redis", "mlflow", "dagster"} <= down, health
    assert health["checks"]["data"]["status"] == "ok"


def test_readiness_fails_when_the_data_directory_is_gone(make_client: MakeClient) -> None:
    """What this pod itself needs to serve a forecast: its data directory (tables, model
    bundles). Liveness stays up: a restart would not bring a volume back."""
    client = make_client()
    data = client.app.state.stockops.settings.resolved_data_dir  # type: ignore[attr-defined]
    moved = data.with_name(data.name + "-unmounted")
    data.rename(moved)
    try:
        ready = client.get("/health/ready")
        assert ready.status_code == 503, ready.text
        failing = [n for n, c in ready.json()["checks"].items() if c["status"] != "ok"]
        assert failing == ["data"]
        assert "data directory" in ready.json()["checks"]["data"]["message"]
        assert client.get("/health/live").status_code == 200
    finally:
        moved.rename(data)
    assert client.get("/health/ready").status_code == 200


def test_an_api_that_requires_keys_refuses_to_start_without_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from serving_api.app import create_app
    from stock_assets.settings import Settings

    with pytest.raises(ValueError, match="STOCKOPS_API_KEYS is empty"):
        create_app(Settings(data_dir=tmp_path, api_keys_required=True))
    assert create_app(Settings(data_dir=tmp_path, api_keys_required=True, api_keys=("k",)))


def test_the_schema_declares_api_keys_only_where_they_are_required(make_client: MakeClient) -> None:
    open_api = make_client().get("/openapi.json").json()
    assert "ApiKey" not in open_api["components"]["securitySchemes"]
    assert "security" not in open_api["paths"]["/predict-child"]["post"]
    keyed = make_client(api_keys=("k1",)).get("/openapi.json").json()
    assert keyed["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"
    operation = keyed["paths"]["/predict-child"]["post"]
    assert operation["security"] == [{"ApiKey": []}] and "401" in operation["responses"]
    assert "202" in operation["responses"]
    assert "Location" in operation["responses"]["202"]["headers"]


def test_the_docs_pages_need_no_network(make_client: MakeClient) -> None:
    """Swagger UI and ReDoc load their scripts from the API itself, never from a CDN."""
    client = make_client()
    for page, script in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = client.get(page)
        assert html.status_code == 200 and "text/html" in html.headers["content-type"]
        assert "cdn." not in html.text and "https://" not in html.text.replace(
            "https://fastapi.tiangolo.com", ""
        )
        (src,) = {part.split('"')[0] for part in html.text.split('src="')[1:] if script in part}
        asset = client.get(src)
        assert asset.status_code == 200 and len(asset.content) > 100_000, (page, src)


def test_cors_allows_only_streamlit_origin(make_client: MakeClient) -> None:
    client = make_client()
    ok = client.get("/health", headers={"Origin": "http://127.0.0.1:8501"})
    assert ok.headers.get("access-control-allow-origin") == "http://127.0.0.1:8501"
    other = client.get("/health", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers
