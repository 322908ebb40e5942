"""Small matplotlib figures embedded in Dagster metadata as Markdown images."""

import base64
import io
from collections.abc import Sequence

import dagster as dg
import matplotlib

matplotlib.use("Agg")  # no display on servers and in runs

import matplotlib.pyplot as plt
import pandas as pd


def _to_markdown(fig: plt.Figure, alt: str) -> dg.MetadataValue:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{encoded})")


def loss_curve(train_loss: Sequence[float], val_loss: Sequence[float]) -> dg.MetadataValue:
    fig, ax = plt.subplots(figsize=(6, 3))
    epochs = range(1, len(train_loss) + 1)
    ax.plot(epochs, train_loss, label="train")
    ax.plot(epochs, val_loss, label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("pinball loss")
    ax.legend()
    return _to_markdown(fig, "loss curve")


def interval_plot(frame: pd.DataFrame, title: str) -> dg.MetadataValue:
    """``frame``: date, actual, median, lower, upper (e.g. backtest h=1 or a forecast)."""
    fig, ax = plt.subplots(figsize=(7, 3))
    dates = pd.to_datetime(frame["date"])
    ax.fill_between(dates, frame["lower"], frame["upper"], alpha=0.25, label="interval")
    if "actual" in frame:
        ax.plot(dates, frame["actual"], color="black", linewidth=0.8, label="actual")
    ax.plot(dates, frame["median"], linewidth=0.8, label="forecast (median)")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    return _to_markdown(fig, title)
