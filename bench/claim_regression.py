"""The critic's claim regression set: scenarios made into facts and tool results, and scoring.

The set itself is ``bench/data/claim_regression.yaml``. Each case is read against its scenario
with :func:`agent_graph.claims.unsupported_claims`; a flagged kind that was planted is a true
positive, a planted kind not flagged a miss, a flagged kind not planted a false alarm. Beside the
cases, the code-written text of a full report for every scenario is read too: any claim flagged
there is a false alarm, since code writes only what the facts say.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from agent_graph.claims import KINDS, ClaimReader, claim_reader, unsupported_claims
from agent_graph.facts import DriftStatus, Facts, ForecastRow, QualityRow, derive_stance
from agent_graph.report import PIECES, compose, deterministic_piece, report_prose
from agent_graph.tools.base import ToolResult
from stock_assets.domain.calendar import next_trading_days

SET_PATH = Path(__file__).parent / "data" / "claim_regression.yaml"
AS_OF = "2013-03-01"
STANCE_CHANGE = {"bullish": 3.0, "bearish": -1.5, "neutral": 0.2}  # 7-session move, percent


def synthetic_facts(
    ticker: str = "AAPL", change: float = -1.5, rel_mae: float = 1.02, skill: bool | None = False
) -> Facts:
    """Facts with a 7-session forecast drifting by ``change`` percent and a backtest of an LSTM
    champion: significantly better than naive at every horizon (``skill``), with no significant
    edge (p-values far from 0.05), or not backtested yet (``None``)."""
    last = 430.47
    sessions = next_trading_days(pd.Timestamp(AS_OF), 7)
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
    statement = (
        "The LSTM serves: it beat the naive forecast on the walk-forward windows at horizons "
        "1, 2, 3, 4, 5, 6, 7 (at h=1: MAE 0.920x naive, p=0.011)."
        if skill
        else "The LSTM serves, but its edge over the naive forecast is not statistically "
        "significant at any horizon: no skill over naive is claimed."
    )
    drift = DriftStatus("not computed")
    base = Facts(
        ticker=ticker, as_of=AS_OF, last_close=last, model_version="3",
        bundle_version="20250101T000000-abcdef", model="lstm", model_kind="learned",
        skill=statement if skill is not None else None,
        nominal_coverage=0.8, quantiles=(0.1, 0.5, 0.9), forecast=rows, quality=quality,
        promoted=True if skill is not None else None, drift=drift,
        indicators={"close": last, "rsi_14": 41.23, "macd_hist": -1.234, "volatility_20": 0.3123,
                    "volume_z_20": 0.42, "log_return": -0.0031},
    )  # fmt: skip
    stance, confidence = derive_stance(
        base.expected_change_pct, base.interval_width_pct, base.beats_naive, drift
    )
    return replace(base, stance=stance, confidence=confidence)


def scenario_tools(spec: dict[str, Any]) -> list[ToolResult]:
    """Market-expert tool results as the scenario describes them (skipped where it says null)."""
    tools = []
    if spec["news"] is None:
        tools.append(ToolResult("news_sentiment", "skipped", "No news source is configured."))
    else:
        tools.append(ToolResult("news_sentiment", "ok", f"Headlines: {spec['news']}.",
                                {"label": spec["news"]}))  # fmt: skip
    if spec["volatility"] is not None:
        regime = spec["volatility"]
        tools.append(ToolResult("volatility_regime", "ok", f"Volatility regime: {regime}.",
                                {"regime": regime}))  # fmt: skip
    if spec["volume"] is not None:
        anomalies = 3 if spec["volume"] else 0
        tools.append(ToolResult("volume_anomalies", "ok", "Volume.",
                                {"anomalies": anomalies, "sessions": 20}))  # fmt: skip
    return tools


def scenario(spec: dict[str, Any]) -> tuple[Facts, list[ToolResult]]:
    facts = synthetic_facts(change=STANCE_CHANGE[spec["stance"]], skill=spec["skill"])
    assert facts.stance == spec["stance"], (facts.stance, spec)
    return facts, scenario_tools(spec)


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
            {"kind": k, "planted": s.planted, "caught": s.caught, "false_alarms": s.false_alarms,
             "recall": round(s.recall, 3), "precision": round(s.precision, 3)}
            for k, s in self.kinds.items()
        ]  # fmt: skip


def load_set(path: Path = SET_PATH) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def score_set(
    reader: ClaimReader | None = None, path: Path = SET_PATH, holdout: bool | None = None
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
        pieces = {slot: deterministic_piece(slot, facts, tools) for slot in PIECES}
        prose = report_prose(compose(facts, tools, pieces)[0])
        for claim, why in unsupported_claims(prose, facts, tools, reader):
            score.kinds[claim.kind].false_alarms += 1
            score.errors.append(
                f"false {claim.kind} in code text: {claim.clause!r} ({name}: {why})"
            )
    return score
