"""Rate limits on `limits`, shared through Redis when Redis is configured.

Replicas that each counted in memory would multiply the budget by their
number; with Redis they share one. If Redis fails, each process falls back to
its own in-memory count: weaker, but still a limit, and never an error.

The moving window keeps each hit's time, so a limit holds exactly over any
minute: right for small limits that guard something (logins). The fixed
window costs one counter a client and lets up to twice the limit through
around the turn of a window: right for a broad limit on every request, where
it is shared through Redis in batches rather than a round trip a request.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from titanium.core.breaker import Breaker, DependencyDown


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # seconds until the next hit may pass; 0 when allowed


Strategy = MovingWindowRateLimiter | FixedWindowRateLimiter


@dataclass
class _Window:
    """One client's fixed window as this process knows it."""

    ends_at: float  # wall-clock time (every replica agrees on window edges)
    shared: int = 0  # hits of every replica, as of the last flush
    pending: int = 0  # this process's hits since then


class BatchedFixedWindow:
    """A fixed-window limit counted in this process and added to the shared store in batches.

    Asking Redis on every request cost the gateway a fifth of its time. Each
    process counts its own hits and adds them to the shared counter every
    FLUSH_SECONDS, one round trip per active client, learning the other
    replicas' hits from the answer. A hit passes while the last shared total
    plus this process's hits since stay within the limit. Replicas together
    may let through what they admit within one flush interval beyond the
    limit: fine for a broad guard against floods. Windows are aligned to the
    clock, so every replica counts into the same one.
    """

    FLUSH_SECONDS = 0.1

    def __init__(self, storage: RedisStorage, breaker: Breaker) -> None:
        self.storage = storage
        self.breaker = breaker
        self._windows: dict[str, _Window] = {}
        self._expiries: dict[str, int] = {}
        self._flusher: asyncio.Task[None] | None = None

    def hit(self, limit: RateLimitItem, identifiers: tuple[str, ...]) -> Decision:
        now = time.time()
        expiry = limit.get_expiry()
        key = f"{limit.key_for(*identifiers)}/{int(now // expiry)}"
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(ends_at=(now // expiry + 1) * expiry)
            self._expiries[key] = expiry
        if window.shared + window.pending >= limit.amount:
            return Decision(False, max(1, math.ceil(window.ends_at - now)))
        window.pending += 1
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_while_pending())
        return Decision(True, 0)

    async def flushed(self) -> None:
        """Once every hit counted here has been added to the shared store (or a flush failed): for tests."""
        if self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def _flush_while_pending(self) -> None:
        while True:
            await asyncio.sleep(self.FLUSH_SECONDS)
            now = time.time()
            for key in [key for key, window in self._windows.items() if window.ends_at <= now]:
                del self._windows[key], self._expiries[key]
            due = [(key, window) for key, window in self._windows.items() if window.pending]
            if not due:
                return
            if not self.breaker.available:
                continue  # the store failed a moment ago: count here alone for now
            totals = await asyncio.gather(*(self._add(key, window) for key, window in due), return_exceptions=True)
            failures = [total for total in totals if isinstance(total, BaseException)]
            if failures:
                self.breaker.trip(failures[0])

    async def _add(self, key: str, window: _Window) -> None:
        pending, window.pending = window.pending, 0
        try:
            window.shared = await self.storage.incr(key, self._expiries[key], amount=pending)
        except Exception:
            window.pending += pending  # still counted here; added to the store at the next flush
            raise


class RateLimiter:
    def __init__(self, redis_url: str | None, prefix: str, *, exact: bool = True) -> None:
        strategy = MovingWindowRateLimiter if exact else FixedWindowRateLimiter
        self._local: Strategy = strategy(MemoryStorage())
        self._shared: Strategy | None = None
        self._batched: BatchedFixedWindow | None = None
        # While the shared store is failing, this process counts alone (core/breaker.py).
        self.breaker = Breaker("shared rate limit store")
        if redis_url:
            storage = RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                key_prefix=f"{prefix}:ratelimit",
                socket_timeout=0.5,
                socket_connect_timeout=0.5,
            )
            if exact:
                self._shared = strategy(storage)
            else:
                self._batched = BatchedFixedWindow(storage, self.breaker)

    async def flushed(self) -> None:
        """Once the hits this process batched have reached the shared store (see BatchedFixedWindow.flushed)."""
        if self._batched is not None:
            await self._batched.flushed()

    async def hit(self, limit: RateLimitItem, *identifiers: str) -> Decision:
        """Count one against the limit; whether it was within it."""
        if self._batched is not None:
            return self._batched.hit(limit, identifiers)
        return await self._on_store(self._hit, limit, identifiers)

    async def exhausted(self, limit: RateLimitItem, *identifiers: str) -> bool:
        """Whether the limit is spent, counting nothing (exact limiters only)."""
        return not (await self._on_store(self._test, limit, identifiers)).allowed

    async def _on_store(self, operation: Callable[[Strategy, RateLimitItem, tuple[str, ...]], Awaitable[Decision]],
                        limit: RateLimitItem, identifiers: tuple[str, ...]) -> Decision:
        """The operation on the shared store, or on this process's while the shared one is failing."""
        if self._shared is None:
            return await operation(self._local, limit, identifiers)
        shared = self._shared
        try:
            return await self.breaker.call(lambda: operation(shared, limit, identifiers))
        except DependencyDown:  # the shared store failing must not fail the request
            return await operation(self._local, limit, identifiers)

    async def shared_store_ok(self) -> bool:
        """Whether the shared store answers (True when there is none to fail)."""
        storage = self._batched.storage if self._batched else self._shared.storage if self._shared else None
        if storage is None:
            return True
        try:
            return bool(await storage.check())
        except Exception:
            return False

    @staticmethod
    async def _test(limiter: Strategy, limit: RateLimitItem, identifiers: tuple[str, ...]) -> Decision:
        return Decision(await limiter.test(limit, *identifiers), 0)

    @staticmethod
    async def _hit(limiter: Strategy, limit: RateLimitItem, identifiers: tuple[str, ...]) -> Decision:
        if await limiter.hit(limit, *identifiers):
            return Decision(True, 0)
        stats = await limiter.get_window_stats(limit, *identifiers)
        return Decision(False, max(1, math.ceil(stats.reset_time - time.time())))


def parse_limit(text: str) -> RateLimitItem:
    """A limit written as people write it: "5/minute", "100 per hour"."""
    return parse(text)
