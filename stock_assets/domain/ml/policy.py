"""The promotion policy: which model serves each horizon of a ticker, decided on evidence. One
place, versioned.

Every candidate (the challenger LSTM, the baselines, the champion's recipe when it differs) has
been backtested on the same walk-forward windows (``backtest``). The policy decides **per
horizon**, because a daily series can hold signal a week out that it does not hold tomorrow (a
slow mean reversion), and the product forecasts the whole week:

1. **Beats, per horizon.** A beats B at horizon h when a one-sided Diebold-Mariano test (long-run
   variance up to lag h-1 and the small-sample correction, ``significance``) on the absolute
   log-return errors of the same anchors says A is better. The seven horizons are one family of
   questions ("where does A beat B?"), tested with a fallback procedure (``adjust``) that keeps
   the chance of claiming even one horizon that is not there at ``alpha``: horizon 1, which
   carries most of the little signal daily prices have, is tested at ``primary_share`` of
   ``alpha``; the other horizons, with Holm's step-down method, at all of ``alpha`` when horizon 1
   was won and at the rest of it when not (so a signal that only shows further out can still be
   served, on stronger evidence).
2. **Best baseline, per horizon.** ``naive`` (the random walk), unless a more elaborate baseline
   (``drift``, ``linear``, the ``additive`` splines, the ``boosted`` trees) *beats* it there; of
   those that do, the one with the least MAE. Each is tested against naive, not against the one
   before it: two baselines that both hold the signal differ by less than either differs from
   naive, and a chain that asked the better one to beat the simpler one with significance kept
   serving the simpler one where the better was as close to the optimum as the data allowed.
   Under no signal the two rules make the same tests (every rung against naive), so the chance
   of serving anything but naive on a random walk is the same.
3. **Leakage blocks.** A learned candidate whose MAE is far below the best baseline's of the same
   windows (ratio <= ``leakage_mae_ratio``) or whose direction is far above the best of a constant
   call (always up, or always down) and the baselines' (by ``leakage_direction_margin``) is treated
   as a leak, and nothing is promoted; either must also be beyond chance for the number of windows
   (``leakage_z``), so half a year of test windows cannot trip it by luck. Thresholds are relative
   to the same windows' baselines, never absolute: a trending market makes always-up (or
   always-down) look clever, and that is not leakage. A leak at any horizon blocks the model at
   every horizon: a leak is a bug, not a horizon's property.
4. **Calibration, per horizon.** A learned model serves a horizon only where its interval coverage
   is within ``coverage_tolerance`` of nominal.
5. **Who serves horizon h.** The challenger, when it beats the best baseline at h and the current
   champion at h (when that is a different recipe), is calibrated at h and shows no leak; else a
   learned champion that still beats the best baseline at h, is calibrated at h and shows no leak
   itself; else the best baseline at h. The result is a **plan**: one candidate per horizon. When
   every horizon has the same model it serves alone; otherwise the served bundle is a *mix* that
   records which model serves which horizon, each with its own calibrated interval.
6. **Outcome.** ``promote`` when the challenger serves at least one horizon; ``keep`` when the plan
   is the one serving now; ``serve_baseline`` when only baselines serve; ``reassign`` when the
   champion keeps some horizons and gives others to a baseline. A challenger with leakage signs
   (or a backtest parent that saw the test period) is ``blocked``: nothing is promoted and what
   serves stays, unless that is a leaking champion. A challenger with the champion's own recipe
   (a retrain on newer data) is the champion refreshed: it needs only the baseline comparison,
   which is the champion's own evidence.

Nothing here is configurable at run time: a threshold that a launchpad or an environment variable
could loosen would make the gate decorative. Changing the policy means changing this file and its
``POLICY_VERSION``, which every decision records.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd

from stock_assets.domain.ml.backtest import WalkForwardResult
from stock_assets.domain.ml.forecasters import BASELINES
from stock_assets.domain.ml.significance import DMResult, diebold_mariano

POLICY_VERSION = "2026.12-additive"
CHAMPION = (
    "champion"  # candidate name of the champion's recipe when it is re-run beside the challenger
)
CHALLENGER = "lstm"

Outcome = Literal[
    "promote", "keep", "serve_baseline", "reassign", "blocked", "insufficient_history"
]
# Too little history for any walk-forward: the naive forecast serves, which claims no skill and
# needs no evidence; the reason names the sessions the ticker has and needs.
INSUFFICIENT_HISTORY: Outcome = "insufficient_history"
NO_EVIDENCE_BASELINE = "naive"


@dataclass(frozen=True)
class PromotionPolicy:
    version: str = POLICY_VERSION
    alpha: float = 0.05
    primary_horizon: int = 1
    primary_share: float = 0.8  # of alpha, for the primary horizon (``adjust``)
    coverage_tolerance: float = 0.03
    leakage_mae_ratio: float = 0.90
    leakage_direction_margin: float = 0.10
    leakage_z: float = 3.0
    baseline_order: tuple[str, ...] = BASELINES


POLICY = PromotionPolicy()


Reference = str | tuple[str, ...]  # one reference, or one per horizon (index h - 1)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values: reject where ``adjusted < alpha`` and the family-wise
    error rate over the whole family stays at ``alpha`` (NaN counts as 1)."""
    clean = [1.0 if math.isnan(p) else p for p in p_values]
    m = len(clean)
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda k: clean[k])):
        running = max(running, min(1.0, (m - rank) * clean[i]))
        adjusted[i] = running
    return adjusted


def adjust(p_values: Sequence[float], primary: int, primary_share: float) -> list[float]:
    """Adjusted p-values of the fallback procedure over the horizons (index h - 1): reject
    horizon h where ``adjusted < alpha``, with a family-wise error rate of at most ``alpha``.

    The primary horizon is tested at ``primary_share * alpha``. The others are tested together
    with Holm's method, at ``alpha`` when the primary was rejected and at
    ``(1 - primary_share) * alpha`` when not. An adjusted p-value is the smallest ``alpha`` at
    which its horizon is rejected.
    """
    first = 1.0 if math.isnan(p_values[primary - 1]) else p_values[primary - 1]
    others = [i for i in range(len(p_values)) if i != primary - 1]
    within = holm([p_values[i] for i in others])
    adjusted = [1.0] * len(p_values)
    adjusted[primary - 1] = min(1.0, first / primary_share)
    rest = 1.0 - primary_share
    for i, h_adj in zip(others, within, strict=True):
        adjusted[i] = min(1.0, max(first / primary_share, h_adj), h_adj / rest)
    return adjusted


@dataclass(frozen=True)
class Comparison:
    """``candidate`` vs ``reference`` at one horizon on the same anchors."""

    candidate: str
    reference: str
    horizon: int
    mae_ratio: float  # candidate MAE / reference MAE (log returns)
    dm: DMResult
    p_adjusted: float  # p_better adjusted over the horizons (``adjust``)

    def row(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "reference": self.reference,
            "horizon": self.horizon,
            "mae_ratio": round(self.mae_ratio, 4),
            "dm_statistic": round(self.dm.statistic, 3),
            "p_better": round(self.dm.p_better, 4),
            "p_better_adjusted": round(self.p_adjusted, 4),
            "p_worse": round(self.dm.p_worse, 4),
            "n": self.dm.n,
        }


def horizon_span(horizons: Sequence[int]) -> str:
    """``1, 2, 3, 5`` as ``h=1-3, 5``."""
    runs: list[list[int]] = []
    for h in sorted(horizons):
        if runs and h == runs[-1][-1] + 1:
            runs[-1].append(h)
        else:
            runs.append([h])
    return "h=" + ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


@dataclass(frozen=True)
class Verdict:
    """Where does ``candidate`` beat ``reference``? With every horizon's comparison.

    ``beats_at``: the horizons where it is better after the adjustment over the horizons (what
    the policy serves on). ``beats``: the whole-model reading at the primary horizon (better
    there at ``alpha``, significantly worse nowhere, Bonferroni), which the transfer benchmarks
    report.
    """

    candidate: str
    reference: str
    beats: bool
    reason: str
    comparisons: tuple[Comparison, ...]
    beats_at: tuple[int, ...] = ()

    def p_better(self, horizon: int) -> float:
        return next(c.dm.p_better for c in self.comparisons if c.horizon == horizon)


def compare(
    result: WalkForwardResult,
    candidate: str,
    reference: Reference,
    policy: PromotionPolicy = POLICY,
) -> Verdict:
    """Diebold-Mariano per horizon on absolute log-return errors of the same anchors; a tuple
    ``reference`` names the reference of each horizon (the best baseline differs by horizon)."""
    horizons = range(1, result.horizon + 1)
    refs = (reference,) * result.horizon if isinstance(reference, str) else tuple(reference)
    raw = []
    for h, ref in zip(horizons, refs, strict=True):
        a = result.abs_errors(candidate, h)
        b = result.abs_errors(ref, h).reindex(a.index)
        dm = diebold_mariano(a.to_numpy(), b.to_numpy(), h)
        ratio = float(a.mean() / b.mean()) if b.mean() > 0 else float("nan")
        raw.append((h, ref, ratio, dm))
    adjusted = adjust([dm.p_better for *_, dm in raw], policy.primary_horizon, policy.primary_share)
    comparisons = tuple(
        Comparison(candidate, ref, h, ratio, dm, p)
        for (h, ref, ratio, dm), p in zip(raw, adjusted, strict=True)
    )
    label = refs[0] if len(set(refs)) == 1 else "the best baseline of each horizon"
    primary = next(c for c in comparisons if c.horizon == policy.primary_horizon)
    # "Worse at no horizon" is one question asked of every horizon: Bonferroni keeps its false
    # alarm rate at alpha (without it, equal models failed it 18% of the time).
    worse = [c.horizon for c in comparisons if c.dm.p_worse < policy.alpha / len(comparisons)]
    beats = primary.dm.p_better < policy.alpha and not worse
    beats_at = tuple(c.horizon for c in comparisons if c.p_adjusted < policy.alpha)
    best = min(comparisons, key=lambda c: c.p_adjusted)
    if beats_at:
        reason = (
            f"{candidate} beats {label} at {horizon_span(beats_at)} (p adjusted over the "
            f"horizons < {policy.alpha}; at h={best.horizon}: MAE x{best.mae_ratio:.3f}, "
            f"adjusted p={best.p_adjusted:.3g})"
        )
    else:
        reason = (
            f"{candidate} does not beat {label} at any horizon (at h={primary.horizon}: MAE "
            f"x{primary.mae_ratio:.3f}, p={primary.dm.p_better:.3g}; smallest adjusted p "
            f"{best.p_adjusted:.3g} >= {policy.alpha})"
        )
    return Verdict(candidate, label, beats, reason, comparisons, beats_at)


def against(
    result: WalkForwardResult, reference: str | None, policy: PromotionPolicy = POLICY
) -> tuple[list[float], list[float], list[float]]:
    """Per row of ``result.metrics``: the DM statistic, the one-sided p-value of "better than
    ``reference``" and that p-value adjusted over the candidate's horizons (NaN for the
    reference itself, or when there is none)."""
    values: dict[tuple[str, int], tuple[float, float, float]] = {}
    if reference is not None and reference in result.candidates:
        for name in result.candidates:
            if name != reference:
                for c in compare(result, name, reference, policy).comparisons:
                    values[(name, c.horizon)] = (c.dm.statistic, c.dm.p_better, c.p_adjusted)
    keys = zip(result.metrics["candidate"], result.metrics["horizon"].astype(int), strict=True)
    nan = float("nan")
    rows = [values.get(key, (nan, nan, nan)) for key in keys]
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def _baselines(result: WalkForwardResult, policy: PromotionPolicy) -> list[str]:
    """The backtest's baselines, simplest first: the first (naive) is what the others must beat."""
    available = [b for b in policy.baseline_order if b in result.candidates]
    if not available:
        raise ValueError("the backtest has no baseline candidates")
    return available


def best_baseline(
    result: WalkForwardResult, policy: PromotionPolicy = POLICY
) -> tuple[str, list[Verdict]]:
    """The whole-model reading: of the baselines that beat naive at the primary horizon
    (``Verdict.beats``), the one with the least MAE there, else naive; and the comparisons made.
    What the benchmarks report; the policy itself picks per horizon (``best_baselines``)."""
    plan, verdicts = best_baselines(result, policy)
    return plan[policy.primary_horizon - 1], verdicts


def best_baselines(
    result: WalkForwardResult, policy: PromotionPolicy = POLICY
) -> tuple[tuple[str, ...], list[Verdict]]:
    """Per horizon, of the baselines that beat naive there (adjusted over the horizons, each
    baseline its own family), the one with the least MAE, else naive; and the comparisons made."""
    available = _baselines(result, policy)
    reference = available[0]
    mae = result.metrics.set_index(["candidate", "horizon"])["mae_log_return"]
    best = [reference] * result.horizon
    verdicts = []
    for name in available[1:]:
        verdict = compare(result, name, reference, policy)
        verdicts.append(verdict)
        for h in verdict.beats_at:
            if float(mae[(name, h)]) < float(mae[(best[h - 1], h)]):
                best[h - 1] = name
    return tuple(best), verdicts


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


def coverage_off(
    result: WalkForwardResult, candidate: str, policy: PromotionPolicy = POLICY
) -> dict[int, str]:
    """The horizons whose interval coverage is more than the tolerance from nominal, each with
    its problem in words."""
    table = result.candidate_metrics(candidate)
    return {
        int(r.horizon): f"h={int(r.horizon)}: coverage {r.coverage:.1%} vs nominal "
        f"{r.nominal_coverage:.0%}"
        for r in table.itertuples()
        if abs(r.coverage - r.nominal_coverage) > policy.coverage_tolerance
    }


def coverage_problems(
    result: WalkForwardResult, candidate: str, policy: PromotionPolicy = POLICY
) -> list[str]:
    """Horizons whose interval coverage is more than the tolerance from nominal, in words."""
    return list(coverage_off(result, candidate, policy).values())


@dataclass(frozen=True)
class Incumbent:
    """The model serving now: a baseline by name, or a learned model (with its recipe's
    candidate name in the backtest: the challenger's name when it is the same recipe). A mix
    also states its ``plan`` (the candidate serving each horizon, in the backtest's names)."""

    kind: Literal["learned", "baseline"]
    candidate: str  # its candidate name in the backtest (a mix: its learned model, if any)
    model_version: str | None = None
    plan: tuple[str, ...] = ()

    def plan_for(self, horizon: int) -> tuple[str, ...]:
        return self.plan or (self.candidate,) * horizon


ServedKind = Literal["learned", "baseline", "mixed"]
MIX = "mix"  # what ``Decision.served`` says when the horizons are served by different models


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    served: str  # candidate name that serves every horizon, or ``mix`` (see ``plan``)
    served_kind: ServedKind
    reason: str
    best_baseline: str  # at the primary horizon (``best_baselines``: every horizon)
    challenger: str
    incumbent: Incumbent | None
    leakage: tuple[str, ...]  # every learned candidate's signs (challenger and champion)
    coverage_problems: tuple[str, ...]
    verdicts: tuple[Verdict, ...]
    policy_version: str = POLICY_VERSION
    served_metrics: list[dict[str, Any]] = field(default_factory=list)
    challenger_leakage: tuple[str, ...] = ()  # the signs that block: the challenger's
    plan: tuple[str, ...] = ()  # the candidate serving each horizon (index h - 1)
    best_baselines: tuple[str, ...] = ()

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
            "plan": list(self.plan),
            "reason": self.reason,
            "best_baseline": self.best_baseline,
            "best_baselines": list(self.best_baselines),
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
                    "beats_at": list(v.beats_at),
                    "reason": v.reason,
                }
                for v in self.verdicts
            ],
            "comparisons": self.comparison_table().to_dict(orient="records"),
            "served_metrics": self.served_metrics,
        }


def served_name(plan: Sequence[str]) -> str:
    """The one model of a uniform plan, else ``mix``."""
    return plan[0] if len(set(plan)) == 1 else MIX


def _served_kind(result: WalkForwardResult, plan: Sequence[str]) -> ServedKind:
    kinds = {"learned" if result.candidates.get(n) == "learned" else "baseline" for n in plan}
    return kinds.pop() if len(kinds) == 1 else "mixed"


def served_at(plan: Sequence[str], name: str) -> list[int]:
    """The horizons ``name`` serves in ``plan``."""
    return [h for h, n in enumerate(plan, 1) if n == name]


def plan_summary(plan: Sequence[str]) -> str:
    """``h=1-3 lstm; h=4-7 naive``: who serves which horizons."""
    return "; ".join(
        f"{horizon_span(served_at(plan, name))} {name}" for name in dict.fromkeys(plan)
    )


def _where(horizons: Sequence[int], of: int) -> str:
    """`` at h=1-2`` for some of ``of`` horizons, nothing for all of them."""
    return "" if len(horizons) == of else f" at {horizon_span(horizons)}"


def decide(
    result: WalkForwardResult,
    *,
    challenger: str = CHALLENGER,
    incumbent: Incumbent | None = None,
    policy: PromotionPolicy = POLICY,
) -> Decision:
    """Apply the policy to one walk-forward result (see the module docstring)."""
    horizons = range(1, result.horizon + 1)
    best, verdicts_ = best_baselines(result, policy)
    verdicts: list[Verdict] = list(verdicts_)
    primary_best = best[policy.primary_horizon - 1]

    def leak_signs(name: str) -> list[str]:
        signs = [f"{name} {s}" for s in leakage_signs(result, name, policy)]
        if result.parent_overlaps_test:
            signs.append(f"{name}: its parent saw the test period")
        return signs

    challenger_leaks = leak_signs(challenger)
    learned_incumbent = (
        incumbent is not None
        and incumbent.kind == "learned"
        and incumbent.candidate != challenger
        and incumbent.candidate in result.candidates
    )
    champion_leaks = leak_signs(incumbent.candidate) if learned_incumbent and incumbent else []
    leaks = tuple(challenger_leaks + champion_leaks)
    off = coverage_off(result, challenger, policy)
    coverage = tuple(off.values())
    vs_baseline = compare(result, challenger, best, policy)
    verdicts.append(vs_baseline)
    # A champion with leakage signs is no rival: it is retired, whatever it scores.
    rivals = []
    if learned_incumbent and incumbent is not None and not champion_leaks:
        rivals.append(compare(result, challenger, incumbent.candidate, policy))
    verdicts.extend(rivals)

    def decided(outcome: Outcome, plan: Sequence[str], reason: str) -> Decision:
        plan = tuple(plan)
        served = served_name(plan)
        metrics = result.plan_metrics(plan)
        if served == MIX:
            reason = f"{reason} Per horizon: {plan_summary(plan)}."
        return Decision(
            outcome=outcome,
            served=served,
            served_kind=_served_kind(result, plan),
            reason=reason,
            best_baseline=primary_best,
            challenger=challenger,
            incumbent=incumbent,
            leakage=leaks,
            coverage_problems=coverage,
            verdicts=tuple(verdicts),
            policy_version=policy.version,
            served_metrics=metrics.to_dict(orient="records"),
            challenger_leakage=tuple(challenger_leaks),
            plan=plan,
            best_baselines=best,
        )

    if challenger_leaks:
        # Nothing is promoted on evidence that may be leaked; what serves does not change,
        # unless it is a learned champion that leaks too, or there is no champion at all.
        note = "Blocked: leakage signs (" + "; ".join(challenger_leaks) + ")"
        if (
            incumbent is not None
            and not champion_leaks
            and incumbent.candidate != challenger
            and all(n in result.candidates for n in incumbent.plan_for(result.horizon))
        ):
            plan = incumbent.plan_for(result.horizon)
            return decided("blocked", plan, f"{note}; the champion keeps serving.")
        return decided("blocked", best, f"{note}; serving the best baseline.")

    holds: Verdict | None = None
    champion_off: dict[int, str] = {}
    if learned_incumbent and incumbent is not None and not champion_leaks:
        holds = compare(result, incumbent.candidate, best, policy)
        champion_off = coverage_off(result, incumbent.candidate, policy)
    plan: list[str] = []
    for h in horizons:
        if h in vs_baseline.beats_at and h not in off and all(h in r.beats_at for r in rivals):
            plan.append(challenger)
        elif holds is not None and incumbent is not None and h in holds.beats_at:
            plan.append(incumbent.candidate if h not in champion_off else best[h - 1])
        else:
            plan.append(best[h - 1])

    if challenger in plan:
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
        where = _where(served_at(plan, challenger), result.horizon)
        return decided("promote", plan, f"Promoted{where}: {vs_baseline.reason}{champion_note}.")
    problems = [] if vs_baseline.beats_at else [vs_baseline.reason]
    lost = sorted(set(vs_baseline.beats_at) & off.keys())
    if lost or (coverage and not vs_baseline.beats_at):
        problems.append(f"coverage off ({'; '.join(coverage)})")
    problems += [r.reason for r in rivals if not r.beats_at]
    fallback_reason = "Challenger not promoted: " + "; ".join(problems or ["see the plan"]) + "."
    if champion_leaks:
        fallback_reason += (
            " The champion's recipe shows leakage signs (" + "; ".join(champion_leaks) + ")."
        )
    elif holds is not None and incumbent is not None:
        verdicts.append(holds)
        kept = served_at(plan, incumbent.candidate)
        if kept:
            if incumbent.plan_for(result.horizon) == tuple(plan):
                return decided("keep", plan, f"{fallback_reason} The champion keeps serving.")
            where = _where(kept, result.horizon)
            return decided(
                "reassign", plan, f"{fallback_reason} The champion keeps serving{where}."
            )
        why = (
            holds.reason
            if not holds.beats_at
            else f"coverage off ({'; '.join(champion_off.values())})"
        )
        fallback_reason += f" The champion no longer holds: {why}."
    if incumbent is not None and incumbent.plan_for(result.horizon) == tuple(plan):
        return decided("keep", plan, f"{fallback_reason} The best baseline keeps serving.")
    return decided(
        "serve_baseline",
        plan,
        f"{fallback_reason} Serving the best baseline: {served_name(best)}.",
    )
