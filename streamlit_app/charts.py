"""Plotly figures and display tables built from API answers (no Streamlit here: unit-testable)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

HISTORY_COLOR = "#1f77b4"
FORECAST_COLOR = "#d62728"
BAND_COLOR = "rgba(214, 39, 40, 0.18)"


def forecast_figure(history: list[dict[str, Any]], forecast: dict[str, Any]) -> go.Figure:
    """Recent closes, the median forecast and its interval band, on one date axis.

    The forecast traces start at the last close so the line does not jump between history and
    forecast; the band's width is the nominal coverage of the model's quantiles.
    """
    points = sorted(forecast.get("points", []), key=lambda p: p["horizon"])
    anchor_date = forecast.get("as_of")
    anchor_close = forecast.get("last_close")
    anchor = [] if anchor_date is None or anchor_close is None else [(anchor_date, anchor_close)]
    dates = [d for d, _ in anchor] + [p["date"] for p in points]
    median = [c for _, c in anchor] + [p["median"] for p in points]
    lower = [c for _, c in anchor] + [p["lower"] for p in points]
    upper = [c for _, c in anchor] + [p["upper"] for p in points]
    coverage = forecast.get("nominal_coverage")
    band_name = f"{coverage:.0%} interval" if isinstance(coverage, int | float) else "interval"

    figure = go.Figure()
    if history:
        figure.add_trace(
            go.Scatter(
                x=[p["date"] for p in history],
                y=[p["close"] for p in history],
                mode="lines",
                name="close",
                line={"color": HISTORY_COLOR, "width": 1.8},
            )
        )
    # The band: upper edge first, then lower filled up to it.
    figure.add_trace(
        go.Scatter(
            x=dates, y=upper, mode="lines", line={"width": 0}, showlegend=False,
            name="upper", hoverinfo="skip",
        )
    )  # fmt: skip
    figure.add_trace(
        go.Scatter(
            x=dates, y=lower, mode="lines", line={"width": 0}, fill="tonexty",
            fillcolor=BAND_COLOR, name=band_name,
        )
    )  # fmt: skip
    figure.add_trace(
        go.Scatter(
            x=dates,
            y=median,
            mode="lines+markers",
            name="forecast (median)",
            line={"color": FORECAST_COLOR, "dash": "dash", "width": 2},
        )
    )
    ticker = forecast.get("ticker", "")
    figure.update_layout(
        title=f"{ticker}: last {len(history)} sessions and the {len(points)}-session forecast",
        xaxis_title="date",
        yaxis_title="price",
        hovermode="x unified",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        margin={"l": 40, "r": 20, "t": 70, "b": 40},
    )
    return figure


def forecast_table(forecast: dict[str, Any]) -> pd.DataFrame:
    rows = sorted(forecast.get("points", []), key=lambda p: p["horizon"])
    return pd.DataFrame(
        [
            {"horizon": p["horizon"], "date": p["date"], "lower": p["lower"],
             "median": p["median"], "upper": p["upper"], "model": p.get("model")}
            for p in rows
        ],
        columns=["horizon", "date", "lower", "median", "upper", "model"],
    )  # fmt: skip


BACKTEST_COLUMNS = {
    "horizon": "horizon (sessions)",
    "model": "served by",
    "relative_mae": "MAE / naive MAE",
    "p_vs_naive": "p vs naive",
    "directional_accuracy": "direction accuracy",
    "up_rate": "always-up accuracy",
    "coverage": "interval coverage",
}


def backtest_table(model: dict[str, Any]) -> pd.DataFrame:
    """Per horizon: the model serving it, its MAE relative to the naive last-close forecast with
    the significance of the difference, direction accuracy beside the always-up baseline, and
    interval coverage."""
    rows = sorted(model.get("backtest", []), key=lambda r: r["horizon"])
    frame = pd.DataFrame(rows, columns=list(BACKTEST_COLUMNS))
    return frame.rename(columns=BACKTEST_COLUMNS)


def drift_columns_table(drift: dict[str, Any]) -> pd.DataFrame:
    columns = ["column", "stattest", "drift_score", "drifted"]
    rows = sorted(
        drift.get("columns", []), key=lambda c: (not c.get("drifted"), str(c.get("column")))
    )
    return pd.DataFrame(rows, columns=columns)
