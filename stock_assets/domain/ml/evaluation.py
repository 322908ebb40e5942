"""What the latest backtest says about the served model, in one place and in one wording.

The ``backtest`` asset stores, per ticker, the per-horizon metrics of every candidate and the
promotion decision. The API, the agents' facts, the Streamlit pages and the metrics exporter all
read it through ``load_evaluation``, and state the model's skill with ``Evaluation.statement``, so
the same evidence is told in the same words everywhere: skill means a significant Diebold-Mariano
result against the naive forecast (adjusted over the horizons, as the policy does), not a ratio a
hair below 1.0. A mix is stated per horizon: which model serves which horizons, and the skill each
showed there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from stock_assets.domain.layout import BACKTEST, read_table
from stock_assets.domain.ml.forecasters import BASELINES
from stock_assets.domain.ml.policy import CHAMPION, INSUFFICIENT_HISTORY, MIX, POLICY, horizon_span


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
    # One-sided DM p-value of "better than naive", adjusted over the model's horizons;
    # None for naive.
    p_vs_naive: float | None
    significant: bool  # p_vs_naive < the policy's alpha and fva > 0
    directional_accuracy: float | None
    up_rate: float | None
    coverage: float | None
    nominal_coverage: float | None
    model: str = ""  # the candidate serving this horizon

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _skills(rows: pd.DataFrame) -> tuple[HorizonSkill, ...]:
    out = []
    for r in rows.sort_values("horizon").to_dict("records"):
        # Tables written before the policy adjusted over horizons carry the raw p only.
        p = optional_float(r.get("p_vs_naive_adjusted", r.get("p_vs_naive")))
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
                model=str(r["candidate"]),
            )
        )
    return tuple(out)


MODEL_NAMES = {
    "lstm": "the LSTM",
    "mix": "a mix of models, one per horizon",
    "champion": "the champion LSTM",
    "naive": "the naive forecast (the last close)",
    "drift": "the drift baseline (a constant trend)",
    "linear": "the linear baseline (ridge on lagged returns and indicators)",
    "additive": "the additive baseline (penalised splines in the last return and volatility)",
    "boosted": "the boosted-trees baseline (gradient-boosted trees on lagged returns, indicators "
    "and volatility)",
}


def _capital(text: str) -> str:
    return text[0].upper() + text[1:]


@dataclass(frozen=True)
class Evaluation:
    """The latest promotion decision of a ticker and the evidence behind it."""

    ticker: str
    served: str  # candidate name of the model the decision serves, or ``mix``
    served_kind: str  # learned / baseline / mixed
    outcome: str
    reason: str
    policy_version: str
    best_baseline: str
    challenger_bundle: str | None
    horizons: tuple[HorizonSkill, ...]  # the model serving each horizon
    challenger: tuple[HorizonSkill, ...]  # the challenger LSTM
    plan: tuple[str, ...] = ()  # the candidate serving each horizon (index h - 1)

    @property
    def promoted(self) -> bool:
        return self.outcome == "promote"

    @property
    def skilled_horizons(self) -> list[int]:
        return [h.horizon for h in self.horizons if h.significant]

    def horizon(self, h: int) -> HorizonSkill | None:
        return next((s for s in self.horizons if s.horizon == h), None)

    def _skill(self, served: str, skills: Sequence[HorizonSkill]) -> str:
        """What ``served`` showed on ``skills`` (its horizons), as the end of a sentence."""
        skilled = [s for s in skills if s.significant]
        if served == "naive":
            return "no model beat it with statistical significance on the walk-forward windows"
        if not skilled:
            where = "at any of them" if len(skills) > 1 else "there"
            return f"its edge over the naive forecast is not statistically significant {where}"
        s = skilled[0]
        plural = "s" if len(skilled) > 1 else ""
        return (
            f"it beat the naive forecast on the walk-forward windows at horizon{plural} "
            f"{', '.join(str(k.horizon) for k in skilled)} (at h={s.horizon}: MAE "
            f"{s.relative_mae:.3f}x naive, p={s.p_vs_naive:.3g})"
        )

    def statement(self) -> str:
        """One plain sentence (a mix: one clause per model) on what serves and what skill it has
        shown."""
        name = MODEL_NAMES.get(self.served, self.served)
        if self.outcome == INSUFFICIENT_HISTORY:
            return f"{_capital(name)} serves: {self.reason} No skill is claimed until then."
        if self.served == MIX and self.horizons:
            clauses = []
            for model in dict.fromkeys(s.model for s in self.horizons):
                skills = [s for s in self.horizons if s.model == model]
                span = horizon_span([s.horizon for s in skills])
                clauses.append(
                    f"{MODEL_NAMES.get(model, model)} serves {span}: {self._skill(model, skills)}"
                )
            claimed = "" if self.skilled_horizons else "; no skill over naive is claimed"
            return f"Per horizon, {'; '.join(clauses)}{claimed}."
        if self.served == "naive":
            return (
                f"{_capital(name)} serves: no model beat it with statistical significance on the "
                "walk-forward windows, so no skill over naive is claimed."
            )
        if not self.skilled_horizons:
            return (
                f"{_capital(name)} serves, but its edge over the naive forecast is not "
                "statistically significant at any horizon: no skill over naive is claimed."
            )
        return f"{_capital(name)} serves: {self._skill(self.served, self.horizons)}."

    def _served_plan(self, horizons: int) -> tuple[str, ...]:
        return self.plan if len(self.plan) == horizons else (self.served,) * horizons

    def describes(self, serving: Sequence[tuple[str, str]]) -> bool:
        """Whether this decision is what serves now. ``serving``: per horizon, the model serving
        it (``lstm`` or a baseline's name) and its bundle version (``ServingModel.plan``). Not so
        between a backtest and the ``champion_model`` run that carries its decision out, or when
        that run failed."""
        planned = self._served_plan(len(serving))
        return bool(serving) and all(
            self._is(candidate, model, version)
            for candidate, (model, version) in zip(planned, serving, strict=True)
        )

    def _is(self, candidate: str, model: str, version: str) -> bool:
        if candidate in BASELINES:
            return model == candidate
        if model != "lstm":
            return False
        is_challenger = version == self.challenger_bundle
        return is_challenger if candidate != CHAMPION else not is_challenger

    def statement_for(self, serving: Sequence[tuple[str, str]]) -> str:
        """``statement`` when it is about the model serving now; else why skill is not stated."""
        if self.describes(serving):
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
            "plan": list(self.plan),
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


def served_table(table: pd.DataFrame) -> pd.DataFrame:
    """The backtest table's rows of the candidate serving each horizon, by horizon
    (``is_served``; tables from before per-horizon plans mark the one served model's rows)."""
    rows = table[table["is_served"].astype(bool)] if "is_served" in table.columns else table[:0]
    if rows.empty:
        rows = table[table["candidate"] == str(table.iloc[0]["served"])]
    return rows.sort_values("horizon")


def evaluation_from_table(table: pd.DataFrame) -> Evaluation:
    """An ``Evaluation`` from the ``backtest`` asset's table."""
    first = table.iloc[0]
    served = str(first["served"])
    rows = served_table(table)
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
        horizons=() if str(first["outcome"]) == INSUFFICIENT_HISTORY else _skills(rows),
        challenger=_skills(table[table["candidate"] == "lstm"]),
        plan=tuple(str(c) for c in rows["candidate"]),
    )


def load_evaluation(tables_dir: Path, ticker: str) -> Evaluation | None:
    """The ticker's latest evaluation, or None when no backtest has been stored (or it predates
    the policy's table layout)."""
    table = read_table(tables_dir, BACKTEST, ticker)
    if table is None or table.empty or "served" not in table.columns:
        return None
    return evaluation_from_table(table)
