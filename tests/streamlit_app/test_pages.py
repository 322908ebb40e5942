"""Every page through ``streamlit.testing.v1.AppTest``, against the real API on loopback."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from devkit.servers import free_port
from stock_assets.domain.ml.policy import POLICY_VERSION
from tests.streamlit_app.pages import APP, SAMPLE_TICKER, ApiServer, page

pytestmark = pytest.mark.integration


def _texts(elements: object) -> list[str]:
    return [str(e.value) for e in elements]  # type: ignore[attr-defined]


def _no_traceback(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def _plotly_traces(at: AppTest) -> list[dict]:
    charts = at.get("plotly_chart")
    assert len(charts) == 1, "expected one Plotly chart"
    return json.loads(charts[0].proto.spec)["data"]


def _button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    matches = [b for b in at.button if b.label == label]
    assert len(matches) == 1, (label, [b.label for b in at.button])
    return matches[0]


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_analyze_trains_a_new_ticker_with_progress_then_shows_forecast_and_report(
    first_analysis: AppTest, api_server: ApiServer
) -> None:
    at = first_analysis
    _no_traceback(at)
    assert _texts(at.error) == []
    # The ticker was new: the API accepted a task and the page followed it to the end.
    assert any(f"{SAMPLE_TICKER} has no model yet" in t for t in _texts(at.info))
    (bar,) = at.get("progress")
    assert bar.proto.value == 100 and bar.proto.text == "Succeeded"

    assert at.header[0].value == SAMPLE_TICKER
    metrics = _metrics(at)
    # Version 1 is the LSTM challenger; the policy registered and serves the naive baseline (2).
    assert metrics["Data as of"] == "2013-03-01" and metrics["Model version"] == "2"
    assert any("no skill over naive is claimed" in t for t in _texts(at.warning))
    traces = _plotly_traces(at)
    close = next(t for t in traces if t["name"] == "close")
    median = next(t for t in traces if t["name"] == "forecast (median)")
    assert len(close["x"]) == 120 and close["x"][-1] == "2013-03-01"
    assert len(median["x"]) == 8 and median["x"][0] == "2013-03-01"  # last close + 7 sessions
    assert metrics["Stance"].split()[-1] in {"bullish", "bearish", "neutral"}
    assert metrics["Confidence"].endswith("%")
    report = [m for m in _texts(at.markdown) if m.startswith("#### Summary")]
    assert report, _texts(at.markdown)
    # Who wrote what: the legend of the model's mark sits under the report.
    assert any("were written by the language model" in t for t in _texts(at.caption))


def test_analyze_rejects_an_invalid_ticker_with_a_message(ui_env: ApiServer) -> None:
    at = page("analyze.py").run()
    at.text_input(key="analyze_ticker").input("AA PL/")
    at.button[0].click().run()
    _no_traceback(at)
    assert len(at.error) == 1 and "not a valid ticker symbol" in at.error[0].value
    assert not at.get("plotly_chart")


def test_forecast_page_chart_backtest_and_versions(
    ui_env: ApiServer, first_analysis: AppTest
) -> None:
    at = page("forecast.py").run()
    _no_traceback(at)
    assert at.text_input(key="forecast_ticker").value == SAMPLE_TICKER  # first registered stock
    traces = _plotly_traces(at)
    band = next(t for t in traces if t.get("fill") == "tonexty")
    assert band["name"] == "80% interval" and len(band["x"]) == 8
    backtest = at.dataframe[1].value
    assert list(backtest["horizon (sessions)"]) == list(range(1, 8))
    assert backtest["MAE / naive MAE"].between(0, 5.01).all()
    captions = " ".join(_texts(at.caption))
    assert "Champion version: 2 (naive, baseline" in captions
    assert "data as of 2013-03-01" in captions and f"policy {POLICY_VERSION}" in captions
    assert any("Served model: naive." in m for m in _texts(at.markdown))

    at.slider(key="forecast_days").set_value(40).run()
    close = next(t for t in _plotly_traces(at) if t["name"] == "close")
    assert len(close["x"]) == 40


def test_forecast_page_shows_api_errors_readably(
    ui_env: ApiServer, first_analysis: AppTest
) -> None:
    at = page("forecast.py").run()
    at.text_input(key="forecast_ticker").input("ZZZZ").run()  # the data provider lacks it
    _no_traceback(at)
    assert len(at.error) == 1
    assert "ZZZZ" in at.error[0].value and "(HTTP 404)" in at.error[0].value
    assert not at.get("plotly_chart")


def test_monitoring_page(ui_env: ApiServer, first_analysis: AppTest) -> None:
    at = page("monitoring.py").run()
    _no_traceback(at)
    quality = at.dataframe[0].value
    assert list(quality["ticker"]) == [SAMPLE_TICKER]
    assert quality["served model"].iloc[0] == "naive"
    assert quality["latest decision"].iloc[0] == "serve_baseline"
    assert (
        quality["note"].iloc[0] == "no significant skill"
        and quality["MAE / naive (h=1)"].iloc[0] > 0
    )
    at.button[0].click().run()
    _no_traceback(at)
    assert _texts(at.error) == []
    assert any(h.value.startswith("Data drift") for h in at.subheader)
    assert _metrics(at)["Dataset drift"] in {"yes", "no"}
    assert at.get("iframe"), "the Evidently report is not embedded"


def test_system_page_health_and_reset_with_confirmation(ui_env: ApiServer) -> None:
    at = page("system.py").run()
    _no_traceback(at)
    health = at.dataframe[0].value
    assert set(health["dependency"]) >= {"redis", "dagster", "mlflow", "qdrant"}
    assert (health.set_index("dependency").loc["redis", "status"]) == "ok"

    assert _button(at, "Reset…").disabled  # no token typed yet
    at.text_input(key="admin_token").input("wrong-token").run()
    _button(at, "Reset…").click().run()
    # A confirmation step first; a wrong token is then refused with the API's reason.
    assert {"Yes, reset", "Cancel"} <= {b.label for b in at.button}
    _button(at, "Yes, reset").click().run()
    assert _texts(at.error) == ["Not allowed to reset the system (HTTP 403): Invalid admin token."]

    at.text_input(key="admin_token").input(ui_env.admin_token).run()
    _button(at, "Reset…").click().run()
    _button(at, "Cancel").click().run()  # nothing happens
    assert "Yes, reset" not in {b.label for b in at.button}
    assert not any(t.startswith("Reset done") for t in _texts(at.success))
    _button(at, "Reset…").click().run()
    _button(at, "Yes, reset").click().run()
    _no_traceback(at)
    assert _texts(at.error) == []
    assert any(t.startswith("Reset done: ") for t in _texts(at.success)), _texts(at.success)


def test_every_page_says_when_the_api_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("STOCKOPS_API_URL", url)
    expected = f"API not reachable at {url}: is it running?"
    for name in ("forecast.py", "monitoring.py", "system.py"):
        at = page(name).run()
        _no_traceback(at)
        assert any(e.value.startswith(expected) for e in at.error), (name, _texts(at.error))
    at = page("analyze.py").run()
    at.text_input(key="analyze_ticker").input("AAPL")
    at.button[0].click().run()
    _no_traceback(at)
    assert at.error[0].value.startswith(expected)


def test_navigation_opens_on_analyze_and_switches_pages(ui_env: ApiServer) -> None:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    _no_traceback(at)
    assert at.title[0].value == "Analyze a stock"
    assert ui_env.url in " ".join(_texts(at.sidebar.caption))
    at.switch_page("views/system.py").run()
    _no_traceback(at)
    assert at.title[0].value == "System"
