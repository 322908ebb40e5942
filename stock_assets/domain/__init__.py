"""Pure domain code: market data, indicators, calendars, features, models.

Nothing under this package imports Dagster, FastAPI or Streamlit (enforced by import-linter), so the
API, the agents and the benchmarks reuse it directly.
"""
