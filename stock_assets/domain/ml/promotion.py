"""The promotion gate and the leakage alarm, as pure functions over backtest metrics.

A child becomes ``champion`` only if it is at least as good as the naive last-close forecast at
h=1 (within a tolerance) and its intervals cover about what they claim. Results much better than
naive on daily prices are treated as leakage until proven otherwise.
"""

from __future__ import annotations

import pandas as pd

# The same result type as the data-quality rules: passed, a reason for a human, details.
from stock_assets.domain.quality import QualityResult

LEAKAGE_RELATIVE_MAE = 0.97
LEAKAGE_DIRECTION = 0.60


def evaluate_promotion(
    metrics: pd.DataFrame,
    *,
    max_relative_mae: float = 1.0,
    relative_mae_tolerance: float = 0.01,
    coverage_tolerance: float = 0.10,
) -> QualityResult:
    """``metrics``: one row per horizon with relative_mae, coverage and nominal_coverage."""
    h1 = metrics.loc[metrics["horizon"] == 1].iloc[0]
    rel_mae = float(h1["relative_mae"])
    coverage = float(metrics["coverage"].mean())
    nominal = float(h1["nominal_coverage"])
    limit = max_relative_mae + relative_mae_tolerance
    details = {
        "relative_mae_h1": round(rel_mae, 4),
        "relative_mae_limit": round(limit, 4),
        "mean_coverage": round(coverage, 4),
        "nominal_coverage": nominal,
        "coverage_tolerance": coverage_tolerance,
    }
    problems = []
    if not rel_mae <= limit:
        problems.append(f"relative MAE at h=1 is {rel_mae:.3f} > {limit:.3f} (worse than naive)")
    if not abs(coverage - nominal) <= coverage_tolerance:
        problems.append(
            f"mean interval coverage {coverage:.1%} is more than {coverage_tolerance:.0%} "
            f"from nominal {nominal:.0%}"
        )
    if problems:
        return QualityResult(False, "Not promoted: " + "; ".join(problems) + ".", details)
    return QualityResult(
        True,
        f"Promoted: relative MAE at h=1 {rel_mae:.3f} <= {limit:.3f}, mean coverage "
        f"{coverage:.1%} vs nominal {nominal:.0%}.",
        details,
    )


def leakage_signs(metrics: pd.DataFrame) -> list[str]:
    """Horizons whose results are too good to be true for daily prices.

    A relative MAE <= 0.97 only counts when the model also beats a constant-drift forecast by as
    much (a steady trend alone can beat the last close), where that column is present.
    """
    signs = []
    for _, row in metrics.iterrows():
        h = int(row["horizon"])
        drift_ok = "relative_mae_drift" not in row or pd.isna(row["relative_mae_drift"])
        beats_drift = drift_ok or float(row["relative_mae_drift"]) <= LEAKAGE_RELATIVE_MAE
        if float(row["relative_mae"]) <= LEAKAGE_RELATIVE_MAE and beats_drift:
            signs.append(f"h={h}: relative MAE {float(row['relative_mae']):.3f}")
        if float(row["directional_accuracy"]) >= LEAKAGE_DIRECTION:
            signs.append(f"h={h}: directional accuracy {float(row['directional_accuracy']):.1%}")
    return signs
