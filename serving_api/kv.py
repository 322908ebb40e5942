"""A tiny key-value interface with two backends: Redis, and an in-process fallback.

Cache entries, rate-limit windows and onboarding locks all go through :class:`KeyValueStore`, so
the API keeps answering when Redis is down (degraded: per-process state only). Every key is
prefixed with ``settings.redis_key_prefix`` so ``/system/reset`` can delete exactly our keys.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import redis
import redis.asyncio as aioredis

from stock_assets.domain.redact import redact_url

log = logging.getLogger(__name__)

# Sliding window over a sorted set, atomically: drop entries older than the window, count,
# add this request if under the limit. Returns {allowed, retry_after_ms}.
_SLIDING_WINDOW_LUA = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local member = ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, 0, now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local retry = window
if oldest[2] then retry = tonumber(oldest[2]) + window - now end
return {0, retry}
"""

# Release a lock only if we still own it (another holder may have it after our expiry).
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class MemoryKV:
    """In-process stand-in for the few Redis operations we use (thread-safe, TTL-aware)."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[object, float | None]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str) -> object | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= time.monotonic():
            self._data.pop(key, None)
            return None
        return value

    def get(self, key: str) -> str | None:
        with self._lock:
            value = self._live(key)
            return value if isinstance(value, str) else None

    def set(self, key: str, value: str, ttl_s: float | None = None, nx: bool = False) -> bool:
        with self._lock:
            if nx and self._live(key) is not None:
                return False
            expires = time.monotonic() + ttl_s if ttl_s else None
            self._data[key] = (value, expires)
            return True

    def delete(self, *keys: str) -> int:
        with self._lock:
            return sum(self._data.pop(k, None) is not None for k in keys)

    def release(self, key: str, token: str) -> None:
        with self._lock:
            if self._live(key) == token:
                self._data.pop(key, None)

    def keys(self, pattern: str) -> list[str]:
        with self._lock:
            return [
                k for k in list(self._data) if fnmatch.fnmatchcase(k, pattern) and self._live(k)
            ]

    def sliding_window(self, key: str, window_ms: int, limit: int) -> tuple[bool, int]:
        now = time.monotonic() * 1000
        with self._lock:
            stamps = self._live(key)
            hits = [t for t in (stamps if isinstance(stamps, list) else []) if t > now - window_ms]
            if len(hits) < limit:
                hits.append(now)
                self._data[key] = (hits, time.monotonic() + window_ms / 1000)
                return True, 0
            self._data[key] = (hits, time.monotonic() + window_ms / 1000)
            return False, int(hits[0] + window_ms - now) + 1


class KeyValueStore:
    """Redis when reachable, else :class:`MemoryKV`; switches back after ``retry_s``.

    Every operation catches Redis connection errors, flips to the fallback and logs that once per
    outage, so a dead Redis costs one timeout per ``retry_s``, not one per request.
    """

    def __init__(self, url: str, prefix: str, timeout_s: float = 0.5, retry_s: float = 15.0):
        self.url = redact_url(url)  # for messages; the client keeps the real one
        self.prefix = prefix
        self.retry_s = retry_s
        self.memory = MemoryKV()
        options = {
            "socket_timeout": timeout_s,
            "socket_connect_timeout": timeout_s,
            "decode_responses": True,
        }
        self._redis = redis.Redis.from_url(url, **options)
        # The request hot path awaits Redis instead of blocking a thread: one asyncio client
        # per event loop (a client's connections belong to the loop that opened them).
        self._async_url, self._async_options = url, options
        self._async: tuple[asyncio.AbstractEventLoop, aioredis.Redis, Any] | None = None
        self._down_since: float | None = None
        self.last_error: str | None = None
        self._window = self._redis.register_script(_SLIDING_WINDOW_LUA)
        self._release = self._redis.register_script(_RELEASE_LUA)

    # --- backend selection ------------------------------------------------------------------
    @property
    def using_redis(self) -> bool:
        if self._down_since is None:
            return True
        return time.monotonic() - self._down_since >= self.retry_s

    def _failed(self, exc: Exception) -> None:
        if self._down_since is None:
            log.warning("Redis at %s unreachable (%s): in-process fallback", self.url, exc)
        self._down_since = time.monotonic()
        self.last_error = str(exc)

    def _ok(self) -> None:
        if self._down_since is not None:
            log.warning("Redis at %s reachable again", self.url)
        self._down_since = None
        self.last_error = None

    def ping(self) -> bool:
        """Probe Redis now (health checks); updates the backend choice."""
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            self._failed(exc)
            return False
        self._ok()
        return True

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def _async_client(self) -> tuple[aioredis.Redis, Any]:
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            client = aioredis.Redis.from_url(self._async_url, **self._async_options)
            self._async = (loop, client, client.register_script(_SLIDING_WINDOW_LUA))
        return self._async[1], self._async[2]

    # --- operations -------------------------------------------------------------------------
    async def aget(self, key: str) -> str | None:
        """``get`` without blocking the event loop. A timeout here is a busy event loop as often
        as a slow Redis: that request misses the cache, but only a connection error switches
        the worker to its in-process fallback."""
        if self.using_redis:
            try:
                value = await self._async_client()[0].get(key)
                self._ok()
                return value  # type: ignore[no-any-return]
            except redis.TimeoutError:
                return None
            except redis.RedisError as exc:
                self._failed(exc)
        return self.memory.get(key)

    async def aset(self, key: str, value: str, ttl_s: float | None = None) -> None:
        """``set`` without blocking the event loop (a timeout leaves the entry unwritten)."""
        if self.using_redis:
            try:
                px = int(ttl_s * 1000) if ttl_s else None
                await self._async_client()[0].set(key, value, px=px)
                self._ok()
                return
            except redis.TimeoutError:
                return
            except redis.RedisError as exc:
                self._failed(exc)
        self.memory.set(key, value, ttl_s)

    async def asliding_window(self, key: str, window_ms: int, limit: int) -> tuple[bool, int]:
        """``sliding_window`` without blocking the event loop."""
        if self.using_redis:
            try:
                now = int(time.time() * 1000)
                allowed, retry = await self._async_client()[1](
                    keys=[key], args=[now, window_ms, limit, f"{now}-{uuid.uuid4().hex[:8]}"]
                )
                self._ok()
                return bool(allowed), int(retry)
            except redis.TimeoutError:
                return True, 0  # as for a cache read: a busy loop is not a Redis outage
            except redis.RedisError as exc:
                self._failed(exc)
        return self.memory.sliding_window(key, window_ms, limit)

    def get(self, key: str) -> str | None:
        if self.using_redis:
            try:
                value = self._redis.get(key)
                self._ok()
                return value  # type: ignore[return-value]
            except redis.RedisError as exc:
                self._failed(exc)
        return self.memory.get(key)

    def set(self, key: str, value: str, ttl_s: float | None = None, nx: bool = False) -> bool:
        if self.using_redis:
            try:
                px = int(ttl_s * 1000) if ttl_s else None
                done = bool(self._redis.set(key, value, px=px, nx=nx))
                self._ok()
                return done
            except redis.RedisError as exc:
                self._failed(exc)
        return self.memory.set(key, value, ttl_s, nx)

    def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        gone = self.memory.delete(*keys)
        if self.using_redis:
            try:
                gone += int(self._redis.delete(*keys))  # type: ignore[arg-type]
            except redis.RedisError as exc:
                self._failed(exc)
        return gone

    def scan(self, pattern: str) -> Iterator[str]:
        """Keys matching ``pattern`` in both backends (SCAN, never KEYS, on Redis)."""
        yield from self.memory.keys(pattern)
        if self.using_redis:
            try:
                yield from self._redis.scan_iter(match=pattern, count=500)  # type: ignore[misc]
            except redis.RedisError as exc:
                self._failed(exc)

    def delete_matching(self, pattern: str) -> list[str]:
        """SCAN + DEL in batches; returns the deleted keys."""
        found = list(dict.fromkeys(self.scan(pattern)))
        for i in range(0, len(found), 500):
            self.delete(*found[i : i + 500])
        return found

    def acquire(self, key: str, ttl_ms: int) -> str | None:
        """A token when the lock is ours, None when someone holds it.

        Taken in this process first, then in Redis (SET NX PX): threads of one worker exclude
        each other even while Redis flaps between reachable and not, workers exclude each other
        while it is up.
        """
        token = uuid.uuid4().hex
        if not self.memory.set(key, token, ttl_ms / 1000, nx=True):
            return None
        if self.using_redis:
            try:
                taken = bool(self._redis.set(key, token, px=ttl_ms, nx=True))
                self._ok()
            except redis.RedisError as exc:
                self._failed(exc)  # degraded: this process's lock only
            else:
                if not taken:
                    self.memory.release(key, token)
                    return None
        return token

    def release(self, key: str, token: str) -> None:
        self.memory.release(key, token)
        if self.using_redis:
            try:
                self._release(keys=[key], args=[token])
            except redis.RedisError as exc:
                self._failed(exc)

    def sliding_window(self, key: str, window_ms: int, limit: int) -> tuple[bool, int]:
        """(allowed, retry_after_ms) for one request in the window, atomically."""
        if self.using_redis:
            try:
                now = int(time.time() * 1000)
                allowed, retry = self._window(
                    keys=[key], args=[now, window_ms, limit, f"{now}-{uuid.uuid4().hex[:8]}"]
                )
                self._ok()
                return bool(allowed), int(retry)
            except redis.RedisError as exc:
                self._failed(exc)
        return self.memory.sliding_window(key, window_ms, limit)

    def close(self) -> None:
        self._redis.close()

    async def aclose(self) -> None:
        if self._async is not None and self._async[0] is asyncio.get_running_loop():
            await self._async[1].aclose()
        self._async = None
