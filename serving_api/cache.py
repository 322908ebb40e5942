"""The forecast cache: JSON answers keyed by ticker, model version and data as-of date.

A new champion, or a new day of data, gives a new key, so stale answers are never served; the
old keys of a ticker are also deleted as soon as a different model version is observed.
"""

from __future__ import annotations

from serving_api import metrics
from serving_api.kv import KeyValueStore
from stock_assets.domain.symbols import ticker_slug


class ForecastCache:
    def __init__(self, kv: KeyValueStore, ttl_s: int) -> None:
        self.kv = kv
        self.ttl_s = ttl_s

    def key(self, ticker: str, model_id: str, as_of: str) -> str:
        return self.kv.key("forecast", ticker_slug(ticker), model_id, as_of)

    def get(self, key: str) -> str | None:
        value = self.kv.get(key)
        metrics.CACHE.labels("hit" if value is not None else "miss").inc()
        return value

    async def aget(self, key: str) -> str | None:
        value = await self.kv.aget(key)
        metrics.CACHE.labels("hit" if value is not None else "miss").inc()
        return value

    def put(self, key: str, payload: str) -> None:
        self.kv.set(key, payload, ttl_s=self.ttl_s)

    def invalidate(self, ticker: str) -> list[str]:
        """Drop every cached forecast of ``ticker`` (SCAN + DEL on our prefix only)."""
        return self.kv.delete_matching(self.kv.key("forecast", ticker_slug(ticker), "*"))
