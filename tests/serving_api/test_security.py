"""Hostile input and secrets: size limits, path traversal and injection in tickers, and no
secret ever echoed in an error body or a log line."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

MakeClient = Callable[..., TestClient]

HOSTILE_TICKERS = [
    "../etc/passwd",
    "..\\..\\windows",
    "AAPL/../../x",
    "%2e%2e%2fetc",
    "AAPL;rm -rf /",
    "AAPL' OR '1'='1",
    "<script>alert(1)</script>",
    "AAPL\x00",
    "$(reboot)",
    "A" * 200,
]


def test_oversized_bodies_get_413_unread(make_client: MakeClient) -> None:
    client = make_client(max_request_bytes=2048)
    padded = {"ticker": "IBM", "question": "x" * 4096}
    declared = client.post("/predict-child", json=padded)
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"ticker": "IBM", "pad": "'
        for _ in range(8):
            yield b"y" * 512
        yield b'"}'

    streamed = client.post(
        "/predict-child", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert client.get("/tickers").json()["tickers"] == []  # nothing was registered
    assert client.post("/predict-child", json={"ticker": "ZZZZ"}).status_code == 404


@pytest.mark.parametrize("ticker", HOSTILE_TICKERS)
def test_hostile_tickers_are_rejected_and_touch_nothing(
    make_client: MakeClient, tmp_path: Path, ticker: str
) -> None:
    client = make_client()
    before = {p for p in tmp_path.rglob("*") if p.is_file()}
    for method, url, body in [
        ("POST", "/predict-child", {"ticker": ticker}),
        ("POST", "/train-child", {"ticker": ticker}),
    ]:
        response = client.request(method, url, json=body)
        assert response.status_code == 422, (ticker, response.text)
        assert response.json()["error"]["message"]
    from urllib.parse import quote

    path = client.get(f"/models/{quote(ticker, safe='')}")
    assert 400 <= path.status_code < 500, (ticker, path.text)
    assert client.get("/tickers").json()["tickers"] == []
    created = {p for p in tmp_path.rglob("*") if p.is_file()} - before
    # Only the stores' own files may appear (e.g. SQLite journals), never a file named by input.
    assert not [p for p in created if "passwd" in str(p) or "windows" in str(p)]


def test_secrets_never_echoed_in_bodies_or_logs(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    token, key = "adm1n-T0ken-value", "api-k3y-value"
    redis_password = "r3dis-pa55word"
    caplog.set_level(logging.DEBUG)
    client = make_client(
        admin_token=token,
        api_keys=(key,),
        # An unreachable Redis whose URL carries a password: /health must name Redis, not it.
        redis_url=f"redis://:{redis_password}@127.0.0.1:1/0",
        redis_timeout_s=0.1,
    )
    answers = [
        client.delete("/system/reset", headers={"X-Admin-Token": token[:-1] + "x"}),
        client.get("/tickers", headers={"X-API-Key": key + "x"}),
        client.get("/health"),
        client.post("/predict-child", json={"ticker": "../x"}, headers={"X-API-Key": key}),
    ]
    assert [a.status_code for a in answers[:2]] == [403, 401]
    assert answers[2].json()["checks"]["redis"]["status"] != "ok"
    for secret in (token, key, redis_password):
        for answer in answers:
            assert secret not in answer.text
        assert secret not in caplog.text
