"""Forecasts land on NYSE sessions, are ordered, and serialise; a mix serves each horizon from
its own model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from devkit.series import FrameFactory
from stock_assets.domain.calendar import trading_days
from stock_assets.domain.ml.artifacts import (
    ModelBundle,
    latest_version,
    list_versions,
    load_bundle,
    save_bundle,
    save_mix_bundle,
)
from stock_assets.domain.ml.candidates import fit_production_baseline
from stock_assets.domain.ml.config import TINY
from stock_assets.domain.ml.dataset import prepare_data
from stock_assets.domain.ml.forecast import ForecastResult, forecast_next
from stock_assets.domain.ml.model import build_model


def _bundle(frame: pd.DataFrame) -> ModelBundle:
    data = prepare_data(frame, TINY)
    start = str(data.val.anchor_dates[0].date())
    return ModelBundle(
        config=TINY,
        metadata={"calibration_start": start, "kind": "lstm"},
        path=Path("unsaved"),
        model=build_model(TINY),
        scaler=data.scaler,
    )


@pytest.mark.parametrize(
    ("last_day", "expected_first_days"),
    [
        # Thanksgiving 2023-11-23 is skipped (the half-day 11-24 is a session).
        ("2023-11-22", ["2023-11-24", "2023-11-27"]),
        # Christmas 2023-12-25 and the weekend are skipped; so is New Year's Day.
        ("2023-12-22", ["2023-12-26", "2023-12-27", "2023-12-28", "2023-12-29", "2024-01-02"]),
    ],
)
def test_forecast_dates_are_nyse_sessions(
    indicator_frame: FrameFactory, last_day: str, expected_first_days: list[str]
) -> None:
    frame = indicator_frame(300, seed=2, end=last_day)
    result = forecast_next(_bundle(frame), frame, ticker="AAPL")
    assert result.as_of == last_day
    dates = [p.date for p in result.points]
    assert len(dates) == TINY.horizon
    assert dates[: len(expected_first_days)] == expected_first_days
    sessions = set(trading_days(dates[0], dates[-1]).strftime("%Y-%m-%d"))
    assert set(dates) <= sessions
    for p in result.points:
        assert p.lower <= p.median <= p.upper
        assert list(p.quantile_prices) == sorted(p.quantile_prices)
    assert result.last_close == pytest.approx(frame["close"].iloc[-1])
    restored = ForecastResult.from_dict(json.loads(result.to_json()))
    assert restored == result
    assert list(result.to_frame()["horizon"]) == list(range(1, TINY.horizon + 1))


def test_as_of_cuts_the_data(indicator_frame: FrameFactory) -> None:
    frame = indicator_frame(300, seed=2, end="2023-12-29")
    ts_frame = frame.rename(columns={"date": "event_timestamp"})
    ts_frame["event_timestamp"] = pd.to_datetime(ts_frame["event_timestamp"]).dt.tz_localize("UTC")
    result = forecast_next(_bundle(frame), ts_frame, as_of="2023-11-22")
    assert result.as_of == "2023-11-22"
    assert result.points[0].date == "2023-11-24"
    expected_close = frame.loc[frame["date"] == "2023-11-22", "close"].iloc[0]
    assert result.last_close == pytest.approx(expected_close)


def test_served_intervals_are_calibrated_from_data_up_to_the_forecast_only(
    indicator_frame: FrameFactory,
) -> None:
    frame = indicator_frame(600, seed=3, end="2023-12-29")
    bundle = _bundle(frame)
    base = forecast_next(bundle, frame, as_of="2023-11-22")
    changed = frame.copy()
    later = pd.to_datetime(changed["date"]) > pd.Timestamp("2023-11-22")
    changed.loc[later, "close"] *= 1.3
    again = forecast_next(bundle, changed, as_of="2023-11-22")
    assert again == base
    # The interval is the model's, rescaled by conformal calibration: an untrained model's raw
    # quantiles are nowhere near 80% coverage, so the rescaling is not the identity.
    raw = forecast_next(
        ModelBundle(
            bundle.config,
            {"kind": "lstm", "calibration_start": "2023-11-21"},
            bundle.path,
            bundle.model,
            bundle.scaler,
        ),
        frame,
        as_of="2023-11-22",
    )
    assert not np.isclose(raw.points[0].upper, base.points[0].upper)


def test_a_mix_serves_each_horizon_from_its_own_model(
    indicator_frame: FrameFactory, tmp_path: Path
) -> None:
    """A mix bundle round-trips, and each horizon's point (median and calibrated interval) is
    exactly what its own model forecasts alone."""
    frame = indicator_frame(400, seed=4, end="2023-12-29")
    data = prepare_data(frame, TINY)
    lstm_path = save_bundle(
        tmp_path,
        "SYN",
        "v1",
        config=TINY,
        state_dict=build_model(TINY).state_dict(),
        scaler=data.scaler,
        metadata={"calibration_start": str(data.val.anchor_dates[0].date())},
    )
    naive, window = fit_production_baseline("naive", frame, TINY)
    plan = ("lstm",) + ("naive",) * (TINY.horizon - 1)
    save_mix_bundle(
        tmp_path,
        "SYN",
        "v2",
        config=TINY,
        plan=plan,
        components={"lstm": lstm_path, "naive": (naive, {"role": "baseline", **window})},
        metadata={"role": "mix"},
    )
    mix = load_bundle(tmp_path, "SYN", "v2")
    assert mix.kind == "mix" and mix.candidate == "mix"
    assert [c.candidate for c in mix.plan] == list(plan)
    assert mix.plan[0].version == "v1"  # a copied component keeps its version
    assert latest_version(tmp_path, "SYN", kind="lstm") == "v1"
    with pytest.raises(TypeError, match="one forecaster per horizon"):
        _ = mix.forecaster

    mixed = forecast_next(mix, frame)
    alone = {c.candidate: forecast_next(c, frame) for c in mix.plan}
    assert mixed.model == "mix"
    for h, point in enumerate(mixed.points):
        assert point == alone[plan[h]].points[h]
        assert point.model == plan[h]
    assert ForecastResult.from_dict(json.loads(mixed.to_json())) == mixed

    with pytest.raises(ValueError, match="without a component"):
        save_mix_bundle(
            tmp_path, "SYN", "v3", config=TINY, plan=("linear",) * TINY.horizon, components={}
        )
    with pytest.raises(ValueError, match="one model per horizon"):
        save_mix_bundle(
            tmp_path, "SYN", "v3", config=TINY, plan=("lstm",), components={"lstm": lstm_path}
        )
    assert list_versions(tmp_path, "SYN") == ["v1", "v2"]  # nothing half-written
    # A tampered component fails the mix's load like any tampered bundle.
    (tmp_path / "SYN" / "v2" / "components" / "naive" / "forecaster.json").write_text("{}")
    with pytest.raises(ValueError, match="checksum"):
        load_bundle(tmp_path, "SYN", "v2")
