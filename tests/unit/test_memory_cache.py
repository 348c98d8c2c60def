import asyncio

from tests.unit.clock import frozen_clock
from titanium.core import cache as cache_module
from titanium.core.cache import CachedNamespace, MemoryCache, SafeCache


async def test_entries_expire(monkeypatch):
    clock = frozen_clock(monkeypatch, cache_module)
    cache = MemoryCache()
    await cache.set("k", b"v", ttl=60)
    clock.advance(60)
    assert await cache.get("k") == b"v", "alive to the end of its time"
    clock.advance(0.001)
    assert await cache.get("k") is None


async def test_the_least_recently_used_entry_goes_first_when_full():
    cache = MemoryCache(max_entries=2)
    await cache.set("a", b"1", 60)
    await cache.set("b", b"2", 60)
    await cache.get("a")
    await cache.set("c", b"3", 60)
    assert await cache.get("b") is None
    assert await cache.get("a") == b"1" and await cache.get("c") == b"3"


async def test_add_sets_only_when_absent():
    cache = MemoryCache()
    assert await cache.add("k", b"1", 60) is True
    assert await cache.add("k", b"2", 60) is False
    assert await cache.get("k") == b"1"


async def test_a_bump_seeds_a_missing_counter_then_counts_on():
    cache = MemoryCache()
    await cache.add("present", b"7", 60)
    assert await cache.bump(["present", "absent"], b"100", 60)
    assert (await cache.get("present"), await cache.get("absent")) == (b"8", b"101")


def counting_loader(loads: list[int]):
    async def load():
        loads.append(len(loads) + 1)
        return {"n": loads[-1]}

    return load


async def test_a_family_loads_once_until_invalidated_and_others_stay_cached():
    namespace = CachedNamespace(SafeCache(MemoryCache()), "test", ttl=60, service="test")
    lists: list[int] = []
    post: list[int] = []
    assert await namespace.get_or_load("lists", "0:20", counting_loader(lists)) == b'{"n":1}'
    assert await namespace.get_or_load("lists", "0:20", counting_loader(lists)) == b'{"n":1}'
    assert await namespace.get_or_load("post:1", "", counting_loader(post)) == b'{"n":1}'
    await namespace.invalidate("lists")
    assert await namespace.get_or_load("lists", "0:20", counting_loader(lists)) == b'{"n":2}'
    assert await namespace.get_or_load("post:1", "", counting_loader(post)) == b'{"n":1}', "another family stays cached"
    assert (lists, post) == ([1, 2], [1])


async def test_concurrent_misses_of_one_key_share_one_load():
    namespace = CachedNamespace(SafeCache(MemoryCache()), "test", ttl=60, service="test")
    loads: list[int] = []

    async def slow_load():
        await asyncio.sleep(0.05)
        loads.append(1)
        return [len(loads)]

    answers = await asyncio.gather(*(namespace.get_or_load("lists", "k", slow_load) for _ in range(10)))
    assert answers == [b"[1]"] * 10 and loads == [1]


async def test_nothing_is_cached_for_a_missing_value():
    namespace = CachedNamespace(SafeCache(MemoryCache()), "test", ttl=60, service="test")
    loads: list[int] = []

    async def missing():
        loads.append(1)

    assert await namespace.get_or_load("post:9", "", missing) is None
    assert await namespace.get_or_load("post:9", "", missing) is None
    assert loads == [1, 1]
