"""News headlines for the market expert: one interface, a Yahoo implementation, and none.

Offline (the embedded default) there is no news source, so the expert falls back to market
context computed from prices; with the yahoo market-data provider, headlines come from
yfinance's ``Ticker.news`` under a hard timeout.
"""

from __future__ import annotations

import concurrent.futures
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from agent_graph.tools.base import ToolResult
from agent_graph.tools.sentiment import score_headlines
from stock_assets.settings import Settings

log = logging.getLogger(__name__)
MAX_HEADLINES = 8


class NewsUnavailableError(RuntimeError):
    """The news source could not be reached or answered nothing usable."""


@dataclass(frozen=True)
class Headline:
    title: str
    publisher: str | None = None
    published: str | None = None


class NewsSource(Protocol):
    name: str

    def headlines(self, ticker: str, limit: int = MAX_HEADLINES) -> list[Headline]: ...


def _parse_item(item: dict[str, Any]) -> Headline | None:
    # yfinance >= 0.2.50 nests the story under "content"; older releases were flat.
    content = item.get("content") if isinstance(item.get("content"), dict) else item
    title = (content or {}).get("title")
    if not title:
        return None
    provider = content.get("provider") or {}
    publisher = provider.get("displayName") if isinstance(provider, dict) else None
    return Headline(
        str(title).strip(),
        publisher or content.get("publisher"),
        content.get("pubDate") or content.get("providerPublishTime"),
    )


class YahooNews:
    """Headlines from Yahoo Finance through yfinance, with a timeout on the whole call."""

    name = "yahoo"

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    def _fetch(self, ticker: str) -> list[dict[str, Any]]:
        import yfinance as yf

        return list(yf.Ticker(ticker).news or [])

    def headlines(self, ticker: str, limit: int = MAX_HEADLINES) -> list[Headline]:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        try:
            items = pool.submit(self._fetch, ticker).result(timeout=self.timeout_s)
        except concurrent.futures.TimeoutError as exc:
            raise NewsUnavailableError(
                f"Yahoo news timed out after {self.timeout_s:.0f} s"
            ) from exc
        except Exception as exc:  # yfinance raises many kinds when offline
            raise NewsUnavailableError(f"Yahoo news failed: {exc}") from exc
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        parsed = [h for item in items if isinstance(item, dict) and (h := _parse_item(item))]
        if not parsed:
            raise NewsUnavailableError(f"Yahoo returned no headlines for {ticker}")
        return parsed[:limit]


def news_source_from_settings(settings: Settings) -> NewsSource | None:
    """None when no news source is configured (the offline default)."""
    choice = settings.agent_news_provider
    if choice == "auto":
        choice = "yahoo" if settings.market_data_provider == "yahoo" else "none"
    if choice == "yahoo":
        return YahooNews(settings.agent_news_timeout_s)
    return None


def news_sentiment(ticker: str, source: NewsSource | None) -> ToolResult:
    """Fetch headlines and score them; skipped without a source, an error when unreachable."""
    name = "news_sentiment"
    if source is None:
        return ToolResult(name, "skipped", "No news source is configured.")
    try:
        headlines = source.headlines(ticker)
    except NewsUnavailableError as exc:
        log.info("News for %s unavailable: %s", ticker, exc)
        return ToolResult(name, "error", f"News source {source.name} unreachable: {exc}")
    mean, scores = score_headlines([h.title for h in headlines])
    label = "positive" if mean > 0.15 else "negative" if mean < -0.15 else "neutral"
    counts = {k: sum(s.label == k for s in scores) for k in ("positive", "negative", "neutral")}
    summary = (
        f"News ({source.name}): {len(headlines)} headlines, lexicon sentiment {label} "
        f"({mean:+.2f}); {counts['positive']} positive, {counts['negative']} negative, "
        f"{counts['neutral']} neutral."
    )
    data = {
        "source": source.name,
        "score": mean,
        "label": label,
        "headlines": [
            {"title": h.title, "publisher": h.publisher, "score": s.score, "label": s.label}
            for h, s in zip(headlines, scores, strict=True)
        ],
    }
    numbers = (
        ("news_count", float(len(headlines))),
        ("news_score", mean),
        *((f"news_{k}", float(v)) for k, v in counts.items()),
    )
    return ToolResult(name, "ok", summary, data, numbers)
