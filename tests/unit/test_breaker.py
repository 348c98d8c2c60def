"""The one breaker (core/breaker.py): a dependency that fails, or answers too slowly, is left alone for a pause."""

from __future__ import annotations

import asyncio

import pytest

from titanium.core.breaker import Breaker, DependencyDown


async def test_a_failure_pauses_the_dependency_and_calls_meanwhile_fail_at_once():
    breaker = Breaker("store", pause_seconds=0.2)
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
    await asyncio.sleep(0.25)
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
