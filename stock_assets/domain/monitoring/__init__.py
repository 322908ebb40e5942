"""Monitoring: data drift of the model inputs (Evidently) and the files it leaves for the API."""

from stock_assets.domain.monitoring.drift import (
    DRIFT_FEATURE_COLUMNS,
    DriftSettings,
    DriftSummary,
    InsufficientDataError,
    compute_drift,
    drift_windows,
    render_drift_html,
    training_end,
    wasserstein_normed,
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
    "render_drift_html",
    "training_end",
    "wasserstein_normed",
    "write_adopted_reference",
    "write_drift_report",
]
