"""Small matplotlib figures embedded in Dagster metadata as Markdown images."""

import base64
import io
from collections.abc import Sequence

import dagster as dg
import matplotlib

matplotlib.use("Agg")  # no display on servers and in runs

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd


def _to_markdown(fig: plt.Figure, alt: str, tight: bool = False) -> dg.MetadataValue:
    buffer = io.BytesIO()
    # A tight bounding box measures every label first, doubling the cost of a figure that the
    # daily refresh draws once per ticker: the dated plots set fixed margins instead.
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight" if tight else None)
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
    return _to_markdown(fig, "loss curve", tight=True)


def _dated_axes() -> tuple[plt.Figure, plt.Axes]:
    """A 7x3 figure with fixed margins and compact date ticks (no rotated labels to fit)."""
    fig = plt.figure(figsize=(7, 3))
    ax = fig.add_axes((0.1, 0.14, 0.88, 0.76))
    locator = mdates.AutoDateLocator(maxticks=6)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    return fig, ax


def interval_plot(frame: pd.DataFrame, title: str) -> dg.MetadataValue:
    """``frame``: date, actual, median, lower, upper (e.g. backtest h=1 or a forecast)."""
    fig, ax = _dated_axes()
    dates = pd.to_datetime(frame["date"])
    ax.fill_between(dates, frame["lower"], frame["upper"], alpha=0.25, label="interval")
    if "actual" in frame:
        ax.plot(dates, frame["actual"], color="black", linewidth=0.8, label="actual")
    ax.plot(dates, frame["median"], linewidth=0.8, label="forecast (median)")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize="small")
    return _to_markdown(fig, title)


def live_skill_plot(scored: pd.DataFrame, promises: dict, title: str) -> dg.MetadataValue:
    """Rolling (20 forecasts) live MAE relative to naive at h=1 and the longest horizon, with the
    backtest's promise as dashed lines; ``scored`` as ``score_matured`` returns it."""
    fig, ax = _dated_axes()
    horizons = sorted(scored["horizon"].unique())
    for h in dict.fromkeys((horizons[0], horizons[-1])):
        part = scored[scored["horizon"] == h].sort_values("as_of")
        model = part["abs_error_pct"].rolling(20, min_periods=5).mean()
        naive = part["naive_abs_error_pct"].rolling(20, min_periods=5).mean()
        line = ax.plot(pd.to_datetime(part["as_of"]), model / naive, label=f"live h={h}")
        promise = promises.get(h)
        if promise is not None and promise.relative_mae is not None:
            ax.axhline(
                promise.relative_mae,
                linestyle="--",
                color=line[0].get_color(),
                label=f"backtest h={h}",
            )
    ax.axhline(1.0, color="grey", linewidth=0.6)
    ax.set_ylabel("MAE / naive MAE")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize="small")
    return _to_markdown(fig, title)
