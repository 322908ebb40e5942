"""Forecasting core: LSTM quantile forecaster, transfer learning, walk-forward backtest.

Pure torch + numpy + pandas + scikit-learn. Nothing here imports Dagster, MLflow, FastAPI or
Streamlit: the Dagster layer calls these functions and logs what they return.

Modules, one job each:
- ``config``: ``ModelConfig`` (hyper-parameters, JSON round trip) and ``Strategy``.
- ``dataset``: frame cleaning, targets, windowing, time splits with a gap, ``FeatureScaler``.
- ``model``: ``LSTMForecaster`` and the transfer strategies (freeze / fine_tune / scratch).
- ``losses``: pinball (quantile) loss.
- ``trainer``: training loop with early stopping that restores the best weights.
- ``metrics``: per-horizon price metrics against the naive persistence forecast.
- ``backtest``: walk-forward evaluation, child retrained from the parent per fold.
- ``forecast``: next ``horizon`` NYSE sessions with median and interval prices.
- ``artifacts``: immutable, atomically written model bundles on disk.
"""
