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
        self._keys: dict[tuple[str, str, str], str] = {}
        self._hits = metrics.CACHE.labels("hit")
        self._misses = metrics.CACHE.labels("miss")

    def key(self, ticker: str, model_id: str, as_of: str) -> str:
        parts = (ticker, model_id, as_of)
        key = self._keys.get(parts)
        if key is None:  # made once per ticker, model and session: it is on every request
            if len(self._keys) > 10_000:
                self._keys.clear()
            key = self._keys[parts] = self.kv.key("forecast", ticker_slug(ticker), model_id, as_of)
        return key

    def _count(self, value: str | None) -> str | None:
        (self._hits if value is not None else self._misses).inc()
        return value

    def get(self, key: str) -> str | None:
        return self._count(self.kv.get(key))

    async def aget(self, key: str) -> str | None:
        return self._count(await self.kv.aget(key))

    async def aput(self, key: str, payload: str) -> None:
        await self.kv.aset(key, payload, ttl_s=self.ttl_s)

    def put(self, key: str, payload: str) -> None:
        self.kv.set(key, payload, ttl_s=self.ttl_s)

    def invalidate(self, ticker: str) -> list[str]:
        """Drop every cached forecast of ``ticker`` (SCAN + DEL on our prefix only)."""
        return self.kv.delete_matching(self.kv.key("forecast", ticker_slug(ticker), "*"))
