"""Indicators against reference values computed independently of the implementation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stock_assets.domain.indicators import (
    INDICATOR_COLUMNS,
    WARMUP_ROWS,
    compute_indicators,
    macd,
    rolling_volatility,
    rows_with_nan_after_warmup,
    rsi_wilder,
    volume_zscore,
)

# Wilder's RSI worked example (StockCharts ChartSchool): closes and the published RSI(14) values,
# rounded to two decimals, starting at the 15th close.
TEXTBOOK_CLOSES = [
    44.3389, 44.0902, 44.1497, 43.6124, 44.3278, 44.8264, 45.0955, 45.4245, 45.8433, 46.0826,
    45.8931, 46.0328, 45.6140, 46.2820, 46.2820, 46.0028, 46.0328, 46.4116, 46.2222, 45.6439,
    46.2122, 46.2521, 45.7137, 46.4515, 45.7835, 45.3548, 44.0288, 44.1783, 44.2181, 44.5672,
    43.4205, 42.6628, 43.1314,
]  # fmt: skip
TEXTBOOK_RSI = [
    70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38, 54.71, 50.42, 39.99,
    41.46, 41.87, 45.46, 37.30, 33.08, 37.77,
]  # fmt: skip


def test_rsi_matches_wilders_published_example() -> None:
    rsi = rsi_wilder(pd.Series(TEXTBOOK_CLOSES))
    assert rsi.iloc[:14].isna().all()
    np.testing.assert_allclose(rsi.iloc[14:].to_numpy(), TEXTBOOK_RSI, atol=0.005)


def test_rsi_is_100_when_price_only_rises() -> None:
    rsi = rsi_wilder(pd.Series(np.arange(1.0, 31.0)))
    assert rsi.iloc[-1] == 100.0


def _ema_weighted_sum(x: np.ndarray, span: int) -> np.ndarray:
    """EMA as an explicit weighted sum of past values, seeded with the first value."""
    alpha = 2.0 / (span + 1.0)
    out = np.empty_like(x)
    for t in range(len(x)):
        k = np.arange(t + 1)
        weights = alpha * (1 - alpha) ** k
        weights[-1] = (1 - alpha) ** t  # the seed keeps the remaining weight
        out[t] = float(np.dot(weights, x[t::-1]))
    return out


def test_macd_matches_weighted_sum_ema_reference() -> None:
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 120)))
    got = macd(pd.Series(close))
    line = _ema_weighted_sum(close, 12) - _ema_weighted_sum(close, 26)
    # The signal line starts where the MACD line does (after the slow EMA's 26 closes).
    signal = np.full_like(line, np.nan)
    signal[25:] = _ema_weighted_sum(line[25:], 9)
    np.testing.assert_allclose(got["macd"].to_numpy()[25:], line[25:], rtol=1e-9)
    np.testing.assert_allclose(got["macd_signal"].to_numpy()[33:], signal[33:], rtol=1e-9)
    np.testing.assert_allclose(
        got["macd_hist"].to_numpy()[33:], (line - signal)[33:], rtol=1e-9, atol=1e-12
    )
    assert got["macd"].iloc[:25].isna().all() and got["macd_signal"].iloc[:33].isna().all()


def test_volatility_and_volume_zscore_match_numpy() -> None:
    rng = np.random.default_rng(3)
    returns = pd.Series(rng.normal(0, 0.02, 60))
    vol = rolling_volatility(returns, 20)
    window = returns.to_numpy()[40:60]
    assert vol.iloc[59] == pytest.approx(np.std(window, ddof=1) * np.sqrt(252))
    volume = pd.Series(rng.integers(1_000, 5_000, 60).astype(float))
    z = volume_zscore(volume, 20)
    w = volume.to_numpy()[40:60]
    assert z.iloc[59] == pytest.approx((w[-1] - w.mean()) / w.std(ddof=1))
    assert z.iloc[:19].isna().all()


def test_compute_indicators_log_returns_and_warmup() -> None:
    dates = pd.bdate_range("2020-01-01", periods=80)
    close = pd.Series(np.linspace(10, 20, 80))
    ohlcv = pd.DataFrame(
        {
            "date": dates,
            "open": close,
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "volume": np.linspace(1e6, 2e6, 80),
        }
    )
    table = compute_indicators(ohlcv)
    assert list(table.columns) == ["date", "close", *INDICATOR_COLUMNS]
    assert table["log_return"].iloc[5] == pytest.approx(np.log(close[5] / close[4]))
    assert rows_with_nan_after_warmup(table).empty
    assert table.iloc[:WARMUP_ROWS].isna().any(axis=1).all()


def test_indicators_are_causal() -> None:
    """Changing a future price never changes an earlier indicator value (no look-ahead)."""
    rng = np.random.default_rng(11)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, 100)))
    base = pd.DataFrame(
        {
            "date": pd.bdate_range("2021-01-01", periods=100),
            "open": close,
            "high": close * 1.01,
            "low": close * 0.99,
            "close": close,
            "volume": rng.integers(1e5, 1e6, 100).astype(float),
        }
    )
    shocked = base.copy()
    shocked.loc[70:, ["open", "high", "low", "close"]] *= 1.5
    a, b = compute_indicators(base), compute_indicators(shocked)
    pd.testing.assert_frame_equal(a.iloc[:70], b.iloc[:70])
