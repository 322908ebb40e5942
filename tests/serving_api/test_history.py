"""``GET /history/{ticker}``: closes read from the table the real ``ohlcv`` asset stored."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pandas as pd
from fastapi.testclient import TestClient

from devkit.api import api_settings
from stock_assets.defs.assets.market import ohlcv
from stock_assets.defs.resources import OfflineSampleMarketData, TableIOManager
from stock_assets.domain.market_data import OfflineSampleProvider
from stock_assets.names import TICKERS_PARTITION

MakeClient = Callable[..., TestClient]


def test_history_returns_the_last_closes_of_the_stored_table(
    make_client: MakeClient, tmp_path: Path, prefix: str, dagster_instance: dg.DagsterInstance
) -> None:
    client = make_client()
    settings = api_settings(tmp_path, prefix)
    dagster_instance.add_dynamic_partitions(TICKERS_PARTITION, ["IBM", "^GSPC"])
    for ticker in ("IBM", "^GSPC"):
        result = dg.materialize(
            [ohlcv],
            partition_key=ticker,
            instance=dagster_instance,
            resources={
                "market_data": OfflineSampleMarketData(),
                "io_manager": TableIOManager(base_dir=str(settings.tables_dir)),
            },
        )
        assert result.success

    response = client.get("/history/ibm", params={"days": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    source = OfflineSampleProvider().fetch("IBM").tail(5)
    assert body["ticker"] == "IBM" and body["as_of"] == "2013-03-01"
    dates = pd.to_datetime(source["date"]).dt.strftime("%Y-%m-%d")
    assert [p["date"] for p in body["points"]] == list(dates)
    assert [p["close"] for p in body["points"]] == [float(c) for c in source["close"]]

    default = client.get("/history/IBM").json()["points"]
    assert len(default) == 120 and default[-1] == body["points"][-1]
    # An index symbol goes through its slug (the caret is not a file name character here).
    index = client.get("/history/%5EGSPC", params={"days": 3}).json()
    assert index["ticker"] == "^GSPC" and index["as_of"] == "2018-12-31"


def test_history_errors_are_4xx_with_messages(make_client: MakeClient) -> None:
    client = make_client()
    missing = client.get("/history/MSFT")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "no_data"
    assert "MSFT" in missing.json()["error"]["message"]
    invalid = client.get("/history/a%20b")
    assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "invalid_ticker"
    for days in ("0", "100000", "many"):
        too_many = client.get("/history/IBM", params={"days": days})
        assert too_many.status_code == 422 and "days" in too_many.json()["error"]["message"]
