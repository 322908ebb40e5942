from __future__ import annotations

from pathlib import Path

import pytest

from stock_assets.defs.resources import (
    FeastResource,
    FileFolderMarketData,
    MarketDataResource,
    OfflineSampleMarketData,
    TableIOManager,
)
from stock_assets.settings import Settings


def make_resources(settings: Settings, market_data: MarketDataResource | None = None) -> dict:
    return {
        "market_data": market_data or OfflineSampleMarketData(),
        "feast": FeastResource(
            feast_dir=str(settings.resolved_feast_dir), indicators_dir=str(settings.indicators_dir)
        ),
        "io_manager": TableIOManager(base_dir=str(settings.tables_dir)),
    }


@pytest.fixture
def resources(settings: Settings) -> dict:
    return make_resources(settings)


@pytest.fixture
def files_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "market_files"
    folder.mkdir()
    return folder


@pytest.fixture
def file_resources(settings: Settings, files_folder: Path) -> dict:
    return make_resources(settings, FileFolderMarketData(folder=str(files_folder)))
