"""The cache on a real Redis, and what happens when Redis is not there."""

import asyncio

import pytest
import redis.asyncio as redis

from tests.unit.clock import frozen_clock
from titanium.core import cache as cache_module
from titanium.core.cache import CachedNamespace, GatheredReads, RedisCache, SafeCache, build_cache, redis_client

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def cache_on_redis(server: str, prefix: str, deadline: float = 5.0) -> SafeCache:
    """A cache on the test Redis whose calls fail when Redis fails, not when a busy machine is slow to answer:
    the deadline itself (0.15 s) is tested with a dead Redis here and a slow one in tests/faults/test_slow_redis.py."""
    cache = SafeCache(RedisCache(redis_client(server), prefix))
    cache.breaker.deadline_seconds = deadline
    return cache


@pytest.fixture
async def redis_cache(redis_server, redis_prefix):
    cache = cache_on_redis(redis_server, redis_prefix)
    yield cache
    await cache.close()


def counting_loader(values):
    async def load():
        values.append(len(values) + 1)
        return {"loaded": values[-1]}

    return load


async def test_values_are_shared_between_two_clients_and_invalidated_for_both(redis_server, redis_prefix):
    first = CachedNamespace(cache_on_redis(redis_server, redis_prefix), "shared", 60, "test")
    second = CachedNamespace(cache_on_redis(redis_server, redis_prefix), "shared", 60, "test")
    loads: list[int] = []
    other: list[int] = []
    assert await first.get_or_load("f", "k", counting_loader(loads)) == b'{"loaded":1}'
    assert await second.get_or_load("f", "k", counting_loader(loads)) == b'{"loaded":1}'
    assert await first.get_or_load("g", "k", counting_loader(other)) == b'{"loaded":1}'
    await second.invalidate("f")
    assert await first.get_or_load("f", "k", counting_loader(loads)) == b'{"loaded":2}'
    assert await second.get_or_load("g", "k", counting_loader(other)) == b'{"loaded":1}', "family g stays cached"
    assert loads == [1, 2] and other == [1]
    await first.cache.close()
    await second.cache.close()


async def test_entries_expire_in_redis(redis_cache):
    # Redis keeps the time here: long enough that a test process not scheduled for a while on a busy
    # machine still reads the entry before it lapses (0.2 s was not).
    await redis_cache.set("short", b'{"a":1}', ttl=2)
    assert await redis_cache.get("short") == b'{"a":1}'
    assert 0 < await redis_cache.inner._client.pttl(f"{redis_cache.inner._prefix}:short") <= 2000
    await asyncio.sleep(2.1)
    assert await redis_cache.get("short") is None


async def test_a_dead_redis_is_not_an_error_and_reads_go_to_a_short_lived_cache_of_this_process(monkeypatch):
    clock = frozen_clock(monkeypatch, cache_module)  # the process's own cache keeps time here: moved by hand
    cache = build_cache(DEAD_REDIS, "titanium-test")
    namespace = CachedNamespace(cache, "dead", 60, "test")
    loads: list[int] = []
    assert await namespace.get_or_load("f", "k", counting_loader(loads)) == b'{"loaded":1}'
    assert await namespace.get_or_load("f", "k", counting_loader(loads)) == b'{"loaded":1}', "not every read a load"
    await namespace.invalidate("f")
    assert await namespace.get_or_load("f", "k", counting_loader(loads)) == b'{"loaded":2}', "a write here shows at once"
    clock.advance(cache.FALLBACK_TTL_SECONDS + 0.001)
    assert await namespace.get_or_load("f", "k", counting_loader(loads)) == b'{"loaded":3}', "and nothing outlives the ttl"
    assert await cache.status() == "error"
    await cache.close()


async def test_after_a_failure_redis_is_left_alone_for_a_pause():
    cache = build_cache(DEAD_REDIS, "titanium-test")
    assert cache.available
    assert await cache.get("k") is None
    assert not cache.available  # the next requests do not wait on a dead server
    await cache.close()


async def invalidate_while_redis_refuses_writes(redis_server: str, namespace: CachedNamespace) -> None:
    """The database write happened; the cache bump could not (Redis refuses writes for 1.5 s: CLIENT PAUSE)."""
    admin = redis_client(redis_server)
    await admin.execute_command("CLIENT", "PAUSE", "1500", "WRITE")
    try:
        await namespace.invalidate("f")
    finally:
        await admin.execute_command("CLIENT", "UNPAUSE")
        await admin.aclose()


async def test_a_write_the_cache_missed_is_made_good_before_the_next_read(redis_server, redis_prefix):
    # Redis keeps its data but refuses writes for a moment (CLIENT PAUSE
    # WRITE): the write's invalidation times out. When Redis answers again,
    # the old entry is still there; it must not be served.
    cache = cache_on_redis(redis_server, redis_prefix, deadline=1.0)  # shorter than the pause below
    cache.breaker.pause_seconds = 0.1
    namespace = CachedNamespace(cache, "paused", 60, "test")
    loads: list[int] = []
    assert await namespace.get_or_load("f", "k", counting_loader(loads)) == b'{"loaded":1}'

    await invalidate_while_redis_refuses_writes(redis_server, namespace)
    await asyncio.sleep(0.2)  # past the cache's own pause

    assert await namespace.get_or_load("f", "k", counting_loader(loads)) == b'{"loaded":2}'
    assert await namespace.get_or_load("f", "k", counting_loader(loads)) == b'{"loaded":2}', "and cached again"
    await cache.close()


async def test_a_replica_keeps_what_it_read_until_a_write_anywhere_moves_the_generation(redis_server, redis_prefix):
    writer = CachedNamespace(cache_on_redis(redis_server, redis_prefix), "local", 60, "test")
    reader = CachedNamespace(cache_on_redis(redis_server, redis_prefix), "local", 60, "test")
    loads: list[int] = []
    assert await writer.get_or_load("f", "k", counting_loader(loads)) == b'{"loaded":1}'
    assert await reader.get_or_load("f", "k", counting_loader(loads)) == b'{"loaded":1}', "from Redis"
    admin = redis_client(redis_server)
    await admin.delete(*[key async for key in admin.scan_iter(match=f"{redis_prefix}:local:f:*")])
    assert await reader.get_or_load("f", "k", counting_loader(loads)) == b'{"loaded":1}', "from the reader's own copy"
    await writer.invalidate("f")
    assert await reader.get_or_load("f", "k", counting_loader(loads)) == b'{"loaded":2}', "the write is seen at once"
    assert loads == [1, 2]
    await admin.aclose()
    await writer.cache.close()
    await reader.cache.close()


def loader_of(value):
    async def load():
        return value

    return load


async def mget_calls(cache: SafeCache) -> int:
    stats = await cache.inner._client.info("commandstats")
    return int(stats.get("cmdstat_mget", {}).get("calls", 0))


async def test_concurrent_reads_share_round_trips_and_each_gets_its_own_answer(redis_cache):
    namespace = CachedNamespace(redis_cache, "gathered", 60, "test")
    for post in range(5):
        await namespace.get_or_load(f"post:{post}", "k", loader_of({"post": post}))
    before = await mget_calls(redis_cache)
    reads = [namespace.get_or_load(f"post:{n % 5}", "k", loader_of({"loaded": "again"})) for n in range(100)]
    answers = await asyncio.gather(*reads)
    assert answers == [f'{{"post":{n % 5}}}'.encode() for n in range(100)], "each read its own post, from the cache"
    # 100 reads of 5 generations: a few MGETs, not 100 GETs (no other client of this Redis reads with MGET).
    assert 1 <= await mget_calls(redis_cache) - before <= 10


async def test_a_failed_gathered_read_fails_every_caller_of_its_batch():
    client = redis_client(DEAD_REDIS)
    reads = GatheredReads(client)
    answers = await asyncio.gather(*[reads.get(f"k{n % 3}") for n in range(10)], return_exceptions=True)
    assert len(answers) == 10 and all(isinstance(answer, redis.ConnectionError) for answer in answers)
    await client.aclose()


async def test_a_write_the_cache_missed_is_made_good_for_the_other_processes_without_a_read_here(
        redis_server, redis_prefix):
    # The writer's bump times out, and it serves no read afterwards: the other
    # process must still stop serving the old entry once Redis answers again
    # (it went on serving it until the writer's next read, on a busy machine).
    writer_cache = cache_on_redis(redis_server, redis_prefix, deadline=1.0)  # shorter than the pause below
    writer_cache.breaker.pause_seconds = 0.1
    writer = CachedNamespace(writer_cache, "owed", 60, "test")
    reader_cache = cache_on_redis(redis_server, redis_prefix)
    reader = CachedNamespace(reader_cache, "owed", 60, "test")
    loads: list[int] = []
    assert await reader.get_or_load("f", "k", counting_loader(loads)) == b'{"loaded":1}'

    await invalidate_while_redis_refuses_writes(redis_server, writer)

    async def reloaded() -> None:
        while True:  # another process pays the bump: polled
            if await reader.get_or_load("f", "k", counting_loader(loads)) != b'{"loaded":1}':
                return
            await asyncio.sleep(0.05)

    try:
        async with asyncio.timeout(10):  # the entry itself lives 60 s
            await reloaded()
    except TimeoutError:
        raise AssertionError("the reader still served the entry the write had changed") from None
    await writer_cache.close()
    await reader_cache.close()
