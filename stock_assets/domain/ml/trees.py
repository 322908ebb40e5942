"""Gradient-boosted regression trees as plain arrays: fitted by scikit-learn, served from JSON.

A served baseline is stored as JSON (``artifacts``: no pickle of arbitrary objects), so a fitted
``HistGradientBoostingRegressor`` is exported to its trees' node arrays and evaluated here with
numpy. The backtest predicts through the same arrays as serving does, so what was judged is
exactly what serves (``tests/domain/ml/test_trees.py`` holds the export to scikit-learn's own
predictions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stock_assets.settings import get_settings

FloatArray = NDArray[np.float64]

# Shallow trees, a slow learning rate and early stopping on the validation anchors: daily returns
# are mostly noise, and a deep or long ensemble memorises it.
MAX_DEPTH = 3
LEARNING_RATE = 0.05
MAX_ITER = 300
MIN_SAMPLES_LEAF = 40
PATIENCE = 20


@dataclass(frozen=True)
class TreeEnsemble:
    """``predict(x) = base + sum of every tree's leaf value``; a tree's arrays are per node."""

    base: float
    feature: tuple[tuple[int, ...], ...]
    threshold: tuple[tuple[float, ...], ...]
    left: tuple[tuple[int, ...], ...]
    right: tuple[tuple[int, ...], ...]
    leaf: tuple[tuple[bool, ...], ...]
    value: tuple[tuple[float, ...], ...]

    @property
    def n_trees(self) -> int:
        return len(self.value)

    def predict(self, x: FloatArray) -> FloatArray:
        """Sum over trees of the leaf each row reaches (``x <= threshold`` goes left)."""
        x = np.nan_to_num(np.asarray(x, dtype=float))
        out = np.full(len(x), self.base)
        rows = np.arange(len(x))
        for t in range(self.n_trees):
            feature = np.asarray(self.feature[t])
            threshold = np.asarray(self.threshold[t])
            left, right = np.asarray(self.left[t]), np.asarray(self.right[t])
            leaf = np.asarray(self.leaf[t])
            node = np.zeros(len(x), dtype=np.int64)
            while not leaf[node].all():
                go_left = x[rows, feature[node]] <= threshold[node]
                node = np.where(leaf[node], node, np.where(go_left, left[node], right[node]))
            out += np.asarray(self.value[t])[node]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "feature": [list(f) for f in self.feature],
            "threshold": [list(t) for t in self.threshold],
            "left": [list(v) for v in self.left],
            "right": [list(v) for v in self.right],
            "leaf": [list(v) for v in self.leaf],
            "value": [list(v) for v in self.value],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TreeEnsemble:
        def nested(key: str, kind: type) -> tuple[tuple[Any, ...], ...]:
            return tuple(tuple(kind(v) for v in tree) for tree in data[key])

        return cls(
            base=float(data["base"]),
            feature=nested("feature", int),
            threshold=nested("threshold", float),
            left=nested("left", int),
            right=nested("right", int),
            leaf=nested("leaf", bool),
            value=nested("value", float),
        )


def fit_trees(x: FloatArray, y: FloatArray, x_val: FloatArray, y_val: FloatArray) -> TreeEnsemble:
    """Boosted trees on ``(x, y)``, stopped when the validation anchors' loss stops improving."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    model = HistGradientBoostingRegressor(
        max_depth=MAX_DEPTH,
        learning_rate=LEARNING_RATE,
        max_iter=MAX_ITER,
        min_samples_leaf=MIN_SAMPLES_LEAF,
        early_stopping=True,
        n_iter_no_change=PATIENCE,
        random_state=0,
    )
    # The trees' OpenMP threads default to every core: beside other runs (or test workers) on
    # the same cores they spin against each other. The training thread setting caps them too.
    with threadpool_limits(limits=get_settings().torch_threads, user_api="openmp"):
        model.fit(x, y, X_val=x_val, y_val=y_val)
    return export(model)


def export(model: Any) -> TreeEnsemble:
    """The trees of a fitted ``HistGradientBoostingRegressor`` (leaf values already shrunk)."""
    trees = [stage[0].nodes for stage in model._predictors]

    def per_tree(field: str, kind: type) -> tuple[tuple[Any, ...], ...]:
        return tuple(tuple(kind(v) for v in nodes[field]) for nodes in trees)

    return TreeEnsemble(
        base=float(np.ravel(model._baseline_prediction)[0]),
        feature=per_tree("feature_idx", int),
        threshold=per_tree("num_threshold", float),
        left=per_tree("left", int),
        right=per_tree("right", int),
        leaf=per_tree("is_leaf", bool),
        value=per_tree("value", float),
    )
