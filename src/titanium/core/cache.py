"""A small cache interface: Redis in production, in-process on a laptop.

A cache is an optimisation, never a dependency: `SafeCache` turns every
failure into a miss (logged, and with a short pause before Redis is tried
again, so that a dead Redis costs each request nothing). A slow Redis is a
failing one: a call that takes longer than CALL_DEADLINE_SECONDS fails, and
opens the same pause. Meanwhile a cache of this process's own answers, whose
entries live at most FALLBACK_TTL_SECONDS: the database is not left to take
every read alone (it served a sixth of the cached throughput), and what
another replica writes meanwhile shows here within those seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from titanium.core.breaker import Breaker, DependencyDown
from titanium.core.logging import get_logger
from titanium.core.metrics import CACHE_AVAILABLE, CACHE_LOOKUPS

if TYPE_CHECKING:  # imported where a Redis is configured: a laptop's blog never loads the client
    import redis.asyncio as redis

log = get_logger(__name__)


class Cache(Protocol):
    kind: str

    async def get(self, key: str) -> bytes | None: ...
    async def get_versioned(self, generation_key: str, key: str) -> tuple[bytes | None, bytes | None]:
        """The generation stored at `generation_key`, and the value of `generation_key:<generation>:key`."""
    async def set(self, key: str, value: bytes, ttl: float) -> None: ...
    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        """Set the key only where it is absent."""
    async def bump(self, keys: list[str], seed: bytes, ttl: float) -> bool:
        """Add one to each counter of `keys`, first setting one that is absent to `seed` (expiring after `ttl`); True."""
    async def ping(self) -> bool: ...
    async def close(self) -> None: ...


def versioned_key(generation_key: str, generation: bytes, key: str) -> str:
    return f"{generation_key}:{generation.decode()}:{key}"


class MemoryCache:
    """A bounded LRU with per-entry expiry, for one process."""

    kind = "memory"

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max_entries = max_entries

    async def get(self, key: str) -> bytes | None:
        return self._get(key)

    async def get_versioned(self, generation_key: str, key: str) -> tuple[bytes | None, bytes | None]:
        generation = self._get(generation_key)
        if generation is None:
            return None, None
        return generation, self._get(versioned_key(generation_key, generation, key))

    def _get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at < time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self._store(key, value, time.monotonic() + ttl)

    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        if self._get(key) is not None:
            return False
        self._store(key, value, time.monotonic() + ttl)
        return True

    async def bump(self, keys: list[str], seed: bytes, ttl: float) -> bool:
        for key in keys:
            current = self._get(key)
            if current is None:
                self._store(key, seed, time.monotonic() + ttl)
            value = int(current or seed) + 1
            self._store(key, str(value).encode(), self._entries[key][0])
        return True

    def _store(self, key: str, value: bytes, expires_at: float) -> None:
        self._entries[key] = (expires_at, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._entries.clear()


# Every counter a write moves, in one round trip.
_BUMP = """
for _, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2])
  redis.call('INCR', key)
end
return #KEYS
"""


class GatheredReads:
    """GETs gathered into one MGET a round trip, each answered by a read sent after it was asked.

    While one MGET is on its way, the keys asked for meanwhile wait and go
    together in the next. A caller never gets a value read before it asked,
    so a write acknowledged before a read began is always seen (as with one
    GET each), at a fraction of the client's per-command cost under load.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._waiting: dict[str, list[asyncio.Future[bytes | None]]] = {}
        self._sending: asyncio.Task[None] | None = None  # the task that sends while callers wait

    async def get(self, key: str) -> bytes | None:
        answer: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(answer)
        if self._sending is None:
            self._sending = asyncio.ensure_future(self._send_while_waiting())
        return await answer

    async def _send_while_waiting(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, {}
                try:
                    values = await self._client.mget(list(batch))
                except Exception as exc:  # every caller of this batch gets the failure
                    for answers in batch.values():
                        _settle(answers, exception=exc)
                    continue
                for answers, value in zip(batch.values(), values, strict=True):
                    assert value is None or isinstance(value, bytes)  # the client does not decode
                    _settle(answers, value=value)
        finally:
            self._sending = None


def _settle(answers: list[asyncio.Future[bytes | None]], value: bytes | None = None, exception: Exception | None = None) -> None:
    for answer in answers:
        if answer.done():  # its caller gave up and cancelled it
            continue
        if exception is None:
            answer.set_result(value)
        else:
            answer.set_exception(exception)


class RedisCache:
    """Redis, with the versioned entries this process has seen kept in memory too.

    An entry under a generation never changes (a write moves the generation
    instead), so a copy held here is as good as Redis's own for as long as the
    generation stands: a read asks Redis for the generation alone, a few
    bytes, and takes the entry from here. The generation still comes from
    Redis, so every replica sees a write at once; concurrent reads share
    their round trips (`GatheredReads`).
    """

    kind = "redis"

    def __init__(self, client: redis.Redis, prefix: str, local_entries: int = 1000, local_ttl: float = 60.0) -> None:
        self._client = client
        self._prefix = prefix
        self._bump = client.register_script(_BUMP)
        self._local = MemoryCache(max_entries=local_entries)
        self._local_ttl = local_ttl
        self._gathered = GatheredReads(client)

    def _key(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    async def get(self, key: str) -> bytes | None:
        value = await self._client.get(self._key(key))
        assert value is None or isinstance(value, bytes)  # the client does not decode
        return value

    async def get_versioned(self, generation_key: str, key: str) -> tuple[bytes | None, bytes | None]:
        generation = await self._gathered.get(self._key(generation_key))
        if generation is None:
            return None, None
        entry_key = versioned_key(generation_key, generation, key)
        value = await self._local.get(entry_key)
        if value is None:
            value = await self._gathered.get(self._key(entry_key))
            if value is not None:
                await self._local.set(entry_key, value, self._local_ttl)
        return generation, value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self._client.set(self._key(key), value, px=int(ttl * 1000))

    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        return bool(await self._client.set(self._key(key), value, nx=True, px=int(ttl * 1000)))

    async def bump(self, keys: list[str], seed: bytes, ttl: float) -> bool:
        await self._bump(keys=[self._key(key) for key in keys], args=[seed, int(ttl * 1000)])
        return True

    async def ping(self) -> bool:
        return bool(await self._client.ping())

    async def close(self) -> None:
        await self._client.aclose()


def redis_client(url: str) -> redis.Redis:
    """A pooled client with short timeouts: a slow Redis must not slow a request.

    When all 50 connections are busy, a command waits up to the same timeout
    for one (the plain pool would fail it at once, and a failure pauses the cache).
    """
    import redis.asyncio as redis

    pool = redis.BlockingConnectionPool.from_url(
        url,
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
        health_check_interval=15,
        max_connections=50,
        timeout=0.5,
    )
    return redis.Redis(connection_pool=pool)


class SafeCache:
    """Wraps a cache so that its failures (and slowness) are logged misses, never errors (core/breaker.py)."""

    # A healthy Redis answers in well under a millisecond; a call this slow
    # would cost the request more than the database it saves.
    CALL_DEADLINE_SECONDS = 0.15
    # While the shared cache is out, this process's own entries live no longer:
    # the most that another replica's write can take to show here.
    FALLBACK_TTL_SECONDS = 2.0
    _WITH_TTL = frozenset({"set", "add", "bump"})  # operations whose last argument is a ttl

    def __init__(self, inner: Cache, fallback: Cache | None = None) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.fallback = fallback
        self.breaker = Breaker("cache", deadline_seconds=self.CALL_DEADLINE_SECONDS)

    @property
    def available(self) -> bool:
        return self.breaker.available

    async def _call(self, operation: str, default: Any, *args: Any) -> Any:
        try:
            return await self.breaker.call(lambda: getattr(self.inner, operation)(*args))
        except DependencyDown:
            return await self._on_fallback(operation, default, args)

    async def _on_fallback(self, operation: str, default: Any, args: tuple[Any, ...]) -> Any:
        """The operation on this process's short-lived cache; what the caller sees of the shared one is `default`."""
        if self.fallback is None:
            return default
        if operation in self._WITH_TTL:
            args = (*args[:-1], min(args[-1], self.FALLBACK_TTL_SECONDS))
        answer = await getattr(self.fallback, operation)(*args)
        return default if operation == "bump" else answer  # a bump the shared cache missed is still owed

    async def get(self, key: str) -> bytes | None:
        return await self._call("get", None, key)

    async def get_versioned(self, generation_key: str, key: str) -> tuple[bytes | None, bytes | None]:
        return await self._call("get_versioned", (None, None), generation_key, key)

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self._call("set", None, key, value, ttl)

    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        return await self._call("add", False, key, value, ttl)

    async def bump(self, keys: list[str], seed: bytes, ttl: float) -> bool:
        """Whether the cache took the bump."""
        return bool(await self._call("bump", False, keys, seed, ttl))

    async def status(self) -> str:
        """"ok"; "slow" when it answers past the call deadline; "error" when it does not answer (checked now)."""
        try:
            async with asyncio.timeout(1.0):
                started = time.monotonic()
                answered = await self.inner.ping()
        except Exception:
            return "error"
        if not answered:
            return "error"
        return "slow" if time.monotonic() - started > self.CALL_DEADLINE_SECONDS else "ok"

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.inner.close()


def build_cache(redis_url: str | None, prefix: str, entry_ttl: float = 60.0) -> SafeCache:
    """Redis when it is configured, else this process's memory; `entry_ttl` bounds how long a copy is kept here."""
    if redis_url:
        return SafeCache(RedisCache(redis_client(redis_url), prefix, local_ttl=entry_ttl), fallback=MemoryCache())
    return SafeCache(MemoryCache())


# How often a process that owes the shared cache a bump looks whether it is back (it is skipped for a
# pause after a failure, core/breaker.py).
PAYMENT_RETRY_SECONDS = 0.5


class CachedNamespace:
    """Cache-aside for families of keys, each family invalidated on its own; values kept as JSON bytes.

    A family ("the post lists", "post 7") has a generation number, and its
    keys carry it; a write bumps the generations of the families it changes,
    so every older entry of those is unreachable at once (and expires on its
    own) while the other families stay cached. A reader that loaded from the
    database before a write stores its answer under the old generation, where
    nobody looks again: no stale answer outlives a write.

    Values are kept and returned as the JSON bytes an answer sends, so a hit
    costs no decoding and no encoding. Concurrent misses of one key in this
    process share one load.
    """

    def __init__(self, cache: SafeCache, name: str, ttl: float, service: str) -> None:
        self.cache = cache
        self.name = name
        self.ttl = ttl
        # A generation outlives every entry it versions; if it is evicted
        # anyway, the next one is seeded from the clock, above any before it.
        self.generation_ttl = max(10 * ttl, 3600.0)
        self._hits = CACHE_LOOKUPS.labels(service, "hit")
        self._misses = CACHE_LOOKUPS.labels(service, "miss")
        # Read when scraped: 0 while the breaker skips the shared store after a failure.
        CACHE_AVAILABLE.labels(service).set_function(lambda: 1.0 if cache.available else 0.0)
        self._loading: dict[str, asyncio.Future[bytes | None]] = {}
        # Families whose bump a write could not make: until it goes through,
        # this process must not trust what the cache holds.
        self._bumps_owed: set[str] = set()
        self._paying: asyncio.Task[None] | None = None

    def _generation_key(self, family: str) -> str:
        return f"{self.name}:{family}"

    async def get_or_load(self, family: str, key: str, load: Callable[[], Awaitable[Any]]) -> bytes | None:
        """The JSON of `key` in `family`: cached, or loaded (None when `load` gives None, which is not cached)."""
        if self._bumps_owed:
            # Until they are paid, the shared cache is out and these reads
            # go to this process's own, which took the bumps already.
            await self._pay_bumps_owed()
        generation_key = self._generation_key(family)
        generation, cached = await self.cache.get_versioned(generation_key, key)
        if generation is None:
            generation = await self._seed_generation(generation_key)
            if generation is None:  # cache unavailable: the database answers alone
                return _encode(await load())
        if cached is not None:
            self._hits.inc()
            return cached
        self._misses.inc()
        return await self._load_once(versioned_key(generation_key, generation, key), load)

    async def _seed_generation(self, generation_key: str) -> bytes | None:
        await self.cache.add(generation_key, str(time.time_ns()).encode(), self.generation_ttl)
        return await self.cache.get(generation_key)

    async def _load_once(self, full_key: str, load: Callable[[], Awaitable[Any]]) -> bytes | None:
        loading = self._loading.get(full_key)
        if loading is None:
            loading = asyncio.ensure_future(self._load_and_store(full_key, load))
            self._loading[full_key] = loading
            loading.add_done_callback(lambda _done: self._loading.pop(full_key, None))
        # Shielded: one waiter that gives up does not cancel the load for the others.
        return await asyncio.shield(loading)

    async def _load_and_store(self, full_key: str, load: Callable[[], Awaitable[Any]]) -> bytes | None:
        value = _encode(await load())
        if value is not None:
            await self.cache.set(full_key, value, self.ttl)
        return value

    async def invalidate(self, *families: str) -> None:
        """Drop every entry of these families (a write changed them)."""
        if not await self._bump(families):
            self._bumps_owed.update(families)
            if self._paying is None or self._paying.done():
                self._paying = asyncio.create_task(self._pay_when_back())

    async def _pay_when_back(self) -> None:
        """Pay the bumps owed as soon as the shared cache is back, not at this process's next read: the other
        processes read the old generation until then (a write's bump missed on a busy machine, a rename another
        process went on serving while this one had no read to serve)."""
        while True:  # the shared cache gives no sign of its return: looked at
            await asyncio.sleep(PAYMENT_RETRY_SECONDS)
            await self._pay_bumps_owed()
            if not self._bumps_owed:
                return

    async def _pay_bumps_owed(self) -> None:
        # While the shared cache is paused, trying would only bump this
        # process's own copies again (they took the bumps at write time) and
        # make every read of those families a miss.
        if self.cache.available and await self._bump(self._bumps_owed):
            self._bumps_owed.clear()

    async def _bump(self, families: Iterable[str]) -> bool:
        """Move the families to new generations; whether the cache took it."""
        # A missing counter is seeded from the clock first: an INCR on a
        # missing key would restart at 1 and could meet entries an earlier
        # generation 1 left behind.
        keys = [self._generation_key(family) for family in families]
        return await self.cache.bump(keys, str(time.time_ns()).encode(), self.generation_ttl)


def _encode(value: Any) -> bytes | None:
    return None if value is None else orjson.dumps(value)
