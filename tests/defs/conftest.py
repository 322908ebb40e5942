from __future__ import annotations

from pathlib import Path

import pytest

from stock_assets.defs.resources import (
    FileFolderMarketData,
    MarketDataResource,
    OfflineSampleMarketData,
    resources_from_settings,
)
from stock_assets.settings import Settings


def make_resources(settings: Settings, market_data: MarketDataResource | None = None) -> dict:
    """Every resource of the code location, under this test's data folder."""
    resources = resources_from_settings(settings)
    resources["market_data"] = market_data or OfflineSampleMarketData()
    return resources


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
