"""What the latest backtest says about the served model, in one place and in one wording.

The ``backtest`` asset stores, per ticker, the per-horizon metrics of every candidate and the
promotion decision. The API, the agents' facts, the Streamlit pages and the metrics exporter all
read it through ``load_evaluation``, and state the model's skill with ``Evaluation.statement``, so
the same evidence is told in the same words everywhere: skill means a significant Diebold-Mariano
result against the naive forecast, not a ratio a hair below 1.0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from stock_assets.domain.layout import BACKTEST, read_table
from stock_assets.domain.ml.forecasters import BASELINES
from stock_assets.domain.ml.policy import INSUFFICIENT_HISTORY, POLICY


def optional_float(value: Any) -> float | None:
    """A finite-or-NaN number as a float, missing or NaN as None (tables to JSON)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


@dataclass(frozen=True)
class HorizonSkill:
    horizon: int
    relative_mae: float | None  # MAE / naive MAE on prices
    fva: float | None  # forecast value added over naive: 1 - relative MAE
    p_vs_naive: float | None  # one-sided DM p-value of "better than naive"; None for naive
    significant: bool  # p_vs_naive < the policy's alpha and fva > 0
    directional_accuracy: float | None
    up_rate: float | None
    coverage: float | None
    nominal_coverage: float | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _skills(rows: pd.DataFrame) -> tuple[HorizonSkill, ...]:
    out = []
    for r in rows.sort_values("horizon").to_dict("records"):
        p = optional_float(r.get("p_vs_naive"))
        fva = optional_float(r.get("fva"))
        out.append(
            HorizonSkill(
                horizon=int(r["horizon"]),
                relative_mae=optional_float(r.get("relative_mae")),
                fva=fva,
                p_vs_naive=p,
                significant=p is not None and p < POLICY.alpha and (fva or 0.0) > 0,
                directional_accuracy=optional_float(r.get("directional_accuracy")),
                up_rate=optional_float(r.get("up_rate")),
                coverage=optional_float(r.get("coverage")),
                nominal_coverage=optional_float(r.get("nominal_coverage")),
            )
        )
    return tuple(out)


MODEL_NAMES = {
    "lstm": "the LSTM",
    "champion": "the champion LSTM",
    "naive": "the naive forecast (the last close)",
    "drift": "the drift baseline (a constant trend)",
    "linear": "the linear baseline (ridge on lagged returns and indicators)",
    "boosted": "the boosted-trees baseline (gradient-boosted trees on lagged returns, indicators "
    "and volatility)",
}


@dataclass(frozen=True)
class Evaluation:
    """The latest promotion decision of a ticker and the evidence behind it."""

    ticker: str
    served: str  # candidate name of the model the decision serves
    served_kind: str  # learned / baseline
    outcome: str
    reason: str
    policy_version: str
    best_baseline: str
    challenger_bundle: str | None
    horizons: tuple[HorizonSkill, ...]  # the served model
    challenger: tuple[HorizonSkill, ...]  # the challenger LSTM

    @property
    def promoted(self) -> bool:
        return self.outcome == "promote"

    @property
    def skilled_horizons(self) -> list[int]:
        return [h.horizon for h in self.horizons if h.significant]

    def horizon(self, h: int) -> HorizonSkill | None:
        return next((s for s in self.horizons if s.horizon == h), None)

    def statement(self) -> str:
        """One plain sentence on what serves and what skill it has shown."""
        name = MODEL_NAMES.get(self.served, self.served)
        if self.outcome == INSUFFICIENT_HISTORY:
            return (
                f"{name[0].upper()}{name[1:]} serves: {self.reason} No skill is claimed until then."
            )
        if self.served == "naive":
            return (
                f"{name[0].upper()}{name[1:]} serves: no model beat it with statistical "
                "significance on the walk-forward windows, so no skill over naive is claimed."
            )
        skilled = self.skilled_horizons
        first = self.horizon(1)
        if not skilled:
            return (
                f"{name[0].upper()}{name[1:]} serves, but its edge over the naive forecast is "
                "not statistically significant at any horizon: no skill over naive is claimed."
            )
        h = skilled[0]
        s = self.horizon(h) or first
        assert s is not None
        return (
            f"{name[0].upper()}{name[1:]} serves: it beat the naive forecast on the walk-forward "
            f"windows at horizon{'s' if len(skilled) > 1 else ''} "
            f"{', '.join(str(k) for k in skilled)} (at h={h}: MAE {s.relative_mae:.3f}x naive, "
            f"p={s.p_vs_naive:.3g})."
        )

    def describes(self, model: str, bundle_version: str) -> bool:
        """Whether this decision's served model is the one serving now (``model``: ``lstm`` or a
        baseline's name; ``bundle_version``: its bundle). Not so between a backtest and the
        ``champion_model`` run that carries its decision out, or when that run failed."""
        if self.served in BASELINES:
            return model == self.served
        if model != "lstm":
            return False
        is_challenger = bundle_version == self.challenger_bundle
        return is_challenger if self.served == "lstm" else not is_challenger

    def statement_for(self, model: str, bundle_version: str) -> str:
        """``statement`` when it is about the model serving now; else why skill is not stated."""
        if self.describes(model, bundle_version):
            return self.statement()
        return (
            f"The latest backtest decided to serve {MODEL_NAMES.get(self.served, self.served)} "
            f"({self.outcome}), which is not what serves yet: skill is not stated until the "
            "decision is carried out."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticker": self.ticker,
            "served": self.served,
            "served_kind": self.served_kind,
            "outcome": self.outcome,
            "reason": self.reason,
            "policy_version": self.policy_version,
            "best_baseline": self.best_baseline,
            "challenger_bundle": self.challenger_bundle,
            "statement": self.statement(),
            "skilled_horizons": self.skilled_horizons,
            "horizons": [h.to_dict() for h in self.horizons],
            "challenger": [h.to_dict() for h in self.challenger],
        }


def evaluation_from_table(table: pd.DataFrame) -> Evaluation:
    """An ``Evaluation`` from the ``backtest`` asset's table."""
    first = table.iloc[0]
    served = str(first["served"])
    return Evaluation(
        ticker=str(first["ticker"]),
        served=served,
        served_kind=str(first["served_kind"]),
        outcome=str(first["outcome"]),
        reason=str(first["decision_reason"]),
        policy_version=str(first["policy_version"]),
        best_baseline=str(first["best_baseline"]),
        challenger_bundle=None
        if pd.isna(first.get("challenger_bundle"))
        else str(first["challenger_bundle"]),
        # Without a backtest there is no evidence on any horizon, not a row of unknowns.
        horizons=()
        if str(first["outcome"]) == INSUFFICIENT_HISTORY
        else _skills(table[table["candidate"] == served]),
        challenger=_skills(table[table["candidate"] == "lstm"]),
    )


def load_evaluation(tables_dir: Path, ticker: str) -> Evaluation | None:
    """The ticker's latest evaluation, or None when no backtest has been stored (or it predates
    the policy's table layout)."""
    table = read_table(tables_dir, BACKTEST, ticker)
    if table is None or table.empty or "served" not in table.columns:
        return None
    return evaluation_from_table(table)
