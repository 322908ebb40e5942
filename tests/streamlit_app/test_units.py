"""The front end's pure parts: error messages, progress, validation, chart and tables.

Error answers are built as ``httpx.Response`` objects here so every status is covered in
milliseconds; the page tests get the same errors from the real API.
"""

from __future__ import annotations

import httpx
import pytest

from devkit.servers import free_port
from stock_assets import names
from streamlit_app.api_client import ApiClient, ApiProblem, problem_from_response
from streamlit_app.charts import backtest_table, drift_columns_table, forecast_figure
from streamlit_app.config import DEFAULT_API_URL, load_config
from streamlit_app.progress import task_caption, task_fraction
from streamlit_app.validation import check_ticker

FORECAST = {
    "ticker": "IBM",
    "as_of": "2013-03-01",
    "last_close": 100.0,
    "nominal_coverage": 0.8,
    "model_version": "3",
    "points": [
        {"horizon": 2, "date": "2013-03-05", "median": 102.0, "lower": 97.0, "upper": 107.0},
        {"horizon": 1, "date": "2013-03-04", "median": 101.0, "lower": 99.0, "upper": 103.0},
    ],
}
HISTORY = [{"date": "2013-02-28", "close": 99.0}, {"date": "2013-03-01", "close": 100.0}]


def _response(status: int, body: object = None, headers: dict | None = None) -> httpx.Response:
    request = httpx.Request("POST", "http://api.test/predict-child")
    if body is None:
        return httpx.Response(status, request=request, headers=headers, text="")
    if isinstance(body, str):
        return httpx.Response(status, request=request, headers=headers, text=body)
    return httpx.Response(status, request=request, headers=headers, json=body)


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def test_every_error_status_becomes_a_readable_message() -> None:
    invalid = problem_from_response(
        _response(422, _error("invalid_request", "ticker: 'A B' is not a valid symbol")),
        "forecast A B",
    )
    assert invalid.status == 422 and invalid.code == "invalid_request"
    assert invalid.message == "ticker: 'A B' is not a valid symbol (HTTP 422)"

    limited = problem_from_response(
        _response(429, _error("rate_limited", "Rate limit"), {"Retry-After": "17"}), "forecast IBM"
    )
    assert limited.retry_after_s == 17.0
    assert "rate limit" in limited.message and "Try again in 17 s." in limited.message

    down = problem_from_response(
        _response(503, _error("mlflow_unavailable", "MLflow is unavailable: connection refused")),
        "forecast IBM",
    )
    assert down.message.startswith("MLflow is unavailable: connection refused (HTTP 503")
    assert "could not forecast IBM" in down.message
    terse = problem_from_response(_response(503, _error("redis_unavailable", "")), "list tickers")
    assert terse.message.startswith("redis is unavailable.")
    unnamed = problem_from_response(_response(503, ""), "list tickers")
    assert unnamed.message.startswith("A service the API depends on is unavailable.")

    forbidden = problem_from_response(
        _response(403, _error("forbidden", "Invalid admin token.")), "reset the system"
    )
    assert forbidden.message == ("Not allowed to reset the system (HTTP 403): Invalid admin token.")

    crashed = problem_from_response(
        _response(500, _error("internal_error", "Internal server error.")), "forecast IBM"
    )
    assert "failed to forecast IBM (HTTP 500)" in crashed.message
    assert "Traceback" not in crashed.message

    # FastAPI's own shape and a huge plain-text body are handled too (shortened).
    detail = problem_from_response(_response(400, {"detail": "bad body"}), "forecast IBM")
    assert detail.message == "bad body (HTTP 400)"
    huge = problem_from_response(_response(418, "x" * 5000), "forecast IBM")
    assert len(huge.message) < 700


def test_a_missing_route_is_not_available_yet_but_a_missing_model_is_an_error() -> None:
    missing = problem_from_response(_response(404, _error("not_found", "Not Found")), "x")
    assert missing.route_missing and "Not available yet" in missing.message
    assert "POST /predict-child" in missing.message
    no_model = problem_from_response(
        _response(404, _error("no_model", "No model for IBM.")), "load the model of IBM"
    )
    assert not no_model.route_missing and no_model.message == "No model for IBM. (HTTP 404)"


def test_an_unreachable_api_is_named_with_its_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(ApiProblem) as caught:
        ApiClient(url, timeout_s=3).health()
    assert caught.value.message.startswith(f"API not reachable at {url}: is it running?")
    assert caught.value.code == "unreachable"


def test_config_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STOCKOPS_API_URL", "STOCKOPS_API_KEY", "STOCKOPS_UI_TASK_TIMEOUT_S"):
        monkeypatch.delenv(name, raising=False)
    default = load_config()
    assert default.api_url == DEFAULT_API_URL and default.api_key is None
    monkeypatch.setenv("STOCKOPS_API_URL", "http://api:8000/ ")
    monkeypatch.setenv("STOCKOPS_API_KEY", "k1")
    monkeypatch.setenv("STOCKOPS_UI_TASK_TIMEOUT_S", "60")
    custom = load_config()
    assert (custom.api_url, custom.api_key, custom.task_timeout_s) == ("http://api:8000", "k1", 60)
    monkeypatch.setenv("STOCKOPS_UI_TASK_TIMEOUT_S", "soon")
    with pytest.raises(ValueError, match="STOCKOPS_UI_TASK_TIMEOUT_S must be a number"):
        load_config()


def test_ticker_validation_matches_the_api_rule() -> None:
    assert check_ticker(" brk-b ") == ("BRK-B", None)
    assert check_ticker("^gspc") == ("^GSPC", None)
    assert check_ticker("reliance.ns")[0] == "RELIANCE.NS"
    for bad in ("", "   ", "AA PL/", "../etc", "A..B", "X" * 16, ".AAPL"):
        ticker, message = check_ticker(bad)
        assert ticker is None and message, bad
    assert "not a valid ticker symbol" in check_ticker("AA PL/")[1]


def test_progress_combines_runs_and_epochs() -> None:
    queued = {"state": "queued", "steps_done": 0, "steps_total": 5, "progress": None}
    assert task_fraction(queued) == 0.0
    assert task_caption(queued) == "Queued · run 1 of 5"
    running = {
        "state": "running",
        "job": names.TICKER_TRAINING_JOB,
        "steps_done": 4,
        "steps_total": 5,
        "progress": {"phase": "child IBM", "unit": "epoch", "done": 10, "total": 40},
    }
    assert task_fraction(running) == pytest.approx((4 + 0.25) / 5)
    assert (
        task_caption(running)
        == f"Running · run 5 of 5 · {names.TICKER_TRAINING_JOB} · child IBM: epoch 10/40"
    )
    # Never full before the task says so, and full once it does.
    nearly = {**running, "progress": {"unit": "fold", "done": 4, "total": 4}}
    assert task_fraction(nearly) < 1.0
    assert task_fraction({**running, "state": "succeeded", "steps_done": 5}) == 1.0
    assert task_caption({"state": "failed", "steps_done": 2, "steps_total": 5}) == "Failed"
    assert task_fraction({"state": "running", "progress": {"done": "x", "total": None}}) == 0.0


def test_forecast_figure_joins_history_and_the_band_at_the_last_close() -> None:
    figure = forecast_figure(HISTORY, FORECAST)
    close, upper, lower, median = figure.data
    assert list(close.x) == ["2013-02-28", "2013-03-01"] and list(close.y) == [99.0, 100.0]
    # Sorted by horizon, starting at the last close so the lines connect.
    assert list(median.x) == ["2013-03-01", "2013-03-04", "2013-03-05"]
    assert list(median.y) == [100.0, 101.0, 102.0]
    assert list(upper.y) == [100.0, 103.0, 107.0] and list(lower.y) == [100.0, 99.0, 97.0]
    assert lower.fill == "tonexty" and lower.name == "80% interval"
    assert "IBM" in figure.layout.title.text
    # Without history (the API may lack it) the forecast still draws.
    assert len(forecast_figure([], FORECAST).data) == 3


def test_backtest_and_drift_tables() -> None:
    model = {
        "backtest": [
            {
                "horizon": 2,
                "model": "naive",
                "relative_mae": 1.01,
                "directional_accuracy": 0.5,
                "up_rate": 0.52,
                "coverage": 0.8,
            },
            {
                "horizon": 1,
                "model": "linear",
                "relative_mae": 0.99,
                "directional_accuracy": 0.55,
                "up_rate": 0.53,
                "coverage": 0.78,
            },
        ]
    }
    table = backtest_table(model)
    assert list(table.columns) == [
        "horizon (sessions)",
        "served by",
        "MAE / naive MAE",
        "p vs naive",
        "direction accuracy",
        "always-up accuracy",
        "interval coverage",
    ]
    assert list(table["horizon (sessions)"]) == [1, 2]
    assert list(table["served by"]) == ["linear", "naive"]  # a mix names each horizon's model
    assert backtest_table({"backtest": []}).empty
    drift = drift_columns_table(
        {
            "columns": [
                {"column": "rsi", "stattest": "ks", "drift_score": 0.3, "drifted": False},
                {"column": "volume_z", "stattest": "ks", "drift_score": 0.01, "drifted": True},
            ]
        }
    )
    assert list(drift["column"]) == ["volume_z", "rsi"]  # drifted first
