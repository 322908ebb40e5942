"""Analyze: a ticker in, the forecast and the written report out (training it first if new)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from streamlit_app.api_client import ApiClient, ApiProblem
from streamlit_app.report_view import LEGEND, report_markdown, sentence_rows
from streamlit_app.ui import (
    MAX_TASK_ROUNDS,
    client,
    follow_task,
    forecast_section,
    forecast_with_training,
    show_problem,
    ticker_or_stop,
)

RESULT_KEY = "analysis"


def analyze(api: ApiClient, ticker: str, question: str, refresh: bool) -> dict[str, Any]:
    """``/analyze`` (following a training task when the ticker is new). Without that route the
    forecast alone is returned, with ``report`` None."""
    try:
        for _ in range(MAX_TASK_ROUNDS):
            answer = api.analyze(ticker, question or None, refresh)
            if not answer.accepted:
                return answer.body
            follow_task(api, answer.body)
            refresh = False  # the report is new anyway; do not make it twice
        raise ApiProblem(f"{ticker} is still training; try again in a moment.")
    except ApiProblem as problem:
        if not problem.route_missing:
            raise
        show_problem(problem)
    forecast = forecast_with_training(api, ticker)
    return {"ticker": ticker, "as_of": forecast["as_of"], "forecast": forecast, "report": None}


def report_section(result: dict[str, Any]) -> None:
    report = result.get("report")
    st.subheader("Report")
    if not report:
        st.info(
            "Written reports come from the API's /analyze route, which this API does not offer "
            "yet. The forecast above is the model's own.",
            icon=":material/construction:",
        )
        return
    stance = str(report.get("stance", "neutral"))
    cols = st.columns(4)
    cols[0].metric("Stance", stance)
    cols[1].metric("Confidence", f"{float(report.get('confidence', 0)):.0%}")
    evaluation = result.get("evaluation") or {}
    if evaluation:
        cols[2].metric("Report score", f"{float(evaluation.get('score', 0)):.2f}")
        cols[3].metric("Critic verdict", str(evaluation.get("critic_verdict", "-")))
    with st.container(border=True):
        st.markdown(report_markdown(report))
    st.caption(
        f"{LEGEND} Model: {report.get('llm', '?')}; numbers checked against the data: "
        f"{report.get('verified_numbers', 0)} verified, "
        f"{report.get('unverified_numbers', 0)} unverified"
        f"{' · cached report' if result.get('cache_hit') else ''}."
    )
    if evaluation:
        with st.expander("Report evaluation"):
            rows = [
                (
                    "faithfulness (numbers and claims)",
                    f"{float(evaluation.get('faithfulness', 0)):.2f}",
                ),
                ("claims checked", str(evaluation.get("claims", "-"))),
                ("unsupported claims", str(len(evaluation.get("unsupported_claims", [])))),
                *sentence_rows(evaluation),
                ("section coverage", f"{float(evaluation.get('section_coverage', 0)):.2f}"),
                ("length (words)", str(evaluation.get("length_words", "-"))),
                ("score", f"{float(evaluation.get('score', 0)):.2f}"),
            ]
            st.dataframe(
                {"measure": [r[0] for r in rows], "value": [r[1] for r in rows]},
                hide_index=True,
            )
    if report.get("critique"):
        with st.expander("Critique"):
            st.text(report["critique"])  # model text inside: shown as plain text


st.title("Analyze a stock")
st.caption(
    "A 7-session forecast from the ticker's model and a written analysis. A ticker without a "
    "model is trained first (a few minutes); the bar follows the training runs."
)
with st.form("analyze_form"):
    raw_ticker = st.text_input(
        "Ticker", key="analyze_ticker", placeholder="e.g. AAPL, BRK-B, RELIANCE.NS, ^GSPC"
    )
    question = st.text_input(
        "Question (optional)", key="analyze_question", placeholder="e.g. Is the trend holding?"
    )
    refresh = st.checkbox("Write a fresh report instead of a cached one", key="analyze_refresh")
    submitted = st.form_submit_button("Analyze", type="primary")

if submitted:
    ticker = ticker_or_stop(raw_ticker, RESULT_KEY)
    api = client()
    try:
        with st.spinner(f"Analyzing {ticker}…"):
            st.session_state[RESULT_KEY] = analyze(api, ticker, question.strip(), refresh)
    except ApiProblem as problem:
        st.session_state.pop(RESULT_KEY, None)
        show_problem(problem)
        st.stop()

result = st.session_state.get(RESULT_KEY)
if result:
    st.header(result["ticker"])
    # The report carries the forecast table itself.
    forecast_section(client(), result["forecast"], table=result.get("report") is None)
    report_section(result)
