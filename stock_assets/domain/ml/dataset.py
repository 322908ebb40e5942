"""From an indicator frame to leak-free training arrays.

Indexing convention (used everywhere in this package): after cleaning, rows are numbered
``0..n-1``. A sample is *anchored* at row ``t``: its input window is rows ``t-lookback+1..t`` and
its targets are ``y[t, h-1] = log(close[t+h] / close[t])`` for ``h = 1..horizon``. A sample
therefore touches rows ``t-lookback+1 .. t+horizon``.

Splits are contiguous in time (train, then val, then test) and ``lookback + horizon`` anchors are
dropped between consecutive splits. With consecutive anchors ``t_train_last`` and
``t_val_first = t_train_last + lookback + horizon + 1``, the first validation window starts at row
``t_train_last + horizon + 2``, strictly after the last training target row ``t_train_last +
horizon``: no input row or target row is shared across splits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from stock_assets.domain.ml.config import ModelConfig

FloatArray = NDArray[np.floating[Any]]
IntArray = NDArray[np.int64]

TIMESTAMP_CANDIDATES: tuple[str, ...] = ("event_timestamp", "date")


# --------------------------------------------------------------------------------------------
# Cleaning
# --------------------------------------------------------------------------------------------
def _resolve_timestamp_column(frame: pd.DataFrame, timestamp_column: str | None) -> str:
    if timestamp_column is not None:
        if timestamp_column not in frame.columns:
            raise ValueError(f"timestamp column {timestamp_column!r} not in frame")
        return timestamp_column
    for candidate in TIMESTAMP_CANDIDATES:
        if candidate in frame.columns:
            return candidate
    raise ValueError(f"frame needs one of the timestamp columns {TIMESTAMP_CANDIDATES}")


def _to_session_dates(values: pd.Series) -> pd.Series:
    """Timestamps -> tz-naive midnight dates (UTC wall date for tz-aware input).

    Feast's ``event_timestamp`` is tz-aware UTC; a US session's timestamp (midnight UTC or the
    close at ~21:00 UTC) falls on the session's own UTC date, so the UTC date is the session.
    """
    # Already datetimes (the usual case): converting again walks every element in Python
    # (pandas' cache heuristic), which was most of a served forecast's time.
    is_datetime = pd.api.types.is_datetime64_any_dtype(values)
    ts = values if is_datetime else pd.to_datetime(values, cache=False)
    if ts.dt.tz is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return ts.dt.normalize()


def clean_frame(
    frame: pd.DataFrame,
    feature_columns: tuple[str, ...] | list[str],
    timestamp_column: str | None = None,
) -> pd.DataFrame:
    """One ticker's frame -> columns ``date``, ``close``, *features*, index ``0..n-1``.

    - the timestamp comes from ``timestamp_column`` or, if None, ``event_timestamp`` then ``date``;
    - rows are sorted by date; duplicate dates are an error;
    - leading rows with a missing value (indicator warm-up) are dropped; a missing or infinite
      value after the first complete row is a ``ValueError`` (it would silently poison a window);
    - closes must be strictly positive (targets are log returns).
    """
    ts_col = _resolve_timestamp_column(frame, timestamp_column)
    missing = [c for c in ("close", *feature_columns) if c not in frame.columns]
    if missing:
        raise ValueError(f"frame is missing columns: {missing}")
    # Built in one go: inserting columns one by one costs a block copy each (serving hot path).
    columns: dict[str, Any] = {"date": _to_session_dates(frame[ts_col]).to_numpy()}
    for col in ("close", *feature_columns):
        columns[col] = pd.to_numeric(frame[col], errors="raise").astype(float).to_numpy()
    out = pd.DataFrame(columns)
    out = out.sort_values("date", kind="stable").reset_index(drop=True)
    if out["date"].isna().any():
        raise ValueError("frame has missing timestamps")
    if out["date"].duplicated().any():
        dup = out.loc[out["date"].duplicated(), "date"].iloc[0]
        raise ValueError(f"frame has duplicate dates, e.g. {dup.date()}")

    values = out[["close", *feature_columns]].to_numpy(dtype=float)
    complete = np.isfinite(values).all(axis=1)
    if not complete.any():
        raise ValueError("frame has no complete row (all rows contain NaN)")
    first = int(np.argmax(complete))
    if not complete[first:].all():
        bad = first + int(np.argmin(complete[first:]))
        cols = [
            c
            for c, v in zip(["close", *feature_columns], values[bad], strict=True)
            if not np.isfinite(v)
        ]
        raise ValueError(
            f"missing/non-finite values after the warm-up period: {out['date'][bad].date()} "
            f"in {cols}"
        )
    out = out.iloc[first:].reset_index(drop=True)
    if (out["close"] <= 0).any():
        raise ValueError("close prices must be strictly positive")
    return out


# --------------------------------------------------------------------------------------------
# Targets, anchors, windows
# --------------------------------------------------------------------------------------------
def log_return_targets(close: FloatArray, horizon: int) -> FloatArray:
    """``y[t, h-1] = log(close[t+h] / close[t])``; rows whose horizon runs past the end are NaN."""
    log_close = np.log(np.asarray(close, dtype=float))
    n = len(log_close)
    y = np.full((n, horizon), np.nan)
    for h in range(1, horizon + 1):
        y[: n - h, h - 1] = log_close[h:] - log_close[: n - h]
    return y


def valid_anchors(n_rows: int, lookback: int, horizon: int) -> IntArray:
    """Anchors with a full input window and all ``horizon`` targets inside ``0..n_rows-1``."""
    return np.arange(lookback - 1, n_rows - horizon, dtype=np.int64)


def make_windows(features: FloatArray, anchors: IntArray, lookback: int) -> NDArray[np.float32]:
    """Input windows ``(len(anchors), lookback, F)`` as contiguous float32."""
    features = np.asarray(features)
    if len(anchors) == 0:
        return np.zeros((0, lookback, features.shape[1]), dtype=np.float32)
    if anchors.min() < lookback - 1 or anchors.max() >= len(features):
        raise ValueError("anchor outside the rows that have a full lookback window")
    # sliding_window_view is a zero-copy view (n-L+1, F, L); indexing copies only what we keep.
    view = np.lib.stride_tricks.sliding_window_view(features, lookback, axis=0)
    windows = view[anchors - (lookback - 1)].transpose(0, 2, 1)
    return np.ascontiguousarray(windows, dtype=np.float32)


@dataclass(frozen=True)
class SplitAnchors:
    """Anchor row indices of each split (time-ordered, contiguous, gapped)."""

    train: IntArray
    val: IntArray
    test: IntArray
    gap: int


def split_anchors(
    anchors: IntArray,
    lookback: int,
    horizon: int,
    val_fraction: float,
    test_fraction: float,
) -> SplitAnchors:
    """Cut consecutive anchors into train / val / test with ``lookback + horizon`` dropped between.

    Fractions apply to the anchors left after removing the gaps. ``test_fraction == 0`` gives an
    empty test split (used when the test data lives elsewhere, e.g. a backtest fold).
    """
    gap = lookback + horizon
    n_gaps = 2 if test_fraction > 0 else 1
    usable = len(anchors) - n_gaps * gap
    n_test = max(1, int(np.floor(usable * test_fraction))) if test_fraction > 0 else 0
    n_val = max(1, round(usable * val_fraction))
    n_train = usable - n_val - n_test
    if n_train < 1:
        rows_needed = lookback + horizon + n_gaps * gap + 3
        raise ValueError(
            f"not enough data: {len(anchors)} usable anchors for lookback={lookback}, "
            f"horizon={horizon} (need well over {rows_needed} complete rows)"
        )
    train = anchors[:n_train]
    val_start = n_train + gap
    val = anchors[val_start : val_start + n_val]
    test_start = val_start + n_val + gap
    test = anchors[test_start : test_start + n_test] if n_test else anchors[:0]
    return SplitAnchors(train=train, val=val, test=test, gap=gap)


# --------------------------------------------------------------------------------------------
# Scaling
# --------------------------------------------------------------------------------------------
class FeatureScaler:
    """Per-feature standardisation (``StandardScaler`` semantics) plus a per-horizon target scale.

    Implemented with numpy rather than wrapping ``sklearn.preprocessing.StandardScaler`` so the
    pickled scaler does not depend on (and warn across) scikit-learn versions; the semantics are
    the same: population std (ddof=0), and a zero std is replaced by 1.

    Targets are divided by the training std of each horizon's log return: raw daily log returns
    are ~0.01, and the pinball loss gradient does not shrink with the target scale, so without it
    Adam's steps would be large relative to the quantities the head has to learn. It also puts
    ^GSPC (~1% daily vol) and single stocks (~2-3%) on one scale, which helps transfer.

    Training targets are also centred on their training mean (``training_targets``), and
    predictions are not shifted back. The mean h-day return of a training period is mostly the
    noise of that period's trend (a stock's annual drift is estimated to +-10 points from ten
    years): a model that learns it forecasts last decade's trend into next week, and on a driftless
    random walk that alone made every learned model worse than the last close. Learned models
    forecast deviations from a zero drift; the ``drift`` baseline is the candidate that keeps the
    trend, and the promotion policy decides on evidence whether the trend pays.
    """

    def __init__(self, feature_columns: tuple[str, ...] | list[str]) -> None:
        self.feature_columns: tuple[str, ...] = tuple(feature_columns)
        self.mean_: NDArray[np.float64] | None = None
        self.scale_: NDArray[np.float64] | None = None
        self.target_scale_: NDArray[np.float64] | None = None
        self.target_center_: NDArray[np.float64] | None = None
        self.n_samples_seen_: int = 0

    @staticmethod
    def _safe_std(values: FloatArray, axis: int = 0) -> NDArray[np.float64]:
        std = np.asarray(values, dtype=float).std(axis=axis)
        return np.where(std > 0, std, 1.0)

    def fit(self, feature_rows: FloatArray, targets: FloatArray) -> FeatureScaler:
        """Fit on the raw TRAINING feature rows ``(n, F)`` and training targets ``(N, H)``."""
        feature_rows = np.asarray(feature_rows, dtype=float)
        if feature_rows.ndim != 2 or feature_rows.shape[1] != len(self.feature_columns):
            raise ValueError("feature_rows must be (n_rows, n_features)")
        self.mean_ = feature_rows.mean(axis=0)
        self.scale_ = self._safe_std(feature_rows)
        targets = np.asarray(targets, dtype=float)
        self.target_scale_ = self._safe_std(targets)
        self.target_center_ = targets.mean(axis=0)
        self.n_samples_seen_ = len(feature_rows)
        return self

    def _fitted(
        self,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        if self.mean_ is None or self.scale_ is None or self.target_scale_ is None:
            raise RuntimeError("FeatureScaler is not fitted")
        return self.mean_, self.scale_, self.target_scale_

    def transform(self, features: FloatArray) -> NDArray[np.float64]:
        """Raw feature rows ``(..., F)`` -> standardised."""
        mean, scale, _ = self._fitted()
        return (np.asarray(features, dtype=float) - mean) / scale

    def scale_targets(self, y: FloatArray) -> NDArray[np.float64]:
        """Log returns -> model units (last axis is the horizon)."""
        _, _, target_scale = self._fitted()
        return np.asarray(y, dtype=float) / target_scale

    def training_targets(self, y: FloatArray) -> NDArray[np.float64]:
        """Log returns -> what the model is trained on: centred on the training mean, scaled."""
        _, _, target_scale = self._fitted()
        center = self.target_center_ if self.target_center_ is not None else 0.0
        return (np.asarray(y, dtype=float) - center) / target_scale

    def unscale_targets(self, y_scaled: FloatArray, horizon_axis: int = 1) -> NDArray[np.float64]:
        """Model units -> log returns; ``horizon_axis`` is the horizon's axis in ``y_scaled``."""
        _, _, target_scale = self._fitted()
        y_arr = np.asarray(y_scaled, dtype=float)
        shape = [1] * y_arr.ndim
        shape[horizon_axis] = len(target_scale)
        return y_arr * target_scale.reshape(shape)

    def __getstate__(self) -> dict[str, Any]:
        # Pickle plain lists, not ndarrays: the pickle then references no numpy internals, so it
        # loads across numpy versions and through the allow-list unpickler in ``artifacts``.
        return {
            "feature_columns": list(self.feature_columns),
            "mean_": None if self.mean_ is None else self.mean_.tolist(),
            "scale_": None if self.scale_ is None else self.scale_.tolist(),
            "target_scale_": None if self.target_scale_ is None else self.target_scale_.tolist(),
            "target_center_": None if self.target_center_ is None else self.target_center_.tolist(),
            "n_samples_seen_": int(self.n_samples_seen_),
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.feature_columns = tuple(state["feature_columns"])
        for name in ("mean_", "scale_", "target_scale_", "target_center_"):
            value = state.get(name)
            setattr(self, name, None if value is None else np.asarray(value, dtype=np.float64))
        self.n_samples_seen_ = int(state["n_samples_seen_"])

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers, for metadata/MLflow params (the bundle stores the pickle)."""
        mean, scale, target_scale = self._fitted()
        return {
            "feature_columns": list(self.feature_columns),
            "mean": mean.tolist(),
            "scale": scale.tolist(),
            "target_scale": target_scale.tolist(),
            "target_center": None if self.target_center_ is None else self.target_center_.tolist(),
            "n_samples_seen": self.n_samples_seen_,
        }


# --------------------------------------------------------------------------------------------
# Prepared data
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Split:
    """One split's samples. ``y`` holds raw log returns (the trainer scales them)."""

    x: NDArray[np.float32]  # (N, lookback, F), scaled features
    y: NDArray[np.float64]  # (N, horizon) log returns
    anchors: IntArray  # row index t of each sample in the cleaned frame
    anchor_dates: pd.DatetimeIndex  # date of row t (the forecast's as-of date)
    last_close: NDArray[np.float64]  # close[t], to turn log returns into prices

    def __len__(self) -> int:
        return len(self.anchors)


@dataclass(frozen=True)
class PreparedData:
    """Arrays of every split, the scaler fit on the training rows, and the cleaned frame."""

    train: Split
    val: Split
    test: Split
    scaler: FeatureScaler
    frame: pd.DataFrame  # cleaned: date, close, features; row i <-> anchor index i
    lookback: int
    horizon: int
    gap: int

    @property
    def n_features(self) -> int:
        return self.train.x.shape[2]

    @property
    def scaler_rows(self) -> tuple[int, int]:
        """Inclusive row range the scaler was fit on (the raw rows covered by train windows)."""
        return int(self.train.anchors[0]) - self.lookback + 1, int(self.train.anchors[-1])

    def summary(self) -> dict[str, Any]:
        """Sizes and date ranges, for logs and run metadata."""

        def rng(split: Split) -> list[str] | None:
            if len(split) == 0:
                return None
            return [str(split.anchor_dates[0].date()), str(split.anchor_dates[-1].date())]

        return {
            "rows": len(self.frame),
            "train_samples": len(self.train),
            "val_samples": len(self.val),
            "test_samples": len(self.test),
            "gap": self.gap,
            "train_anchor_dates": rng(self.train),
            "val_anchor_dates": rng(self.val),
            "test_anchor_dates": rng(self.test),
        }


def build_split(
    frame: pd.DataFrame,
    scaled_features: FloatArray,
    targets: FloatArray,
    anchors: IntArray,
    lookback: int,
) -> Split:
    """Samples for the given anchors of a cleaned frame whose features are already scaled."""
    return Split(
        x=make_windows(scaled_features, anchors, lookback),
        y=np.asarray(targets[anchors], dtype=np.float64),
        anchors=anchors,
        anchor_dates=pd.DatetimeIndex(frame["date"].to_numpy()[anchors]),
        last_close=frame["close"].to_numpy(dtype=float)[anchors],
    )


def prepare_data(
    frame: pd.DataFrame,
    config: ModelConfig,
    timestamp_column: str | None = None,
    test_fraction: float | None = None,
) -> PreparedData:
    """Clean, split by time with gaps, fit the scaler on training rows only, and window.

    ``test_fraction`` overrides ``config.test_fraction`` (0 = no test split, e.g. inside a
    backtest fold, where the fold itself is the test set).
    """
    cleaned = clean_frame(frame, config.feature_columns, timestamp_column)
    test_frac = config.test_fraction if test_fraction is None else test_fraction
    anchors = valid_anchors(len(cleaned), config.lookback, config.horizon)
    splits = split_anchors(anchors, config.lookback, config.horizon, config.val_fraction, test_frac)
    return prepare_splits(cleaned, config, splits)


def prepare_splits(
    cleaned: pd.DataFrame, config: ModelConfig, splits: SplitAnchors
) -> PreparedData:
    """Windows of given splits of a cleaned frame, with a scaler fit on the training rows only.

    The scaler sees the raw rows that training windows cover (first anchor - lookback + 1 .. last
    anchor) and the training targets; never a validation or test row.
    """
    raw_features = cleaned[list(config.feature_columns)].to_numpy(dtype=float)
    targets = log_return_targets(cleaned["close"].to_numpy(dtype=float), config.horizon)
    lo = int(splits.train[0]) - config.lookback + 1
    hi = int(splits.train[-1])
    scaler = FeatureScaler(config.feature_columns).fit(
        raw_features[lo : hi + 1], targets[splits.train]
    )
    scaled = scaler.transform(raw_features)

    def make(idx: IntArray) -> Split:
        return build_split(cleaned, scaled, targets, idx, config.lookback)

    return PreparedData(
        train=make(splits.train),
        val=make(splits.val),
        test=make(splits.test),
        scaler=scaler,
        frame=cleaned,
        lookback=config.lookback,
        horizon=config.horizon,
        gap=splits.gap,
    )


@dataclass(frozen=True)
class InferenceWindow:
    """The latest input window and what is needed to turn its output into prices."""

    x: NDArray[np.float32]  # (1, lookback, F)
    as_of: pd.Timestamp  # date of the last row
    last_close: float


def latest_window(
    frame: pd.DataFrame,
    scaler: FeatureScaler,
    config: ModelConfig,
    timestamp_column: str | None = None,
) -> InferenceWindow:
    """The last ``lookback`` complete rows, scaled with ``scaler`` (fit at training time)."""
    if tuple(scaler.feature_columns) != tuple(config.feature_columns):
        raise ValueError("scaler and config disagree on feature_columns")
    cleaned = clean_frame(frame, config.feature_columns, timestamp_column)
    if len(cleaned) < config.lookback:
        raise ValueError(
            f"need at least lookback={config.lookback} complete rows, got {len(cleaned)}"
        )
    tail = cleaned.iloc[-config.lookback :]
    x = scaler.transform(tail[list(config.feature_columns)].to_numpy(dtype=float))
    return InferenceWindow(
        x=np.ascontiguousarray(x[None, :, :], dtype=np.float32),
        as_of=pd.Timestamp(tail["date"].iloc[-1]),
        last_close=float(tail["close"].iloc[-1]),
    )
