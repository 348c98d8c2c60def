"""A clock a test moves by hand, for code that reads `time.monotonic()`: its pauses and lifetimes are
checked without sleeping, and a test process that is not scheduled for a while on a busy machine sees
no time pass that the test did not ask for."""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any

import pytest


class Clock:
    """Stands in for the `time` module of the code under test: `monotonic()` is the hand's, the rest is time's."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def frozen_clock(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> Clock:
    """A Clock as `module`'s `time` (the event loop keeps the real one: its sleeps and time-outs still run)."""
    clock = Clock()
    monkeypatch.setattr(module, "time", clock)
    return clock
