"""One entry point for a report, shared by the API and the Dagster asset.

``AnalystService.analyze``: semantic cache first (unless ``refresh``), else the graph, the
evaluator, the report file and a cache write. Built once per process: it builds the LLM (so a
configuration error surfaces at start-up) and opens the cache lazily.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Any

import pandas as pd

from agent_graph.cache import SemanticCache, embed, embedder, request_text
from agent_graph.claims import claim_reader
from agent_graph.evaluator import evaluate
from agent_graph.facts import Facts, gather_facts, load_indicators
from agent_graph.graph import AgentDeps, run_graph
from agent_graph.llm import LLM, build_llm
from agent_graph.store import reports_dir, write_report
from agent_graph.tools.news import NewsSource, news_source_from_settings
from stock_assets.domain.ml.forecast import ForecastResult
from stock_assets.domain.serving import ServingModel
from stock_assets.domain.symbols import normalize_ticker
from stock_assets.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Analysis:
    record: dict[str, Any]  # the latest.json content
    cache_hit: bool
    cache_status: str  # "ok" | "disabled" | "unavailable: ..."
    path: list[str]  # graph nodes visited ([] on a cache hit)


class AnalystService:
    def __init__(
        self,
        settings: Settings,
        *,
        llm: LLM | None = None,
        news: NewsSource | None = None,
        cache: SemanticCache | None = None,
        use_default_llm: bool = True,
    ) -> None:
        self.settings = settings
        self.llm = llm if llm is not None or not use_default_llm else build_llm(settings)
        self.news = news if news is not None else news_source_from_settings(settings)
        self.cache = cache or SemanticCache(settings)
        # One report at a time per process: the local LLM is one context, and two identical
        # requests should not both pay for a cold report.
        self._lock = threading.Lock()
        self._features: Any = None  # the Feast online-store reader, opened on first use
        # Whether the models a report needs are loaded: "cold", "loading", "ready" or why not.
        self.warm = "cold"

    def online_row(self, ticker: str) -> tuple[Any, str | None]:
        """(the ticker's row in the Feast online store or None, why there is none): the same
        features serving reads. The store opens once per process (Feast imports in seconds)."""
        try:
            if self._features is None:
                from stock_assets.domain.feature_store.store import (
                    OnlineFeatureReader,
                    open_store_from_settings,
                )

                self._features = OnlineFeatureReader(open_store_from_settings(self.settings))
            return self._features.latest(ticker), None
        except Exception as exc:  # registry not applied yet, store unreachable
            return None, f"the online store is unavailable ({type(exc).__name__}: {exc})"

    def _frame_loader(self, ticker: str, frame: pd.DataFrame | None) -> Any:
        def load(symbol: str) -> pd.DataFrame | None:
            if frame is not None and symbol == ticker:
                return frame
            try:
                return load_indicators(self.settings, symbol)
            except LookupError:
                return None

        return load

    def analyze(
        self,
        ticker: str,
        serving: ServingModel,
        *,
        indicators: pd.DataFrame | None = None,
        forecast: ForecastResult | None = None,
        question: str | None = None,
        refresh: bool = False,
    ) -> Analysis:
        symbol = normalize_ticker(ticker)
        frame = indicators if indicators is not None else load_indicators(self.settings, symbol)
        as_of = str(pd.Timestamp(frame["date"].max()).date())
        mid = serving.model_id
        vector = embed(request_text(symbol, question)) if self.cache.available else None
        if not refresh:
            hit = self.cache.lookup(symbol, as_of, mid, question, vector)
            if hit is not None:
                return Analysis(hit.record, True, self.cache.status, [])
        with self._lock:
            if not refresh:  # someone may have written it while we waited
                hit = self.cache.lookup(symbol, as_of, mid, question, vector)
                if hit is not None:
                    return Analysis(hit.record, True, self.cache.status, [])
            facts_box: dict[str, Facts] = {}

            online, unavailable = self.online_row(symbol)

            def facts(sym: str) -> Facts:
                facts_box["f"] = gather_facts(
                    self.settings,
                    sym,
                    serving,
                    frame,
                    forecast,
                    online=online,
                    online_unavailable=unavailable,
                )
                return facts_box["f"]

            deps = AgentDeps(
                facts=facts,
                frame=self._frame_loader(symbol, frame),
                llm=self.llm,
                news=self.news,
                index_ticker=self.settings.index_ticker,
                sentence_budget=self.settings.agent_sentence_budget,
            )
            state = run_graph(deps, symbol, question)
            report = state["report"]
            evaluation = evaluate(
                report,
                state["final_verdict"],
                state["facts"],
                state["tools"],
                state["slots"].get("answer", ()),
            )
            fact = facts_box["f"]
            record = {
                "ticker": symbol,
                "as_of": fact.as_of,
                "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "report": {k: v for k, v in report.to_dict().items() if k != "tools"},
                "evaluation": evaluation.to_dict(),
                "model_id": mid,
                "question": question,
                "tools": report.tools,
                "path": state["path"],
                "facts": fact.to_dict(),
            }
            write_report(self.settings, record)
            self.cache.put(symbol, as_of, mid, question, record, vector=vector)
            return Analysis(record, False, self.cache.status, state["path"])

    def reset(self) -> list[str]:
        """Drop the cache collection and the stored reports; returns the paths deleted."""
        import shutil

        self.cache.clear()
        folder = reports_dir(self.settings)
        if folder.exists():
            shutil.rmtree(folder)
            return [str(folder)]
        return []

    def warm_up(self) -> None:
        """Load the local LLM, the embedder and the claim reader now (the API calls this in the
        background at start-up), so the first ``/analyze`` does not pay for loading them."""
        self.warm = "loading"
        try:
            load = getattr(self.llm, "load", None)
            if load is not None:
                load()
            embedder()  # the critic's claim reader needs it even when the cache is off
            claim_reader().load()
            self.online_row(self.settings.index_ticker)  # imports Feast, opens the store
        except Exception as exc:
            self.warm = f"failed: {type(exc).__name__}: {exc}"
            raise
        self.warm = "ready"

    def close(self) -> None:
        self.cache.close()
