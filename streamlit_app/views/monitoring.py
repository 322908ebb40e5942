"""Monitoring: data drift per ticker (with Evidently's report), model quality, report scores."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
import streamlit.components.v1 as components

from streamlit_app.api_client import ApiClient, ApiProblem
from streamlit_app.charts import drift_columns_table
from streamlit_app.ui import (
    MAX_TASK_ROUNDS,
    RATIO,
    SHARE,
    client,
    follow_task,
    show_problem,
    ticker_or_stop,
)

RESULT_KEY = "monitoring"
LIVE_COLUMNS = (
    "horizon", "n", "relative_mae", "promised_relative_mae", "coverage", "promised_coverage",
    "directional_accuracy", "up_rate", "pinball_pct",
)  # fmt: skip
REPORT_HEIGHT_PX = 900


def monitor(api: ApiClient, ticker: str, refresh: bool) -> dict[str, Any]:
    """``/monitor/{ticker}``, following the drift report's materialization when it must run."""
    for _ in range(MAX_TASK_ROUNDS):
        answer = api.monitor(ticker, refresh)
        if not answer.accepted:
            return answer.body
        follow_task(api, answer.body)
        refresh = False  # the report just computed is the fresh one
    raise ApiProblem(f"The drift report of {ticker} is still being computed; try again shortly.")


def quality_row(api: ApiClient, ticker: str) -> dict[str, Any]:
    """One line of the model-quality table; a ticker without a model says so instead."""
    try:
        model = api.model(ticker)
    except ApiProblem as problem:
        return {"ticker": ticker, "note": problem.message}
    rows = sorted(model.get("backtest", []), key=lambda r: r["horizon"])
    h1 = rows[0] if rows else {}
    coverages = [r["coverage"] for r in rows if r.get("coverage") is not None]
    live = model.get("live") or {}
    live_h1 = next(
        (r for r in live.get("horizons", []) if r["horizon"] == 1 and r["window"] == 20), {}
    )
    return {
        "ticker": ticker,
        "serving version": model.get("serving_model_version") or "unregistered",
        "served model": model.get("model"),
        "MAE / naive (h=1)": h1.get("relative_mae"),
        "live MAE / naive (h=1, last 20)": live_h1.get("relative_mae"),
        "live coverage (h=1, last 20)": live_h1.get("coverage"),
        "matured forecasts": live.get("matured", 0),
        "live skill": ("decayed" if live.get("decayed") else "holds") if live else "not scored yet",
        "p vs naive (h=1)": h1.get("p_vs_naive"),
        "direction (h=1)": h1.get("directional_accuracy"),
        "always-up (h=1)": h1.get("up_rate"),
        "mean coverage": sum(coverages) / len(coverages) if coverages else None,
        "latest decision": model.get("outcome"),
        "note": "skill at h=1" if h1.get("significant") else "no significant skill",
    }


def live_section(api: ApiClient, stocks: list[str]) -> None:
    """Live skill beside backtest skill, per horizon, for one ticker."""
    st.subheader("Live skill beside backtest skill")
    ticker = st.selectbox("Ticker", stocks, key="live_ticker")
    try:
        model = api.model(ticker)
    except ApiProblem as problem:
        show_problem(problem)
        return
    live = model.get("live")
    if not live:
        st.info(f"No forecast of {ticker} has matured yet: live skill appears once one has.")
        return
    table = pd.DataFrame([r for r in live["horizons"] if r["window"] == 0])
    st.dataframe(
        table[list(LIVE_COLUMNS)],
        hide_index=True,
        column_config={
            "relative_mae": RATIO,
            "promised_relative_mae": RATIO,
            "coverage": SHARE,
            "promised_coverage": SHARE,
            "directional_accuracy": SHARE,
            "up_rate": SHARE,
        },
    )
    if live.get("decayed"):
        st.warning(
            f"{ticker}: live skill is significantly below the backtest's promise.",
            icon=":material/warning:",
        )


def drift_section(api: ApiClient, result: dict[str, Any]) -> None:
    drift = result.get("drift") or {}
    ticker = result.get("ticker", "")
    st.subheader(f"Data drift: {ticker}")
    cols = st.columns(4)
    share = drift.get("drift_share")
    cols[0].metric("Drifted columns", f"{share:.0%}" if isinstance(share, int | float) else "-")
    cols[1].metric("Dataset drift", "yes" if drift.get("dataset_drift") else "no")
    threshold = drift.get("threshold")
    cols[2].metric("Threshold", f"{threshold:.0%}" if isinstance(threshold, int | float) else "-")
    cols[3].metric("As of", str(drift.get("as_of") or result.get("as_of") or "-"))
    reference = drift.get("reference_window") or ["?", "?"]
    current = drift.get("current_window") or ["?", "?"]
    st.caption(
        f"Reference window {reference[0]} .. {reference[1]}; current window "
        f"{current[0]} .. {current[1]}."
    )
    drifted = drift.get("drifted_columns") or []
    if drift.get("dataset_drift"):
        st.warning("Dataset drift: " + ", ".join(map(str, drifted)), icon=":material/warning:")
    elif drifted:
        st.info("Drifted columns: " + ", ".join(map(str, drifted)))
    else:
        st.success("No column drifted.", icon=":material/check_circle:")
    st.dataframe(
        drift_columns_table(drift),
        hide_index=True,
        column_config={"drift_score": st.column_config.NumberColumn(format="%.4f")},
    )

    evaluation = result.get("report_evaluation")
    st.subheader("Report evaluation")
    if evaluation:
        scores = st.columns(4)
        scores[0].metric("Score", f"{float(evaluation.get('score', 0)):.2f}")
        scores[1].metric("Faithfulness", f"{float(evaluation.get('faithfulness', 0)):.2f}")
        scores[2].metric("Section coverage", f"{float(evaluation.get('section_coverage', 0)):.2f}")
        scores[3].metric("Critic verdict", str(evaluation.get("critic_verdict", "-")))
    else:
        st.info(f"No report has been written for {ticker} yet (run Analyze first).")

    st.subheader("Evidently report")
    try:
        html = api.drift_report_html(ticker)
    except ApiProblem as problem:
        show_problem(problem)
        return
    # Evidently's report is a self-contained page with scripts: it needs its own iframe.
    components.html(html, height=REPORT_HEIGHT_PX, scrolling=True)


st.title("Monitoring")
api = client()
try:
    catalog = api.tickers()
except ApiProblem as problem:
    show_problem(problem)
    st.stop()
index_ticker = catalog.get("index_ticker", "^GSPC")
stocks = [t for t in catalog.get("tickers", []) if t != index_ticker]

st.subheader("Model quality")
if stocks:
    quality = pd.DataFrame([quality_row(api, t) for t in stocks])
    st.dataframe(
        quality,
        hide_index=True,
        column_config={
            "MAE / naive (h=1)": RATIO,
            "live MAE / naive (h=1, last 20)": RATIO,
            "live coverage (h=1, last 20)": SHARE,
            "direction (h=1)": SHARE,
            "always-up (h=1)": SHARE,
            "mean coverage": SHARE,
        },
    )
    st.caption(
        "Walk-forward backtest of each serving model: MAE relative to the naive last-close "
        "forecast (below 1 beats it), direction accuracy beside always-up, interval coverage. "
        "Live: the same measures on served forecasts once their target session arrived; "
        "'decayed' means significantly worse than the backtest promised, and a challenger is "
        "being trained."
    )
    live_section(api, stocks)
else:
    st.info("No stock ticker is registered yet: analyze or forecast one first.")

with st.form("monitor_form"):
    raw_ticker = st.text_input("Ticker", key="monitor_ticker", value=stocks[0] if stocks else "")
    refresh = st.checkbox("Recompute the drift report", key="monitor_refresh")
    submitted = st.form_submit_button("Check drift", type="primary")

if submitted:
    ticker = ticker_or_stop(raw_ticker, RESULT_KEY)
    try:
        with st.spinner(f"Checking drift for {ticker}…"):
            st.session_state[RESULT_KEY] = monitor(api, ticker, refresh)
    except ApiProblem as problem:
        st.session_state.pop(RESULT_KEY, None)
        show_problem(problem)
        st.stop()

result = st.session_state.get(RESULT_KEY)
if result:
    drift_section(api, result)
