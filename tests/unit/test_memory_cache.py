import asyncio

from titanium.core.cache import CachedNamespace, MemoryCache, SafeCache


async def test_entries_expire():
    cache = MemoryCache()
    await cache.set("k", "v", ttl=0.05)
    assert await cache.get("k") == "v"
    await asyncio.sleep(0.08)
    assert await cache.get("k") is None


async def test_the_least_recently_used_entry_goes_first_when_full():
    cache = MemoryCache(max_entries=2)
    await cache.set("a", "1", 60)
    await cache.set("b", "2", 60)
    await cache.get("a")
    await cache.set("c", "3", 60)
    assert await cache.get("b") is None
    assert await cache.get("a") == "1" and await cache.get("c") == "3"


async def test_add_sets_only_when_absent():
    cache = MemoryCache()
    assert await cache.add("k", "1") is True
    assert await cache.add("k", "2") is False
    assert await cache.incr("k") == 2


async def test_a_namespace_loads_once_until_invalidated():
    namespace = CachedNamespace(SafeCache(MemoryCache()), "test", ttl=60, service="test")
    loads = []

    async def load():
        loads.append(1)
        return {"n": len(loads)}

    assert await namespace.get_or_load("key", load) == {"n": 1}
    assert await namespace.get_or_load("key", load) == {"n": 1}
    await namespace.invalidate()
    assert await namespace.get_or_load("key", load) == {"n": 2}
    assert len(loads) == 2
