"""Rate limits on `limits`, shared through Redis when Redis is configured.

Replicas that each counted in memory would multiply the budget by their
number; with Redis they share one. If Redis fails, each process falls back to
its own in-memory count: weaker, but still a limit, and never an error.

The moving window keeps each hit's time, so a limit holds exactly over any
minute: right for small limits that guard something (logins). The fixed
window costs one counter a client and lets up to twice the limit through
around the turn of a window: right for a broad limit on every request.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from titanium.core.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # seconds until the next hit may pass; 0 when allowed


Strategy = MovingWindowRateLimiter | FixedWindowRateLimiter


class RateLimiter:
    # After the shared store fails, this process counts alone for this long
    # before it asks the store again, so a dead Redis costs requests nothing.
    PAUSE_SECONDS = 5.0

    def __init__(self, redis_url: str | None, prefix: str, *, exact: bool = True) -> None:
        strategy = MovingWindowRateLimiter if exact else FixedWindowRateLimiter
        self._local: Strategy = strategy(MemoryStorage())
        self._shared: Strategy | None = None
        self._paused_until = 0.0
        if redis_url:
            storage = RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                key_prefix=f"{prefix}:ratelimit",
                socket_timeout=0.5,
                socket_connect_timeout=0.5,
            )
            self._shared = strategy(storage)

    async def hit(self, limit: RateLimitItem, *identifiers: str) -> Decision:
        if self._shared is None or time.monotonic() < self._paused_until:
            return await self._hit(self._local, limit, identifiers)
        try:
            return await self._hit(self._shared, limit, identifiers)
        except Exception as exc:  # the shared store failing must not fail the request
            self._paused_until = time.monotonic() + self.PAUSE_SECONDS
            log.warning("shared rate limit store unavailable; counting in this process", error=repr(exc),
                        pause_seconds=self.PAUSE_SECONDS)
            return await self._hit(self._local, limit, identifiers)

    async def shared_store_ok(self) -> bool:
        """Whether the shared store answers (True when there is none to fail)."""
        if self._shared is None:
            return True
        try:
            return bool(await self._shared.storage.check())
        except Exception:
            return False

    @staticmethod
    async def _hit(limiter: Strategy, limit: RateLimitItem, identifiers: tuple[str, ...]) -> Decision:
        if await limiter.hit(limit, *identifiers):
            return Decision(True, 0)
        stats = await limiter.get_window_stats(limit, *identifiers)
        return Decision(False, max(1, math.ceil(stats.reset_time - time.time())))


def parse_limit(text: str) -> RateLimitItem:
    """A limit written as people write it: "5/minute", "100 per hour"."""
    return parse(text)
