"""Monitoring: data drift of the model inputs (Evidently) and the files it leaves for the API."""

from stock_assets.domain.monitoring.drift import (
    DRIFT_FEATURE_COLUMNS,
    DriftSettings,
    DriftSummary,
    InsufficientDataError,
    compute_drift,
    drift_windows,
    training_end,
)
from stock_assets.domain.monitoring.files import (
    read_adopted_reference,
    read_agent_report,
    read_drift_summary,
    write_adopted_reference,
    write_drift_report,
)

__all__ = [
    "DRIFT_FEATURE_COLUMNS",
    "DriftSettings",
    "DriftSummary",
    "InsufficientDataError",
    "compute_drift",
    "drift_windows",
    "read_adopted_reference",
    "read_agent_report",
    "read_drift_summary",
    "training_end",
    "write_adopted_reference",
    "write_drift_report",
]
