"""Rate limits on `limits`, shared through Redis when Redis is configured.

Replicas that each counted in memory would multiply the budget by their
number; with Redis they share one. If Redis fails, each process falls back to
its own in-memory count: weaker, but still a limit, and never an error.

The moving window keeps each hit's time, so a limit holds exactly over any
minute; the cheaper window counters let a burst through around the turn of
a window, and login limits are small enough for the exact count.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from titanium.core.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # seconds until the next hit may pass; 0 when allowed


class RateLimiter:
    def __init__(self, redis_url: str | None, prefix: str) -> None:
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._shared: MovingWindowRateLimiter | None = None
        if redis_url:
            storage = RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                key_prefix=f"{prefix}:ratelimit",
                socket_timeout=0.5,
                socket_connect_timeout=0.5,
            )
            self._shared = MovingWindowRateLimiter(storage)

    async def hit(self, limit: RateLimitItem, *identifiers: str) -> Decision:
        limiter = self._shared or self._local
        try:
            return await self._hit(limiter, limit, identifiers)
        except Exception as exc:
            log.warning("shared rate limit store unavailable; counting in this process", error=repr(exc))
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
    async def _hit(limiter: MovingWindowRateLimiter, limit: RateLimitItem, identifiers: tuple[str, ...]) -> Decision:
        if await limiter.hit(limit, *identifiers):
            return Decision(True, 0)
        stats = await limiter.get_window_stats(limit, *identifiers)
        return Decision(False, max(1, math.ceil(stats.reset_time - time.time())))


def parse_limit(text: str) -> RateLimitItem:
    """A limit written as people write it: "5/minute", "100 per hour"."""
    return parse(text)
