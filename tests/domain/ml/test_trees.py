"""The boosted trees served from JSON are the trees scikit-learn fitted: same predictions."""

from __future__ import annotations

import json

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from stock_assets.domain.ml import trees
from stock_assets.domain.ml.trees import TreeEnsemble, export, fit_trees


def _data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1500, 6))
    y = np.where(x[:, 0] > 0.5, 1.0, -0.3) * x[:, 1] + rng.normal(size=len(x))
    return x, y


def test_exported_trees_predict_what_scikit_learn_predicts() -> None:
    x, y = _data(0)
    model = HistGradientBoostingRegressor(max_depth=3, max_iter=60, random_state=0).fit(x, y)
    ensemble = export(model)
    assert ensemble.n_trees == 60
    grid = np.random.default_rng(1).normal(scale=2.0, size=(500, 6))
    np.testing.assert_allclose(ensemble.predict(grid), model.predict(grid), rtol=0, atol=1e-12)


def test_the_ensemble_survives_json() -> None:
    x, y = _data(2)
    ensemble = fit_trees(x[:1200], y[:1200], x[1200:], y[1200:])
    restored = TreeEnsemble.from_dict(json.loads(json.dumps(ensemble.to_dict())))
    np.testing.assert_array_equal(restored.predict(x), ensemble.predict(x))


def test_early_stopping_on_the_validation_rows_keeps_noise_short() -> None:
    """Signal: the trees grow; pure noise: they stop long before the cap."""
    x, y = _data(3)
    signal = fit_trees(x[:1200], y[:1200], x[1200:], y[1200:])
    noise_y = np.random.default_rng(4).normal(size=len(y))
    noise = fit_trees(x[:1200], noise_y[:1200], x[1200:], noise_y[1200:])
    assert noise.n_trees < signal.n_trees <= trees.MAX_ITER
    assert noise.n_trees <= trees.PATIENCE + 10
