"""The one breaker (core/breaker.py): a dependency that fails, or answers too slowly, is left alone for a pause."""

from __future__ import annotations

import asyncio

import pytest

from tests.unit.clock import frozen_clock
from titanium.core import breaker as breaker_module
from titanium.core.breaker import Breaker, DependencyDown


async def test_a_failure_pauses_the_dependency_and_calls_meanwhile_fail_at_once(monkeypatch):
    clock = frozen_clock(monkeypatch, breaker_module)
    breaker = Breaker("store", pause_seconds=5)
    calls = 0

    async def failing() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionRefusedError("no")

    with pytest.raises(DependencyDown):
        await breaker.call(failing)
    assert not breaker.available
    with pytest.raises(DependencyDown):
        await breaker.call(failing)
    assert calls == 1, "not asked again during the pause"
    clock.advance(4.9)
    assert not breaker.available
    clock.advance(0.1)
    assert breaker.available


async def test_a_call_slower_than_the_deadline_is_a_failure():
    breaker = Breaker("cache", pause_seconds=5, deadline_seconds=0.05)

    async def slow() -> str:
        await asyncio.sleep(1)
        return "late"

    with pytest.raises(DependencyDown):
        await breaker.call(slow)
    assert not breaker.available


async def test_a_good_call_gives_its_result():
    breaker = Breaker("cache", deadline_seconds=1)

    async def good() -> str:
        return "value"

    assert await breaker.call(good) == "value" and breaker.available
