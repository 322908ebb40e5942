"""Reports made from scenarios: synthetic facts and tool results, and the scoring of the claim
regression set against them.

A scenario is a small dict (stance, skill, news, volatility, volume and, optionally, leader,
rsi, macd, drift, model) that becomes :class:`~agent_graph.facts.Facts` and the market tools'
results. The claim regression set (``bench/data/claim_regression.yaml``) reads each case against
its scenario with :func:`agent_graph.claims.unsupported_claims`: a flagged kind that was planted
is a true positive, a planted kind not flagged a miss, a flagged kind not planted a false alarm.
Beside the cases, the code-written text of a full report for every scenario is read too: any
claim flagged there is a false alarm, since code writes only what the facts say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from agent_graph.claims import KINDS, ClaimReader, claim_reader, own_claims, unsupported_claims
from agent_graph.facts import DriftStatus, Facts, ForecastRow, QualityRow, derive_stance
from agent_graph.report import NARRATIVE_SLOTS, brief, compose, deterministic, report_prose
from agent_graph.statements import slot_facts
from agent_graph.tools.base import ToolResult
from stock_assets.domain.calendar import next_trading_days

DATA_DIR = Path(__file__).resolve().parent.parent / "bench" / "data"
CLAIM_SET = DATA_DIR / "claim_regression.yaml"
AS_OF = "2013-03-01"
STANCE_CHANGE = {"bullish": 3.0, "bearish": -1.5, "neutral": 0.2}  # 7-session move, percent
DRIFT_SHARES = {"drift": 0.6, "no drift": 0.2}


def synthetic_facts(
    ticker: str = "AAPL",
    change: float = -1.5,
    rel_mae: float = 1.02,
    skill: bool | None = False,
    *,
    model: str = "lstm",
    indicators: dict[str, float] | None = None,
    drift: str = "not computed",
    as_of: str = AS_OF,
    last: float = 430.47,
) -> Facts:
    """Facts with a 7-session forecast drifting by ``change`` percent and a backtest of the
    served ``model``: significantly better than naive at every horizon (``skill``), with no
    significant edge (p-values far from 0.05), or not backtested yet (``None``)."""
    sessions = next_trading_days(pd.Timestamp(as_of), 7)
    rows = tuple(
        ForecastRow(
            horizon=h,
            date=str(sessions[h - 1].date()),
            median=last * (1 + change / 100 * h / 7),
            lower=last * (1 + change / 100 * h / 7 - 0.012 * h**0.5),
            upper=last * (1 + change / 100 * h / 7 + 0.012 * h**0.5),
            change_pct=change * h / 7,
        )
        for h in range(1, 8)
    )
    if skill is None:
        quality: tuple[QualityRow, ...] = ()
    elif skill:
        quality = tuple(
            QualityRow(h, 0.91 + 0.01 * h, 0.56, 0.53, 0.8, 0.01 + 0.001 * h, True)
            for h in range(1, 8)
        )
    else:
        quality = tuple(
            QualityRow(h, rel_mae + 0.01 * h, 0.51, 0.53, 0.78 + 0.001 * h, 0.6 + 0.01 * h, False)
            for h in range(1, 8)
        )
    label = "The naive forecast" if model == "naive" else "The LSTM"
    statement = (
        f"{label} serves: it beat the naive forecast on the walk-forward windows at horizons "
        "1, 2, 3, 4, 5, 6, 7 (at h=1: MAE 0.920x naive, p=0.011)."
        if skill
        else f"{label} serves, but its edge over the naive forecast is not statistically "
        "significant at any horizon: no skill over naive is claimed."
    )
    share = DRIFT_SHARES.get(drift)
    drift_status = DriftStatus(
        drift,
        as_of=as_of if share is not None else None,
        drift_share=share,
        drifted_columns=("rsi_14", "volatility_20") if drift == "drift" else (),
    )
    base = Facts(
        ticker=ticker,
        as_of=as_of,
        last_close=last,
        model_version="3",
        bundle_version="20250101T000000-abcdef",
        model=model,
        model_kind="baseline" if model != "lstm" else "learned",
        skill=statement if skill is not None else None,
        nominal_coverage=0.8,
        quantiles=(0.1, 0.5, 0.9),
        forecast=rows,
        quality=quality,
        promoted=True if skill is not None else None,
        drift=drift_status,
        indicators=indicators
        if indicators is not None
        else {
            "close": last,
            "rsi_14": 41.23,
            "macd_hist": -1.234,
            "volatility_20": 0.3123,
            "volume_z_20": 0.42,
            "log_return": -0.0031,
        },
    )
    stance, confidence = derive_stance(
        base.expected_change_pct, base.interval_width_pct, base.beats_naive, drift_status
    )
    return replace(base, stance=stance, confidence=confidence)


def scenario_tools(spec: dict[str, Any], ticker: str = "AAPL") -> list[ToolResult]:
    """Market-expert tool results as the scenario describes them (skipped where it says null;
    relative strength only when the scenario names a ``leader``)."""
    tools = []
    if spec["news"] is None:
        tools.append(ToolResult("news_sentiment", "skipped", "No news source is configured."))
    else:
        tools.append(
            ToolResult(
                "news_sentiment", "ok", f"Headlines: {spec['news']}.", {"label": spec["news"]}
            )
        )
    if spec.get("leader") is not None:
        lead = "outperformed" if spec["leader"] else "underperformed"
        tools.append(
            ToolResult(
                "relative_strength",
                "ok",
                f"Relative strength: {ticker} {lead}.",
                {"leader": 1.0 if spec["leader"] else 0.0},
            )
        )
    if spec["volatility"] is not None:
        regime = spec["volatility"]
        tools.append(
            ToolResult(
                "volatility_regime", "ok", f"Volatility regime: {regime}.", {"regime": regime}
            )
        )
    if spec["volume"] is not None:
        anomalies = 3 if spec["volume"] else 0
        tools.append(
            ToolResult(
                "volume_anomalies", "ok", "Volume.", {"anomalies": anomalies, "sessions": 20}
            )
        )
    return tools


def scenario(spec: dict[str, Any], ticker: str = "AAPL") -> tuple[Facts, list[ToolResult]]:
    """Facts and tool results of one scenario; ``rsi`` and ``macd`` (a sign: "+" or "-") set the
    latest indicators, ``drift`` the drift status, ``model`` what serves. A set's scenarios may
    name their own ``ticker``; the scorer passes it here."""
    indicators = None
    if "rsi" in spec or "macd" in spec:
        indicators = {
            "close": 430.47,
            "rsi_14": float(spec.get("rsi", 50.0)),
            "macd_hist": 0.85 if spec.get("macd", "+") == "+" else -0.85,
            "volatility_20": 0.3123,
            "volume_z_20": 0.42,
            "log_return": -0.0031,
        }
    facts = synthetic_facts(
        ticker,
        change=STANCE_CHANGE[spec["stance"]],
        skill=spec["skill"],
        model=spec.get("model", "lstm"),
        indicators=indicators,
        drift=spec.get("drift", "not computed"),
    )
    assert facts.stance == spec["stance"], (facts.stance, spec)
    return facts, scenario_tools(spec, ticker)


@dataclass
class KindScore:
    planted: int = 0
    caught: int = 0
    false_alarms: int = 0

    @property
    def recall(self) -> float:
        return self.caught / self.planted if self.planted else 1.0

    @property
    def precision(self) -> float:
        flagged = self.caught + self.false_alarms
        return self.caught / flagged if flagged else 1.0


@dataclass
class SetScore:
    kinds: dict[str, KindScore] = field(default_factory=lambda: {k: KindScore() for k in KINDS})
    cases: int = 0
    clean_cases: int = 0
    errors: list[str] = field(default_factory=list)  # one line per miss or false alarm

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "kind": k,
                "planted": s.planted,
                "caught": s.caught,
                "false_alarms": s.false_alarms,
                "recall": round(s.recall, 3),
                "precision": round(s.precision, 3),
            }
            for k, s in self.kinds.items()
        ]


def load_set(path: Path = CLAIM_SET) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def score_set(
    reader: ClaimReader | None = None, path: Path = CLAIM_SET, holdout: bool | None = None
) -> SetScore:
    """Scores over the cases (``holdout``: only the held-out ones, or only the others; None: all)
    and the code-written text of each scenario's report (not with ``holdout=True``)."""
    reader = reader or claim_reader()
    data = load_set(path)
    scenarios = {name: scenario(spec) for name, spec in data["scenarios"].items()}
    score = SetScore()
    cases = [c for c in data["cases"] if holdout is None or bool(c.get("holdout")) == holdout]
    for case in cases:
        facts, tools = scenarios[case["scenario"]]
        planted = set(case["planted"])
        flagged = {c.kind for c, _ in unsupported_claims(case["text"], facts, tools, reader)}
        score.cases += 1
        score.clean_cases += not planted
        for kind in KINDS:
            s = score.kinds[kind]
            s.planted += kind in planted
            s.caught += kind in planted and kind in flagged
            s.false_alarms += kind in flagged and kind not in planted
        for kind in sorted(planted - flagged):
            score.errors.append(f"missed {kind}: {case['text']!r} ({case['scenario']})")
        for kind in sorted(flagged - planted):
            score.errors.append(f"false {kind}: {case['text']!r} ({case['scenario']})")
    for name, (facts, tools) in scenarios.items():
        if holdout:
            break
        narrative = {s: deterministic(slot_facts(s, facts, tools)) for s in NARRATIVE_SLOTS}
        prose = report_prose(compose(facts, tools, narrative).markdown)
        # As the evaluator reads a report: what the fact sentences themselves claim is allowed.
        allowed = own_claims(brief(facts, tools), reader)
        for claim, why in unsupported_claims(prose, facts, tools, reader):
            if claim.label in allowed:
                continue
            score.kinds[claim.kind].false_alarms += 1
            score.errors.append(
                f"false {claim.kind} in code text: {claim.clause!r} ({name}: {why})"
            )
    return score


# --- the grounding gate's planted-claim sets ----------------------------------------------------


@dataclass
class GroundingScore:
    """Per planted kind: how many sentences carried it and how many the gate dropped; and how
    many clean sentences (restating facts only) it admitted."""

    planted: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    clean: int = 0
    admitted_clean: int = 0
    planted_sentences: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def clean_survival(self) -> float:
        return self.admitted_clean / self.clean if self.clean else 1.0

    def recall(self, kind: str) -> float:
        return self.dropped.get(kind, 0) / self.planted[kind] if self.planted.get(kind) else 1.0

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "kind": k,
                "planted": n,
                "dropped": self.dropped.get(k, 0),
                "recall": round(self.recall(k), 3),
            }
            for k, n in sorted(self.planted.items())
        ]


def grounds_for(facts: Facts, tools: list[ToolResult]) -> Any:
    """The whole report's fact sentences as the grounds a sentence is judged against."""
    from agent_graph.grounding import Grounds
    from agent_graph.numbers import Evidence
    from agent_graph.statements import all_facts

    evidence = Evidence.of(facts.numbers(), facts.dates())
    return Grounds(all_facts(facts, tools), facts, tools, evidence, (facts.ticker,))


def score_grounding_set(path: Path, gate: Any = None) -> GroundingScore:
    """Judge every case of a planted-claim set against its scenario's facts."""
    from agent_graph.grounding import GroundingGate

    gate = gate or GroundingGate()
    data = load_set(path)
    scenarios = (
        data.get("scenarios") or load_set(DATA_DIR / "grounding_scenarios.yaml")["scenarios"]
    )
    grounds = {
        name: grounds_for(*scenario(spec, spec.get("ticker", "AAPL")))
        for name, spec in scenarios.items()
    }
    score = GroundingScore()
    by_scenario: dict[str, list[dict[str, Any]]] = {}
    for case in data["cases"]:
        by_scenario.setdefault(case["scenario"], []).append(case)
    for name, cases in by_scenario.items():
        verdicts = gate.judge([c["text"] for c in cases], grounds[name])
        for case, verdict in zip(cases, verdicts, strict=True):
            planted = list(case["planted"])
            if not planted:
                score.clean += 1
                score.admitted_clean += verdict.admitted
                if not verdict.admitted:
                    score.errors.append(
                        f"clean dropped ({name}): {case['text']!r} <- {'; '.join(verdict.reasons)}"
                    )
                continue
            score.planted_sentences += 1
            for kind in planted:
                score.planted[kind] = score.planted.get(kind, 0) + 1
                score.dropped[kind] = score.dropped.get(kind, 0) + (not verdict.admitted)
            if verdict.admitted:
                score.errors.append(
                    f"planted {'+'.join(planted)} admitted ({name}): {case['text']!r}"
                )
    return score


# Targets on every planted-claim set: planted sentences dropped per kind, clean ones admitted.
DROPPED, ADMITTED = 0.95, 0.90


def grounding_sets(quick: bool = False) -> list[Path]:
    """The planted-claim sets: the development set, then the held-out rounds in their order."""

    def order(path: Path) -> tuple[str, int]:
        number = re.search(r"(\d+)$", path.stem)
        return (path.stem.rstrip("0123456789"), int(number.group(1)) if number else 0)

    found = sorted(DATA_DIR.glob("grounding_*.yaml"), key=order)
    found = [p for p in found if p.stem != "grounding_scenarios"]
    return [p for p in found if p.stem == "grounding_dev"] if quick else found


def first_read(path: Path) -> str | None:
    """The "FIRST READ" lines of a held-out round's header, as one line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header = [ln.lstrip("# ").rstrip() for ln in lines if ln.startswith("#")]
    start = next((i for i, ln in enumerate(header) if ln.startswith("FIRST READ")), None)
    if start is None:
        return None
    kept = []
    for line in header[start + 1 :]:
        if not line or line.startswith(("The gate was tuned", "The two numbers", "Most clean")):
            break
        kept.append(line.strip())
    return re.sub(r"\s+", " ", " ".join(kept))


# --- reports on real and synthetic prices --------------------------------------------------------
def facts_from_prices(
    ticker: str, frame: pd.DataFrame, as_of: str, skill: bool | None = False, *, naive: bool = False
) -> Facts:
    """Facts of a report on an indicator table as of ``as_of``: the latest indicators, and a
    7-session forecast whose band is the empirical 10th-90th percentile of the table's h-day log
    returns over its last 500 sessions. ``naive``: the naive forecast serves (what the offline
    stocks serve); otherwise a learned model whose median follows the last 60 sessions' drift,
    backtested with skill, without, or not at all (``skill`` True, False, None)."""
    import numpy as np

    from agent_graph.facts import latest_indicators

    rows = frame[pd.to_datetime(frame["date"]) <= pd.Timestamp(as_of)].reset_index(drop=True)
    log_close = np.log(rows["close"].astype(float).to_numpy())
    last = float(rows["close"].iloc[-1])
    drift = float(np.mean(np.diff(log_close[-61:])))
    session = str(pd.Timestamp(rows["date"].iloc[-1]).date())
    dates = next_trading_days(pd.Timestamp(session), 7)
    forecast = []
    for h in range(1, 8):
        moves = log_close[h:][-500:] - log_close[:-h][-500:]
        centre = 0.0 if naive else drift * h
        low, high = np.quantile(moves - np.median(moves), [0.1, 0.9]) + centre
        median = last * float(np.exp(centre))
        forecast.append(
            ForecastRow(
                h,
                str(dates[h - 1].date()),
                median,
                last * float(np.exp(low)),
                last * float(np.exp(high)),
                (median / last - 1) * 100,
            )
        )
    base = synthetic_facts(
        ticker,
        0.0,
        skill=False if naive else skill,
        model="naive" if naive else "lstm",
        as_of=session,
        last=last,
    )
    facts = replace(base, forecast=tuple(forecast), indicators=latest_indicators(rows, session))
    stance, confidence = derive_stance(
        facts.expected_change_pct, facts.interval_width_pct, facts.beats_naive, facts.drift
    )
    return replace(facts, stance=stance, confidence=confidence)
