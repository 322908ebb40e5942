"""Real materializations of the data and feature assets on a temporary Dagster instance."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from devkit.series import linear_ohlcv
from stock_assets import names
from stock_assets.defs.assets.features import feature_definitions, online_features
from stock_assets.defs.assets.market import indicators, ohlcv
from stock_assets.defs.partitions import TICKERS_PARTITION
from stock_assets.domain.market_data import OfflineSampleProvider
from stock_assets.domain.symbols import ticker_slug
from stock_assets.settings import Settings

DATA_ASSETS = [ohlcv, indicators]
ALL_ASSETS = [ohlcv, indicators, feature_definitions, online_features]


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _materialize(assets: list, ticker: str, instance, resources: dict) -> dg.ExecuteInProcessResult:  # type: ignore[no-untyped-def]
    instance.add_dynamic_partitions(TICKERS_PARTITION, [ticker])
    return dg.materialize(
        assets, partition_key=ticker, instance=instance, resources=resources, raise_on_error=False
    )


def test_sample_ticker_materializes_end_to_end(
    dagster_instance, resources: dict, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    dg.materialize([feature_definitions], instance=dagster_instance, resources=resources)
    result = _materialize(ALL_ASSETS, "^GSPC", dagster_instance, resources)
    assert result.success

    ohlcv_meta = result.asset_materializations_for_node(names.OHLCV)[0].metadata
    assert ohlcv_meta["dagster/row_count"].value == 5031
    assert ohlcv_meta["first_date"].value == "1999-01-04"
    assert ohlcv_meta["last_date"].value == "2018-12-31"
    assert "preview" in ohlcv_meta and ohlcv_meta["last_close"].value > 2000

    checks = _checks(result)
    for name in (
        "unique_increasing_dates",
        "positive_prices",
        "ohlc_consistency",
        "no_nan_after_warmup",
        "online_matches_offline",
    ):
        assert checks[name].passed, (name, checks[name].description)

    # The indicator table landed where the Feast file source reads it.
    stored = pd.read_parquet(settings.indicators_dir / f"{ticker_slug('^GSPC')}.parquet")
    assert len(stored) == 5031 and set(stored["ticker"]) == {"^GSPC"}
    online = result.asset_materializations_for_node(names.ONLINE_FEATURES)[0].metadata
    assert online["online_row"].value["close"] == pytest.approx(stored["close"].iloc[-1])


def test_indicator_values_in_store_match_domain_computation(
    dagster_instance, resources: dict, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    assert _materialize(DATA_ASSETS, "MSFT", dagster_instance, resources).success
    stored = pd.read_parquet(settings.indicators_dir / "MSFT.parquet")
    close = OfflineSampleProvider().fetch("MSFT")["close"].to_numpy()
    np.testing.assert_allclose(stored["log_return"].to_numpy()[1:], np.diff(np.log(close)))


def _write_csv(folder: Path, name: str, frame: pd.DataFrame) -> None:
    frame.to_csv(folder / f"{name}.csv", index=False)


def _good_frame(days: int = 60) -> pd.DataFrame:
    # No NYSE holiday in this window.
    return linear_ohlcv("2024-03-04", days, 20, 25, spread=1, volume=5000.0)


def test_corrupted_csv_fails_clearly_and_writes_nothing(
    dagster_instance, file_resources: dict, files_folder: Path, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    (files_folder / "XYZ.csv").write_text("date,open,high,low,close,volume\n2024-01-02,1,2,oops")
    result = _materialize(DATA_ASSETS, "XYZ", dagster_instance, file_resources)
    assert not result.success
    failure = result.failure_data_for_node(names.OHLCV)
    assert failure is not None and "XYZ" in str(failure.user_failure_data.description)
    assert not (settings.tables_dir / names.OHLCV / "XYZ.parquet").exists()


def test_provider_failure_keeps_earlier_data(
    dagster_instance, file_resources: dict, files_folder: Path, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    _write_csv(files_folder, "KEEP", _good_frame())
    assert _materialize(DATA_ASSETS, "KEEP", dagster_instance, file_resources).success
    stored_path = settings.tables_dir / names.OHLCV / "KEEP.parquet"
    before = pd.read_parquet(stored_path)
    (files_folder / "KEEP.csv").unlink()  # the source disappears
    result = _materialize(DATA_ASSETS, "KEEP", dagster_instance, file_resources)
    assert not result.success
    assert "No file for KEEP" in str(
        result.failure_data_for_node(names.OHLCV).user_failure_data.description
    )
    pd.testing.assert_frame_equal(pd.read_parquet(stored_path), before)


def test_bad_prices_fail_blocking_checks_and_stop_downstream(
    dagster_instance, file_resources: dict, files_folder: Path
) -> None:  # type: ignore[no-untyped-def]
    frame = _good_frame()
    frame.loc[10, "close"] = -3.0
    frame.loc[20, "high"] = 1.0  # High below Open/Close
    frame = pd.concat([frame, frame.iloc[[30]]])  # a duplicated date
    _write_csv(files_folder, "BAD", frame)
    result = _materialize(DATA_ASSETS, "BAD", dagster_instance, file_resources)
    checks = _checks(result)
    assert not checks["positive_prices"].passed
    assert "non-positive price" in checks["positive_prices"].description
    assert not checks["ohlc_consistency"].passed
    assert not checks["unique_increasing_dates"].passed
    # Blocking checks failed: indicators must not have been computed from bad data.
    assert not result.asset_materializations_for_node(names.INDICATORS)
    assert not result.success


def test_gap_check_warns_on_missing_sessions(
    dagster_instance, file_resources: dict, files_folder: Path
) -> None:  # type: ignore[no-untyped-def]
    frame = _good_frame().drop(index=[5, 6])
    _write_csv(files_folder, "GAPPY", frame)
    result = _materialize(DATA_ASSETS, "GAPPY", dagster_instance, file_resources)
    gap = _checks(result)["trading_day_gaps"]
    assert not gap.passed and gap.severity == dg.AssetCheckSeverity.WARN
    assert "2 NYSE session(s) have no row" in gap.description
    assert result.success  # a warning does not stop the pipeline


def test_online_features_without_registry_fails_with_reason(
    dagster_instance, resources: dict
) -> None:  # type: ignore[no-untyped-def]
    result = _materialize([*ALL_ASSETS[:2], online_features], "IBM", dagster_instance, resources)
    assert not result.success
    failure = result.failure_data_for_node(names.ONLINE_FEATURES)
    assert names.FEATURE_DEFINITIONS in str(failure.user_failure_data.description)
