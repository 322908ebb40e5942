"""The drift windows, the drift scores (Evidently's, computed here) on synthetic inputs, the
Evidently report, and the files they leave."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stock_assets.domain.monitoring import (
    DRIFT_FEATURE_COLUMNS,
    DriftSettings,
    InsufficientDataError,
    compute_drift,
    drift_windows,
    read_agent_report,
    read_drift_summary,
    render_drift_html,
    training_end,
    write_drift_report,
)
from stock_assets.domain.monitoring.drift import _column_results, _evidently_snapshot

SETTINGS = DriftSettings(current_rows=60, reference_rows=300)


def frame(rows: int, seed: int = 0, scale_last: int = 0, factor: float = 1.0) -> pd.DataFrame:
    """Indicator-like rows on NYSE-ish weekdays; the last ``scale_last`` rows scaled."""
    rng = np.random.default_rng(seed)
    data = {c: rng.normal(size=rows) for c in DRIFT_FEATURE_COLUMNS}
    table = pd.DataFrame({"date": pd.bdate_range("2020-01-01", periods=rows), **data})
    if scale_last:
        cols = list(DRIFT_FEATURE_COLUMNS)
        table.loc[table.index[-scale_last:], cols] = table[cols].iloc[-scale_last:] * factor + 2
    return table


def test_windows_do_not_overlap_and_stop_at_the_training_end() -> None:
    table = frame(800)
    windows = drift_windows(table, None, SETTINGS)
    assert len(windows.current) == 60 and len(windows.reference) == 300
    assert windows.reference["date"].max() < windows.current["date"].min()
    assert windows.current_window[1] == str(table["date"].iloc[-1].date())
    # A model trained up to row 500: its reference ends there, newer rows are not its data.
    end = table["date"].iloc[500]
    windows = drift_windows(table, end, SETTINGS)
    assert windows.reference_window[1] == str(end.date())


def test_missing_rows_and_columns_are_clear_errors() -> None:
    with pytest.raises(InsufficientDataError, match="current window needs 60"):
        drift_windows(frame(40), None, SETTINGS)
    with pytest.raises(InsufficientDataError, match="training rows precede"):
        drift_windows(frame(800), frame(800)["date"].iloc[50], SETTINGS)
    with pytest.raises(InsufficientDataError, match="lacks column"):
        drift_windows(frame(800).drop(columns=["rsi_14"]), None, SETTINGS)
    # Warm-up NaNs are dropped, not compared.
    table = frame(800)
    table.loc[:30, "macd_hist_norm"] = np.nan
    assert drift_windows(table, None, SETTINGS).reference["macd_hist_norm"].notna().all()


def test_training_end_comes_from_the_bundle_metadata() -> None:
    assert training_end({"data_as_of": "2013-03-01"}) == pd.Timestamp("2013-03-01")
    assert training_end({}) is None


def test_same_distribution_no_drift_shifted_drift(tmp_path: Path) -> None:
    calm = compute_drift(drift_windows(frame(800), None, SETTINGS), SETTINGS, ticker="AAPL")
    assert calm.drift_share <= calm.threshold and not calm.dataset_drift
    windows = drift_windows(frame(800, scale_last=60, factor=3.0), None, SETTINGS)
    shifted = compute_drift(
        windows,
        SETTINGS,
        ticker="AAPL",
        model_version="3",
        bundle_version="b1",
    )
    assert shifted.dataset_drift and shifted.drift_share == 1.0
    assert set(shifted.drifted_columns) == set(DRIFT_FEATURE_COLUMNS)
    assert all(c.stattest == "wasserstein" and c.drift_score >= 0.75 for c in shifted.columns)

    json_path, html = write_drift_report(
        tmp_path,
        "^GSPC",
        shifted.to_dict(),
        lambda path: render_drift_html(windows, SETTINGS, path),
    )
    assert json_path.parent.name == "%5EGSPC" and html is not None and html.name == "latest.html"
    assert html.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    stored = read_drift_summary(tmp_path, "^gspc")
    assert stored is not None and stored["html_path"] == str(html)
    assert stored["model_version"] == "3" and stored["drifted_columns"] == shifted.drifted_columns
    assert not [p for p in json_path.parent.iterdir() if p.name.startswith(".")]  # no temp left
    # Without a rendered report the older one goes: no reader finds a report of other windows.
    _, none = write_drift_report(tmp_path, "^GSPC", calm.to_dict(), None)
    stored = read_drift_summary(tmp_path, "^GSPC")
    assert none is None and not html.exists() and stored is not None
    assert "html_path" not in stored and stored["drift_share"] == calm.drift_share


@pytest.mark.parametrize("factor", [1.0, 1.3, 3.0])
def test_the_scores_are_evidently_s_own(factor: float) -> None:
    """The normed Wasserstein distance computed here equals Evidently's on the same windows
    (calm, mildly and strongly shifted), and another method still runs through Evidently."""
    windows = drift_windows(frame(800, scale_last=60, factor=factor), None, SETTINGS)
    ours = compute_drift(windows, SETTINGS, ticker="X")
    theirs = _column_results(_evidently_snapshot(windows, SETTINGS), list(SETTINGS.columns))
    for column in ours.columns:
        assert column.drift_score == pytest.approx(theirs[column.column][0], abs=1e-6)
    ks = DriftSettings(method="ks", column_threshold=0.05)
    assert {c.stattest for c in compute_drift(windows, ks, ticker="X").columns} == {"ks"}


def test_an_adopted_regime_becomes_the_reference_and_ends_the_drift() -> None:
    """After a drift or decay retrain's decision, the shifted regime it accepted is the
    reference: the same shifted data no longer drifts; a later shift again does."""
    shifted = frame(800, scale_last=60, factor=3.0)
    end = shifted["date"].iloc[-1]
    train_end = shifted["date"].iloc[-61]
    before = compute_drift(drift_windows(shifted, train_end, SETTINGS), SETTINGS, ticker="X")
    assert before.dataset_drift
    windows = drift_windows(shifted, train_end, SETTINGS, adopted_end=end)
    assert windows.reference_window == windows.current_window
    after = compute_drift(windows, SETTINGS, ticker="X")
    assert not after.dataset_drift and after.drift_share == 0.0
    # An adoption older than the serving model's own training data is superseded by it.
    older = drift_windows(shifted, end, SETTINGS, adopted_end=train_end)
    assert older.reference["date"].max() < older.current["date"].min()
    # The next regime change after the adoption is drift again.
    later = pd.concat(
        [
            shifted,
            frame(60, seed=3)
            .assign(date=pd.bdate_range(end + pd.Timedelta(days=1), periods=60))
            .pipe(lambda f: f.assign(**{c: f[c] * 0.2 - 4 for c in DRIFT_FEATURE_COLUMNS})),
        ]
    )
    moved = compute_drift(
        drift_windows(later, train_end, SETTINGS, adopted_end=end), SETTINGS, ticker="X"
    )
    assert moved.dataset_drift


def test_unreadable_files_read_as_missing(tmp_path: Path) -> None:
    assert read_drift_summary(tmp_path, "AAPL") is None
    path = tmp_path / "reports" / "AAPL" / "latest.json"
    path.parent.mkdir(parents=True)
    path.write_text("{half")
    assert read_agent_report(tmp_path, "AAPL") is None
    path.write_text(json.dumps({"evaluation": {"faithfulness": 1.0}}))
    assert read_agent_report(tmp_path, "AAPL") == {"evaluation": {"faithfulness": 1.0}}
