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
    "Walk-forward backtest per horizon. MAE / naive MAE below 1 beats the last-close forecast; "
    "direction accuracy is worth comparing with always predicting 'up'; interval coverage "
    "should be near the band's nominal level."
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
gate = "passed" if model.get("promoted") else "not passed"
st.caption(
    f"Champion version: {model.get('champion_version') or 'none'} · serving version: "
    f"{model.get('serving_model_version') or 'unregistered'} (bundle "
    f"{model.get('serving_bundle_version')}) · promotion gate {gate}"
    f"{': ' + model['gate_reason'] if model.get('gate_reason') else ''} · data as of "
    f"{forecast['as_of']}."
)
