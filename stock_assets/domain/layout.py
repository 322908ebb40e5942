"""Where every stored artifact lives: the one place a path of the platform is spelled.

Under the data directory::

    tables/<table>/<SLUG>.parquet        one table per asset and ticker (written by the IO manager)
    outputs/<SLUG>/<version>/            model bundles (immutable, see ``ml.artifacts``)
    outputs/_parent/, _backtest_parent/  parents: the production one, and one per backtest cut-off
    outputs/drift/<SLUG>/latest.json     the drift summary, ``latest.html`` its Evidently report,
                                         ``reference.json`` the data end the champion validated
    outputs/reports/<SLUG>/latest.json   the agents' latest report and its evaluation

Table and folder names are lower case and ticker slugs upper case, so the two never collide.
Readers here return None for what is not stored yet; writers live beside the code that owns
the artifact and always write atomically (``storage``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from stock_assets import names
from stock_assets.domain.symbols import ticker_slug

# Table names are the names of the assets that write them.
OHLCV = names.OHLCV
INDICATORS = names.INDICATORS
BACKTEST = names.BACKTEST
FORECAST = names.FORECAST
FORECAST_ARCHIVE = names.FORECAST_ARCHIVE
LIVE_SKILL = names.LIVE_SKILL

PARENT_FOLDER = "_parent"
BACKTEST_PARENT_FOLDER = "_backtest_parent"
DRIFT_FOLDER = "drift"
REPORTS_FOLDER = "reports"
LATEST_JSON = "latest.json"
LATEST_HTML = "latest.html"
ADOPTED_JSON = "reference.json"
UNPARTITIONED = "all"


def table_path(tables_dir: Path, table: str, ticker: str | None = None) -> Path:
    """``<tables_dir>/<table>/<SLUG>.parquet`` (``all.parquet`` for an unpartitioned table)."""
    name = ticker_slug(ticker) if ticker else UNPARTITIONED
    return Path(tables_dir) / table / f"{name}.parquet"


def read_table(
    tables_dir: Path, table: str, ticker: str | None = None, columns: list[str] | None = None
) -> pd.DataFrame | None:
    """The stored table, or None when it has not been written (or cannot be read)."""
    try:
        return pd.read_parquet(table_path(tables_dir, table, ticker), columns=columns)
    except (FileNotFoundError, OSError):
        return None


def drift_dir(outputs_dir: Path, ticker: str) -> Path:
    return Path(outputs_dir) / DRIFT_FOLDER / ticker_slug(ticker)


def drift_html_path(outputs_dir: Path, ticker: str) -> Path:
    return drift_dir(outputs_dir, ticker) / LATEST_HTML


def drift_summary_path(outputs_dir: Path, ticker: str) -> Path:
    return drift_dir(outputs_dir, ticker) / LATEST_JSON


def adopted_reference_path(outputs_dir: Path, ticker: str) -> Path:
    return drift_dir(outputs_dir, ticker) / ADOPTED_JSON


def reports_dir(outputs_dir: Path) -> Path:
    return Path(outputs_dir) / REPORTS_FOLDER


def agent_report_path(outputs_dir: Path, ticker: str) -> Path:
    return reports_dir(outputs_dir) / ticker_slug(ticker) / LATEST_JSON


@dataclass(frozen=True)
class Layout:
    """The paths of one data directory, for code that holds the two folders together."""

    tables_dir: Path
    outputs_dir: Path

    def table(self, table: str, ticker: str | None = None) -> Path:
        return table_path(self.tables_dir, table, ticker)

    def read(
        self, table: str, ticker: str | None = None, columns: list[str] | None = None
    ) -> pd.DataFrame | None:
        return read_table(self.tables_dir, table, ticker, columns)

    @property
    def children_root(self) -> Path:
        """Per-ticker bundles: ``outputs/<SLUG>/<version>/``."""
        return self.outputs_dir

    @property
    def parent_root(self) -> Path:
        return self.outputs_dir / PARENT_FOLDER

    @property
    def backtest_parent_root(self) -> Path:
        return self.outputs_dir / BACKTEST_PARENT_FOLDER

    @property
    def reports_dir(self) -> Path:
        return reports_dir(self.outputs_dir)

    def agent_report(self, ticker: str) -> Path:
        return agent_report_path(self.outputs_dir, ticker)
