"""A small cache interface: Redis in production, in-process on a laptop.

A cache is an optimisation, never a dependency: `SafeCache` turns every
failure into a miss (logged, and with a short pause before Redis is tried
again, so that a dead Redis costs each request nothing).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import redis.asyncio as redis

from titanium.core.logging import get_logger
from titanium.core.metrics import CACHE_LOOKUPS

log = get_logger(__name__)


class Cache(Protocol):
    kind: str

    async def get(self, key: str) -> str | None: ...
    async def set(self, key: str, value: str, ttl: float) -> None: ...
    async def add(self, key: str, value: str) -> bool:
        """Set the key, without expiry, only where it is absent."""
    async def incr(self, key: str) -> int: ...
    async def ping(self) -> bool: ...
    async def close(self) -> None: ...


class MemoryCache:
    """A bounded LRU with per-entry expiry, for one process."""

    kind = "memory"

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._max_entries = max_entries

    async def get(self, key: str) -> str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at < time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: str, ttl: float) -> None:
        self._store(key, value, time.monotonic() + ttl)

    async def add(self, key: str, value: str) -> bool:
        if await self.get(key) is not None:
            return False
        self._store(key, value, float("inf"))
        return True

    async def incr(self, key: str) -> int:
        current = await self.get(key)
        value = int(current or 0) + 1
        self._store(key, str(value), self._entries.get(key, (float("inf"), ""))[0])
        return value

    def _store(self, key: str, value: str, expires_at: float) -> None:
        self._entries[key] = (expires_at, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._entries.clear()


class RedisCache:
    kind = "redis"

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    async def get(self, key: str) -> str | None:
        value = await self._client.get(self._key(key))
        return value.decode() if isinstance(value, bytes) else value

    async def set(self, key: str, value: str, ttl: float) -> None:
        await self._client.set(self._key(key), value, px=int(ttl * 1000))

    async def add(self, key: str, value: str) -> bool:
        return bool(await self._client.set(self._key(key), value, nx=True))

    async def incr(self, key: str) -> int:
        return int(await self._client.incr(self._key(key)))

    async def ping(self) -> bool:
        return bool(await self._client.ping())

    async def close(self) -> None:
        await self._client.aclose()


def redis_client(url: str) -> redis.Redis:
    """A pooled client with short timeouts: a slow Redis must not slow a request."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
        health_check_interval=15,
        max_connections=50,
    )


class SafeCache:
    """Wraps a cache so that its failures are logged misses, never errors."""

    # After a failure, the cache is skipped for this long before it is tried again.
    PAUSE_SECONDS = 5.0

    def __init__(self, inner: Cache) -> None:
        self.inner = inner
        self.kind = inner.kind
        self._paused_until = 0.0

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._paused_until

    async def _call(self, operation: str, default: Any, *args: Any) -> Any:
        if not self.available:
            return default
        try:
            return await getattr(self.inner, operation)(*args)
        except Exception as exc:
            self._paused_until = time.monotonic() + self.PAUSE_SECONDS
            log.warning("cache unavailable", operation=operation, error=repr(exc), pause_seconds=self.PAUSE_SECONDS)
            return default

    async def get_json(self, key: str) -> Any | None:
        raw = await self._call("get", None, key)
        return None if raw is None else json.loads(raw)

    async def set_json(self, key: str, value: Any, ttl: float) -> None:
        await self._call("set", None, key, json.dumps(value, default=str), ttl)

    async def get(self, key: str) -> str | None:
        return await self._call("get", None, key)

    async def add(self, key: str, value: str) -> bool:
        return await self._call("add", False, key, value)

    async def incr(self, key: str) -> int | None:
        return await self._call("incr", None, key)

    async def status(self) -> str:
        """"ok", or "error" when the cache does not answer (checked now, not from the pause)."""
        try:
            return "ok" if await self.inner.ping() else "error"
        except Exception:
            return "error"

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.inner.close()


def build_cache(redis_url: str | None, prefix: str) -> SafeCache:
    if redis_url:
        return SafeCache(RedisCache(redis_client(redis_url), prefix))
    return SafeCache(MemoryCache())


class CachedNamespace:
    """Cache-aside for a family of keys that one write invalidates together.

    Keys carry the namespace's generation; a write bumps it, so every older
    entry is unreachable at once (and expires on its own). A reader that
    loaded from the database before a write stores its answer under the old
    generation, where nobody looks again: no stale answer outlives a write.
    """

    def __init__(self, cache: SafeCache, name: str, ttl: float, service: str) -> None:
        self.cache = cache
        self.name = name
        self.ttl = ttl
        self.service = service
        self._generation_key = f"{name}:generation"
        # Set when a write could not bump the generation: until a bump goes
        # through, this process must not trust what the cache holds.
        self._bump_owed = False

    async def _generation(self) -> str | None:
        generation = await self.cache.get(self._generation_key)
        if generation is None and await self.cache.add(self._generation_key, str(time.time_ns())):
            generation = await self.cache.get(self._generation_key)
        return generation

    async def get_or_load(self, key: str, load: Callable[[], Awaitable[Any]]) -> Any:
        if self._bump_owed and not await self._bump():
            return await load()
        generation = await self._generation()
        if generation is None:  # cache unavailable: the database answers alone
            return await load()
        full_key = f"{self.name}:{generation}:{key}"
        cached = await self.cache.get_json(full_key)
        CACHE_LOOKUPS.labels(self.service, "miss" if cached is None else "hit").inc()
        if cached is not None:
            return cached
        value = await load()
        await self.cache.set_json(full_key, value, self.ttl)
        return value

    async def invalidate(self) -> None:
        self._bump_owed = not await self._bump()

    async def _bump(self) -> bool:
        """Move to a new generation; whether the cache took it."""
        # Seed the counter first: an INCR on a missing key would restart at 1
        # and could meet entries an earlier generation 1 left behind.
        await self.cache.add(self._generation_key, str(time.time_ns()))
        bumped = await self.cache.incr(self._generation_key) is not None
        self._bump_owed = not bumped
        return bumped
