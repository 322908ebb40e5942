"""Forecast: the interactive chart, the backtest against naive baselines, model and data dates."""

from __future__ import annotations

import streamlit as st

from streamlit_app.api_client import ApiProblem
from streamlit_app.charts import backtest_table
from streamlit_app.ui import (
    BACKTEST_COLUMN_CONFIG,
    client,
    forecast_section,
    forecast_with_training,
    show_problem,
    ticker_or_stop,
)

st.title("Forecast")
api = client()
registered: list[str] = []
index_ticker = "^GSPC"
try:
    catalog = api.tickers()
    registered = list(catalog.get("tickers", []))
    index_ticker = catalog.get("index_ticker", index_ticker)
except ApiProblem as problem:
    show_problem(problem)
    st.stop()

stocks = [t for t in registered if t != index_ticker]
left, right = st.columns([2, 1])
raw_ticker = left.text_input(
    "Ticker",
    key="forecast_ticker",
    value=stocks[0] if stocks else "AAPL",
    help="A registered ticker, or a new one (it is trained first).",
)
days = right.slider(
    "History shown (sessions)", key="forecast_days", min_value=20, max_value=750, value=120, step=10
)
if registered:
    st.caption("Registered: " + ", ".join(registered))

ticker = ticker_or_stop(raw_ticker)

try:
    forecast = forecast_with_training(api, ticker)
except ApiProblem as problem:
    show_problem(problem)
    st.stop()

forecast_section(api, forecast, days)

st.subheader("Backtest")
st.caption(
    "Walk-forward backtest of the served model per horizon (each horizon is served by the model "
    "that earned it). Skill over the last-close forecast counts only where the Diebold-Mariano "
    "p-value, adjusted over the horizons, is below 0.05; direction accuracy is worth "
    "comparing with always predicting 'up'; interval coverage should be near the band's "
    "nominal level."
)
try:
    model = api.model(ticker)
except ApiProblem as problem:
    show_problem(problem)
    st.stop()
table = backtest_table(model)
if table.empty:
    st.info(f"No backtest is stored for {ticker} yet.")
else:
    st.dataframe(table, hide_index=True, column_config=BACKTEST_COLUMN_CONFIG)
if model.get("skill"):
    st.markdown(f"**Served model: {model.get('model')}.** {model['skill']}")
st.caption(
    f"Champion version: {model.get('champion_version') or 'none'} "
    f"({model.get('model')}, {model.get('model_kind')}, bundle "
    f"{model.get('serving_bundle_version')}) · latest decision: {model.get('outcome') or '-'}"
    f"{': ' + model['decision_reason'] if model.get('decision_reason') else ''} · policy "
    f"{model.get('policy_version') or '-'} · data as of {forecast['as_of']}."
)
