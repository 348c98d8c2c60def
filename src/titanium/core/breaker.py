"""The one rule for a dependency that fails: leave it alone for a while, then try again.

A cache, a key store or a rate limit store that fails (or answers too
slowly) is skipped for `pause_seconds` after each failure, so that a dead
Redis costs each request nothing instead of a time-out; the caller falls
back on what it can do alone. Every such dependency of the platform goes
through a `Breaker`, with the same behaviour and the same log line.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from titanium.core.logging import get_logger

log = get_logger(__name__)
T = TypeVar("T")


class DependencyDown(Exception):
    """The dependency failed just now, or is being left alone after a failure."""


class Breaker:
    def __init__(self, name: str, *, pause_seconds: float = 5.0, deadline_seconds: float | None = None) -> None:
        self.name = name
        self.pause_seconds = pause_seconds
        self.deadline_seconds = deadline_seconds  # a call slower than this is a failure
        self._paused_until = 0.0

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._paused_until

    async def call(self, work: Callable[[], Awaitable[T]]) -> T:
        """`work()`'s result; DependencyDown when the dependency is paused, or fails now (which pauses it)."""
        if not self.available:
            raise DependencyDown(f"{self.name} is paused after a failure")
        try:
            if self.deadline_seconds is None:
                return await work()
            async with asyncio.timeout(self.deadline_seconds):
                return await work()
        except Exception as exc:
            self.trip(exc)
            raise DependencyDown(f"{self.name}: {exc!r}") from exc

    def trip(self, error: BaseException) -> None:
        """Leave the dependency alone for the pause (a failure seen by the caller itself)."""
        self._paused_until = time.monotonic() + self.pause_seconds
        log.warning(f"{self.name} unavailable; skipped for a while", error=repr(error), pause_seconds=self.pause_seconds)
