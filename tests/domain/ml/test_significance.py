"""Diebold-Mariano with HAC variance: by hand where possible, by simulation where not."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from stock_assets.domain.ml.significance import (
    diebold_mariano,
    newey_west_variance,
    truncated_variance,
)


def test_lag_zero_is_a_corrected_t_test() -> None:
    rng = np.random.default_rng(0)
    d = rng.normal(0.1, 1.0, 200)
    result = diebold_mariano(d, np.zeros_like(d), horizon=1)
    t = d.mean() / (d.std(ddof=0) / np.sqrt(len(d)))
    # HLN factor at h=1: sqrt((n + 1 - 2 + 0) / n)
    assert result.statistic == pytest.approx(t * np.sqrt((200 - 1) / 200))
    assert result.p_worse == pytest.approx(stats.t.sf(result.statistic, 199))
    assert result.p_better + result.p_worse == pytest.approx(1.0)


def test_identical_forecasts_are_no_evidence() -> None:
    errors = np.abs(np.random.default_rng(1).normal(size=50))
    result = diebold_mariano(errors, errors, horizon=3)
    assert (result.statistic, result.p_better, result.p_worse) == (0.0, 0.5, 0.5)


def test_clearly_better_and_clearly_worse() -> None:
    rng = np.random.default_rng(2)
    base = np.abs(rng.normal(size=300))
    better = diebold_mariano(base * 0.8, base, horizon=1)
    assert better.p_better < 1e-6 and better.statistic < 0
    worse = diebold_mariano(base * 1.2, base, horizon=1)
    assert worse.p_worse < 1e-6


def test_newey_west_matches_a_hand_computed_case() -> None:
    d = np.array([1.0, -1.0, 1.0, -1.0])
    # e = d; gamma0 = 4/4 = 1; gamma1 = (-1 -1 -1)/4 = -0.75; Bartlett weight at lag 1 of L=1:
    # 1 - 1/2 = 0.5 -> long-run var 1 + 2*0.5*(-0.75) = 0.25; var of the mean 0.25/4
    assert newey_west_variance(d, 1) == pytest.approx(0.0625)


def test_overlapping_errors_keep_the_false_alarm_rate_near_alpha() -> None:
    """Equal forecasts whose loss differential is an MA(h-1), as h-step errors are: the HAC test
    rejects about alpha of the time; a naive t-test would reject far more often."""
    rng = np.random.default_rng(3)
    horizon, n, trials = 7, 400, 400
    rejections = naive_rejections = 0
    for _ in range(trials):
        shocks = rng.normal(size=n + horizon)
        d = np.convolve(shocks, np.ones(horizon), mode="valid")[:n]  # MA(6)
        result = diebold_mariano(d, np.zeros(n), horizon)
        rejections += result.p_better < 0.05
        naive_t = d.mean() / (d.std(ddof=1) / np.sqrt(n))
        naive_rejections += stats.t.cdf(naive_t, n - 1) < 0.05
    assert rejections / trials < 0.09
    assert naive_rejections / trials > 0.15


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        diebold_mariano([1.0, 2.0], [1.0], horizon=1)
    with pytest.raises(ValueError, match="at least 3"):
        diebold_mariano([1.0, 2.0], [1.0, 3.0], horizon=1)


def test_equal_weights_up_to_h_minus_1_as_diebold_mariano_define() -> None:
    d = np.array([1.0, 2.0, 3.0, 4.0])
    # e = -1.5, -0.5, 0.5, 1.5; gamma0 = 5/4; gamma1 = (0.75 - 0.25 + 0.75)/4 = 0.3125
    # long-run variance 1.25 + 2 * 0.3125 = 1.875; of the mean: 1.875 / 4
    assert truncated_variance(d, 1) == pytest.approx(0.46875)
    # Where the truncated estimate is not positive, Bartlett weights take over.
    alternating = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    assert truncated_variance(alternating, 1) <= 0
    result = diebold_mariano(alternating + 1.0, np.ones(6), horizon=2)
    assert np.isfinite(result.statistic)
