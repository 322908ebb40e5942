"""The ``/analyze`` use case: the served forecast and the analyst team's report on it."""

from __future__ import annotations

import json
from typing import Any

from agent_graph.facts import FactsError
from agent_graph.service import AnalystService
from serving_api import metrics
from serving_api.predictions import Pending, PredictionService
from serving_api.problems import DependencyUnavailableError, NoDataError


class AnalysisService:
    def __init__(self, predictions: PredictionService, agents: AnalystService | None) -> None:
        self.predictions = predictions
        self.agents = agents

    def analyze(self, ticker: str, question: str | None, refresh: bool) -> dict[str, Any] | Pending:
        """The ``/analyze`` answer, or the onboarding task of a ticker without a model."""
        if self.agents is None:
            raise DependencyUnavailableError("The analyst agents", "not configured in this API")
        found = self.predictions.served_forecast(ticker)
        if isinstance(found, Pending):
            return found
        serving, frame, result, served = found
        try:
            analysis = self.agents.analyze(
                ticker,
                serving,
                indicators=frame.data,
                forecast=result,
                question=question,
                refresh=refresh,
            )
        except FactsError as exc:
            raise NoDataError(str(exc)) from exc
        if analysis.cache_status != "ok":
            metrics.REPORT_CACHE.labels("unavailable").inc()
        else:
            metrics.REPORT_CACHE.labels("hit" if analysis.cache_hit else "miss").inc()
        record = analysis.record
        return {
            "ticker": ticker,
            "as_of": record["as_of"],
            "cache_hit": analysis.cache_hit,
            "cache_status": analysis.cache_status,
            "forecast": {"cache_hit": served.cache_hit, **json.loads(served.text)},
            "report": record["report"],
            "evaluation": record["evaluation"],
            "features": (record.get("facts") or {}).get("features"),
        }
