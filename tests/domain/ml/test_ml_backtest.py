"""Walk-forward backtest: every candidate on the same folds, no fold reads past its cutoff."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from devkit.series import FrameFactory
from stock_assets.domain.ml.backtest import (
    CandidateSpec,
    FoldProgress,
    ShortHistoryError,
    first_test_input_date,
    plan_folds,
    run_walk_forward,
    sessions_needed,
)
from stock_assets.domain.ml.candidates import baseline_specs, lstm_spec
from stock_assets.domain.ml.config import TINY
from stock_assets.domain.ml.dataset import clean_frame
from stock_assets.domain.ml.forecasters import Forecaster, IntArray, QuantileForecast

CFG = TINY.replace(epochs=3)
Q_COLUMNS = ["q0.1", "q0.5", "q0.9"]


def _specs() -> list[CandidateSpec]:
    return [*baseline_specs(CFG), lstm_spec("lstm", CFG, "scratch", None)]


def test_candidates_share_folds_and_anchors(indicator_frame: FrameFactory) -> None:
    frame = indicator_frame(900, seed=12)
    progress: list[FoldProgress] = []
    result = run_walk_forward(
        frame, _specs(), CFG, test_years=1.0, progress_callback=progress.append
    )
    assert set(result.candidates) == {"naive", "drift", "linear", "additive", "boosted", "lstm"}
    assert result.n_folds == 4 and len(result.folds) == 4
    anchors = {
        name: tuple(group["anchor"].unique())
        for name, group in result.predictions.groupby("candidate")
    }
    assert len(set(anchors.values())) == 1  # identical windows for every candidate
    naive = result.candidate_metrics("naive")
    np.testing.assert_allclose(naive["relative_mae"], 1.0)  # naive against itself
    assert (naive["directional_accuracy"] == 0).all()  # a no-move forecast never scores
    lstm = result.candidate_metrics("lstm")
    # A random walk cannot be beaten by much: far better than naive would be leakage.
    assert lstm["relative_mae"].between(0.95, 1.3).all(), lstm["relative_mae"].tolist()
    assert result.metrics["coverage"].between(0.6, 0.95).all()

    dates = pd.DatetimeIndex(clean_frame(frame, CFG.feature_columns)["date"])
    for fold in result.folds:
        # Training anchors (and their targets) end before the fold's first test input row.
        last_train = dates.get_loc(pd.Timestamp(fold.train_end))
        first_test = dates.get_loc(pd.Timestamp(fold.test_start))
        assert last_train + CFG.horizon < first_test - CFG.lookback + 1
        assert fold.epochs["lstm"] <= CFG.epochs
    assert progress[0] == FoldProgress(1, 4, None, "naive")
    fractions = [p.fraction for p in progress]
    assert fractions == sorted(fractions) and fractions[0] >= 0 and fractions[-1] <= 1


def test_parent_overlap_is_judged_against_the_first_input_row(
    indicator_frame: FrameFactory,
) -> None:
    frame = indicator_frame(700, seed=4)
    first_input = first_test_input_date(frame, CFG, test_years=1.0)
    cleaned = clean_frame(frame, CFG.feature_columns)
    dates = pd.DatetimeIndex(cleaned["date"])
    folds = plan_folds(cleaned, CFG, test_years=1.0)
    first_anchor_date = dates[folds[0].test[0]]
    assert first_input == dates[folds[0].test[0] - CFG.lookback + 1] < first_anchor_date
    specs = baseline_specs(CFG)[:1]

    def overlaps(parent_end: pd.Timestamp) -> bool | None:
        return run_walk_forward(
            frame, specs, CFG, test_years=1.0, parent_train_end=parent_end
        ).parent_overlaps_test

    # A parent that read rows up to the day before the first test ANCHOR saw the test inputs.
    assert overlaps(first_anchor_date - pd.Timedelta(days=1)) is True
    assert overlaps(first_input) is True
    assert overlaps(first_input - pd.Timedelta(days=1)) is False


class _Peeking(Forecaster):
    """A deliberately leaky forecaster: its median is tomorrow's actual return."""

    name = "peeking"
    family = "learned"

    def fit(self, frame: pd.DataFrame, train: IntArray, val: IntArray) -> None:
        return None

    def predict(self, frame: pd.DataFrame, anchors: IntArray) -> QuantileForecast:
        close = frame["close"].to_numpy(dtype=float)
        nxt = np.log(close[np.minimum(anchors + 1, len(close) - 1)] / close[anchors])
        med = np.repeat(nxt[:, None], CFG.horizon, axis=1)
        values = np.stack([med - 0.01, med, med + 0.01], axis=-1)
        return QuantileForecast(values, CFG.quantiles)


def _perturbed_after(frame: pd.DataFrame, row: int) -> pd.DataFrame:
    """Every value after ``row`` of the cleaned frame replaced by something else."""
    changed = frame.copy()
    rng = np.random.default_rng(99)
    tail = changed.index > row
    numeric = [c for c in changed.columns if c != "date"]
    changed.loc[tail, numeric] = changed.loc[tail, numeric] * rng.uniform(0.5, 1.5, (tail.sum(), 1))
    return changed


@pytest.mark.parametrize("fold_number", [1, 3])
def test_perturbing_the_future_never_changes_past_forecasts(
    indicator_frame: FrameFactory, fold_number: int
) -> None:
    """Change every value after an anchor inside fold k: no forecast made at or before that
    anchor (any fold, any candidate, intervals included) may move. Reading one row too far
    anywhere (fit, features, GARCH filter, conformal scores) would fail this."""
    frame = clean_frame(indicator_frame(900, seed=21), CFG.feature_columns)
    folds = plan_folds(frame, CFG, test_years=1.0)
    fold = folds[fold_number - 1]
    cut = int(fold.test[len(fold.test) // 2])
    before = run_walk_forward(frame, _specs(), CFG, test_years=1.0, timestamp_column="date")
    after = run_walk_forward(
        _perturbed_after(frame, cut), _specs(), CFG, test_years=1.0, timestamp_column="date"
    )
    key = ["candidate", "anchor", "horizon"]
    old = before.predictions[before.predictions["anchor"] <= cut].set_index(key)[Q_COLUMNS]
    new = after.predictions[after.predictions["anchor"] <= cut].set_index(key)[Q_COLUMNS]
    assert len(old) > 0 and set(old.index.get_level_values("candidate")) == set(before.candidates)
    pd.testing.assert_frame_equal(old, new.loc[old.index])
    # And the later forecasts did move: the perturbation was real.
    later = before.predictions["anchor"] > cut + 1
    assert not np.allclose(
        before.predictions.loc[later, "q0.5"], after.predictions.loc[later, "q0.5"]
    )


def test_the_future_perturbation_catches_a_leaky_forecaster(indicator_frame: FrameFactory) -> None:
    frame = clean_frame(indicator_frame(700, seed=5), CFG.feature_columns)
    spec = [CandidateSpec("peeking", "learned", lambda fold, progress: _Peeking())]
    folds = plan_folds(frame, CFG, test_years=1.0)
    cut = int(folds[1].test[10])
    before = run_walk_forward(frame, spec, CFG, test_years=1.0, timestamp_column="date")
    after = run_walk_forward(
        _perturbed_after(frame, cut), spec, CFG, test_years=1.0, timestamp_column="date"
    )
    at_cut = [
        (p["anchor"] == cut) & (p["horizon"] == 1) for p in (before.predictions, after.predictions)
    ]
    assert before.predictions.loc[at_cut[0], "q0.5"].iloc[0] != pytest.approx(
        after.predictions.loc[at_cut[1], "q0.5"].iloc[0]
    )


def test_needs_at_least_four_folds_and_unique_names(indicator_frame: FrameFactory) -> None:
    with pytest.raises(ValueError, match="n_folds"):
        run_walk_forward(indicator_frame(300), baseline_specs(TINY), TINY, n_folds=3)
    with pytest.raises(ValueError, match="unique"):
        run_walk_forward(indicator_frame(300), baseline_specs(TINY) * 2, TINY)


@pytest.mark.parametrize("n_folds", [4, 6])
def test_a_short_history_is_refused_with_the_sessions_it_has_and_needs(
    indicator_frame: FrameFactory, n_folds: int
) -> None:
    """A recent listing: the backtest says how much history it needs, at the exact boundary,
    before anything is trained (a bare error deep in the folds was a user's dead end)."""
    complete = clean_frame(indicator_frame(400), CFG.feature_columns)
    needed = sessions_needed(CFG, n_folds=n_folds, end=complete["date"].iloc[-1])
    assert CFG.lookback + CFG.horizon < needed < len(complete)
    # The newest `needed` complete sessions plan every fold; one session fewer does not.
    enough = complete.iloc[-needed:]
    assert first_test_input_date(enough, CFG, n_folds=n_folds) > enough["date"].iloc[0]
    short = complete.iloc[-(needed - 1) :]
    with pytest.raises(ShortHistoryError) as refused:
        first_test_input_date(short, CFG, n_folds=n_folds)
    assert (refused.value.rows, refused.value.needed) == (needed - 1, needed)
    assert f"{n_folds} folds needs at least {needed}" in str(refused.value)
    # The walk-forward itself refuses the same way.
    with pytest.raises(ShortHistoryError):
        run_walk_forward(short, baseline_specs(CFG), CFG, n_folds=n_folds)
