"""The promotion policy: which model serves a ticker, decided on evidence. One place, versioned.

Every candidate (the challenger LSTM, the baselines, the champion's recipe when it differs) has
been backtested on the same walk-forward windows (``backtest``). The policy then:

1. **Best baseline.** Starts from ``naive`` (the random walk) and moves to a more elaborate
   baseline (``drift``, then ``linear``, then the nonlinear ``boosted`` trees) only when that one
   *beats* the current best.
2. **Beats.** A beats B when, with Diebold-Mariano tests (long-run variance up to lag h-1 and
   the small-sample correction, ``significance``) on the absolute log-return errors of the same
   anchors, A is better at the primary horizon (h=1, one-sided p < alpha) and significantly
   worse at no horizon (one-sided, Bonferroni over the horizons). Horizon 1 is primary because it
   carries most of the little signal daily prices have and its errors do not overlap; the "no
   horizon worse" guard keeps a model that is good tomorrow and bad next week out.
3. **Leakage blocks.** A learned candidate whose MAE is far below the best baseline's of the same
   windows (ratio <= ``leakage_mae_ratio``) or whose direction is far above the best of a constant
   call (always up, or always down) and the baselines' (by ``leakage_direction_margin``) is treated
   as a leak, and nothing is promoted; either must also be beyond chance for the number of windows
   (``leakage_z``), so half a year of test windows cannot trip it by luck. Thresholds are relative
   to the same windows' baselines, never absolute: a trending market makes always-up (or
   always-down) look clever, and that is not leakage.
4. **Calibration.** The challenger's interval coverage must be within ``coverage_tolerance`` of
   nominal at every horizon.
5. **Decision.** The challenger is promoted when it beats the best baseline AND the current
   champion (when that is a different recipe), is calibrated and shows no leak. Otherwise a learned
   champion keeps serving if it still beats the best baseline on these windows, is calibrated and
   shows no leak itself; else the best baseline serves, and says so. A challenger with leakage
   signs (or a backtest parent that saw the test period) blocks: nothing is promoted and what
   serves stays, unless that is a leaking champion. A challenger with the champion's own recipe
   (a retrain on newer data) is the champion refreshed: it needs only the baseline comparison,
   which is the champion's own evidence.

Nothing here is configurable at run time: a threshold that a launchpad or an environment variable
could loosen would make the gate decorative. Changing the policy means changing this file and its
``POLICY_VERSION``, which every decision records.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd

from stock_assets.domain.ml.backtest import WalkForwardResult
from stock_assets.domain.ml.forecasters import BASELINES
from stock_assets.domain.ml.significance import DMResult, diebold_mariano

POLICY_VERSION = "2026.12-dm2"
CHAMPION = (
    "champion"  # candidate name of the champion's recipe when it is re-run beside the challenger
)
CHALLENGER = "lstm"

Outcome = Literal["promote", "keep", "serve_baseline", "blocked", "insufficient_history"]
# Too little history for any walk-forward: the naive forecast serves, which claims no skill and
# needs no evidence; the reason names the sessions the ticker has and needs.
INSUFFICIENT_HISTORY: Outcome = "insufficient_history"
NO_EVIDENCE_BASELINE = "naive"


@dataclass(frozen=True)
class PromotionPolicy:
    version: str = POLICY_VERSION
    alpha: float = 0.05
    primary_horizon: int = 1
    coverage_tolerance: float = 0.03
    leakage_mae_ratio: float = 0.90
    leakage_direction_margin: float = 0.10
    leakage_z: float = 3.0
    baseline_order: tuple[str, ...] = BASELINES


POLICY = PromotionPolicy()


@dataclass(frozen=True)
class Comparison:
    """``candidate`` vs ``reference`` at one horizon on the same anchors."""

    candidate: str
    reference: str
    horizon: int
    mae_ratio: float  # candidate MAE / reference MAE (log returns)
    dm: DMResult

    def row(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "reference": self.reference,
            "horizon": self.horizon,
            "mae_ratio": round(self.mae_ratio, 4),
            "dm_statistic": round(self.dm.statistic, 3),
            "p_better": round(self.dm.p_better, 4),
            "p_worse": round(self.dm.p_worse, 4),
            "n": self.dm.n,
        }


@dataclass(frozen=True)
class Verdict:
    """Does ``candidate`` beat ``reference``? With every horizon's comparison."""

    candidate: str
    reference: str
    beats: bool
    reason: str
    comparisons: tuple[Comparison, ...]

    def p_better(self, horizon: int) -> float:
        return next(c.dm.p_better for c in self.comparisons if c.horizon == horizon)


def compare(
    result: WalkForwardResult, candidate: str, reference: str, policy: PromotionPolicy = POLICY
) -> Verdict:
    """Diebold-Mariano per horizon on absolute log-return errors of the same anchors."""
    comparisons = []
    for h in range(1, result.horizon + 1):
        a = result.abs_errors(candidate, h)
        b = result.abs_errors(reference, h).reindex(a.index)
        dm = diebold_mariano(a.to_numpy(), b.to_numpy(), h)
        ratio = float(a.mean() / b.mean()) if b.mean() > 0 else float("nan")
        comparisons.append(Comparison(candidate, reference, h, ratio, dm))
    primary = next(c for c in comparisons if c.horizon == policy.primary_horizon)
    # "Worse at no horizon" is one question asked of every horizon: Bonferroni keeps its false
    # alarm rate at alpha (without it, equal models failed it 18% of the time).
    worse = [c.horizon for c in comparisons if c.dm.p_worse < policy.alpha / len(comparisons)]
    better = primary.dm.p_better < policy.alpha
    if better and not worse:
        reason = (
            f"{candidate} beats {reference}: h={primary.horizon} MAE x{primary.mae_ratio:.3f}, "
            f"p={primary.dm.p_better:.3g}, no horizon significantly worse"
        )
    elif not better:
        reason = (
            f"{candidate} does not beat {reference} at h={primary.horizon}: MAE "
            f"x{primary.mae_ratio:.3f}, p={primary.dm.p_better:.3g} >= {policy.alpha}"
        )
    else:
        reason = f"{candidate} is significantly worse than {reference} at h={worse}"
    return Verdict(candidate, reference, better and not worse, reason, tuple(comparisons))


def against(
    result: WalkForwardResult, reference: str | None, policy: PromotionPolicy = POLICY
) -> tuple[list[float], list[float]]:
    """Per row of ``result.metrics``: the DM statistic and one-sided p-value of "better than
    ``reference``" (NaN for the reference itself, or when there is none)."""
    values: dict[tuple[str, int], tuple[float, float]] = {}
    if reference is not None and reference in result.candidates:
        for name in result.candidates:
            if name != reference:
                for c in compare(result, name, reference, policy).comparisons:
                    values[(name, c.horizon)] = (c.dm.statistic, c.dm.p_better)
    keys = zip(result.metrics["candidate"], result.metrics["horizon"].astype(int), strict=True)
    pairs = [values.get(key, (float("nan"), float("nan"))) for key in keys]
    return [s for s, _ in pairs], [p for _, p in pairs]


def best_baseline(
    result: WalkForwardResult, policy: PromotionPolicy = POLICY
) -> tuple[str, list[Verdict]]:
    """The simplest baseline that no more elaborate one beats, and the comparisons made."""
    available = [b for b in policy.baseline_order if b in result.candidates]
    if not available:
        raise ValueError("the backtest has no baseline candidates")
    best, verdicts = available[0], []
    for name in available[1:]:
        verdict = compare(result, name, best, policy)
        verdicts.append(verdict)
        if verdict.beats:
            best = name
    return best, verdicts


def leakage_signs(
    result: WalkForwardResult, candidate: str, policy: PromotionPolicy = POLICY
) -> list[str]:
    """Horizons where ``candidate`` is too good next to the baselines of the same windows."""
    baselines = [b for b in policy.baseline_order if b in result.candidates]
    signs = []
    own = result.candidate_metrics(candidate).set_index("horizon")
    tables = {b: result.candidate_metrics(b).set_index("horizon") for b in baselines}
    for h, row in own.iterrows():
        best = min(tables, key=lambda b: float(tables[b].loc[h, "mae_log_return"]))
        best_mae = float(tables[best].loc[h, "mae_log_return"])
        ratio = float(row["mae_log_return"]) / best_mae if best_mae > 0 else float("nan")
        if ratio <= policy.leakage_mae_ratio:
            dm = next(
                c.dm for c in compare(result, candidate, best, policy).comparisons if c.horizon == h
            )
            # The DM statistic is the HAC z-score of the difference: beyond chance, not luck.
            if -dm.statistic >= policy.leakage_z:
                signs.append(f"h={h}: MAE {ratio:.3f}x the best baseline's ({best})")
        up = float(row["up_rate"])
        best_direction = max(
            [up, 1.0 - up] + [float(t.loc[h, "directional_accuracy"]) for t in tables.values()]
        )
        accuracy = float(row["directional_accuracy"])
        edge = accuracy - best_direction
        # Overlapping h-day outcomes carry about n / h independent signs.
        n_eff = max(float(row["n"]) / int(h), 1.0)
        spread = (best_direction * (1.0 - best_direction) / n_eff) ** 0.5
        if edge >= policy.leakage_direction_margin and edge / max(spread, 1e-9) >= policy.leakage_z:
            signs.append(
                f"h={h}: direction {accuracy:.1%} vs {best_direction:.1%} for a constant call "
                "or the baselines"
            )
    return signs


def coverage_problems(
    result: WalkForwardResult, candidate: str, policy: PromotionPolicy = POLICY
) -> list[str]:
    """Horizons whose interval coverage is more than the tolerance from nominal."""
    table = result.candidate_metrics(candidate)
    return [
        f"h={int(r.horizon)}: coverage {r.coverage:.1%} vs nominal {r.nominal_coverage:.0%}"
        for r in table.itertuples()
        if abs(r.coverage - r.nominal_coverage) > policy.coverage_tolerance
    ]


@dataclass(frozen=True)
class Incumbent:
    """The model serving now: a baseline by name, or a learned model (with its recipe's
    candidate name in the backtest: the challenger's name when it is the same recipe)."""

    kind: Literal["learned", "baseline"]
    candidate: str  # its candidate name in the backtest
    model_version: str | None = None


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    served: str  # candidate name that serves after this decision
    served_kind: Literal["learned", "baseline"]
    reason: str
    best_baseline: str
    challenger: str
    incumbent: Incumbent | None
    leakage: tuple[str, ...]  # every learned candidate's signs (challenger and champion)
    coverage_problems: tuple[str, ...]
    verdicts: tuple[Verdict, ...]
    policy_version: str = POLICY_VERSION
    served_metrics: list[dict[str, Any]] = field(default_factory=list)
    challenger_leakage: tuple[str, ...] = ()  # the signs that block: the challenger's

    @property
    def promoted(self) -> bool:
        return self.outcome == "promote"

    def comparison_table(self) -> pd.DataFrame:
        return pd.DataFrame([c.row() for v in self.verdicts for c in v.comparisons])

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "served": self.served,
            "served_kind": self.served_kind,
            "reason": self.reason,
            "best_baseline": self.best_baseline,
            "challenger": self.challenger,
            "incumbent": asdict(self.incumbent) if self.incumbent else None,
            "leakage": list(self.leakage),
            "challenger_leakage": list(self.challenger_leakage),
            "coverage_problems": list(self.coverage_problems),
            "policy_version": self.policy_version,
            "verdicts": [
                {
                    "candidate": v.candidate,
                    "reference": v.reference,
                    "beats": v.beats,
                    "reason": v.reason,
                }
                for v in self.verdicts
            ],
            "comparisons": self.comparison_table().to_dict(orient="records"),
            "served_metrics": self.served_metrics,
        }


def _kind(result: WalkForwardResult, name: str) -> Literal["learned", "baseline"]:
    return "learned" if result.candidates.get(name) == "learned" else "baseline"


def decide(
    result: WalkForwardResult,
    *,
    challenger: str = CHALLENGER,
    incumbent: Incumbent | None = None,
    policy: PromotionPolicy = POLICY,
) -> Decision:
    """Apply the policy to one walk-forward result (see the module docstring)."""
    best, selection = best_baseline(result, policy)
    verdicts: list[Verdict] = list(selection)

    def leak_signs(name: str) -> list[str]:
        signs = [f"{name} {s}" for s in leakage_signs(result, name, policy)]
        if result.parent_overlaps_test:
            signs.append(f"{name}: its parent saw the test period")
        return signs

    challenger_leaks = leak_signs(challenger)
    learned_incumbent = (
        incumbent is not None
        and incumbent.kind == "learned"
        and incumbent.candidate not in (challenger, best)
    )
    champion_leaks = leak_signs(incumbent.candidate) if learned_incumbent and incumbent else []
    leaks = tuple(challenger_leaks + champion_leaks)
    coverage = tuple(coverage_problems(result, challenger, policy))
    vs_baseline = compare(result, challenger, best, policy)
    verdicts.append(vs_baseline)
    # A champion with leakage signs is no rival: it is retired, whatever it scores.
    rivals = []
    if learned_incumbent and incumbent is not None and not champion_leaks:
        rivals.append(compare(result, challenger, incumbent.candidate, policy))
    verdicts.extend(rivals)

    def decided(outcome: Outcome, served: str, reason: str) -> Decision:
        metrics = result.candidate_metrics(served)
        return Decision(
            outcome=outcome,
            served=served,
            served_kind=_kind(result, served),
            reason=reason,
            best_baseline=best,
            challenger=challenger,
            incumbent=incumbent,
            leakage=leaks,
            coverage_problems=coverage,
            verdicts=tuple(verdicts),
            policy_version=policy.version,
            served_metrics=metrics.to_dict(orient="records"),
            challenger_leakage=tuple(challenger_leaks),
        )

    if challenger_leaks:
        # Nothing is promoted on evidence that may be leaked; what serves does not change,
        # unless it is a learned champion that leaks too, or there is no champion at all.
        note = "Blocked: leakage signs (" + "; ".join(challenger_leaks) + ")"
        if incumbent is not None and not champion_leaks and incumbent.candidate != challenger:
            return decided("blocked", incumbent.candidate, f"{note}; the champion keeps serving.")
        return decided("blocked", best, f"{note}; serving the {best} baseline.")
    if vs_baseline.beats and not coverage and all(v.beats for v in rivals):
        champion_note = (
            f"; {rivals[0].reason}"
            if rivals
            else (
                "; same recipe as the champion (a refresh)"
                if incumbent is not None and incumbent.candidate == challenger
                else "; the champion's recipe shows leakage signs and is retired"
                if champion_leaks
                else ""
            )
        )
        return decided("promote", challenger, f"Promoted: {vs_baseline.reason}{champion_note}.")
    problems = [] if vs_baseline.beats else [vs_baseline.reason]
    problems += [f"coverage off ({'; '.join(coverage)})"] if coverage else []
    problems += [v.reason for v in rivals if not v.beats]
    fallback_reason = "Challenger not promoted: " + "; ".join(problems) + "."
    if champion_leaks:
        fallback_reason += (
            " The champion's recipe shows leakage signs (" + "; ".join(champion_leaks) + ")."
        )
    elif learned_incumbent and incumbent is not None:
        holds = compare(result, incumbent.candidate, best, policy)
        verdicts.append(holds)
        off = coverage_problems(result, incumbent.candidate, policy)
        if holds.beats and not off:
            return decided(
                "keep", incumbent.candidate, f"{fallback_reason} The champion keeps serving."
            )
        why = holds.reason if not holds.beats else f"coverage off ({'; '.join(off)})"
        fallback_reason += f" The champion no longer holds: {why}."
    if incumbent is not None and incumbent.kind == "baseline" and incumbent.candidate == best:
        return decided(
            "keep", best, f"{fallback_reason} The {best} baseline keeps serving (best baseline)."
        )
    return decided(
        "serve_baseline",
        best,
        f"{fallback_reason} Serving the best baseline: {best}.",
    )
