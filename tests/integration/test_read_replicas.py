"""The read routing rule on a real primary and a real streaming replica (tests/replication.py).

Each read asks its server `pg_is_in_recovery()`: true on the replica, false
on the primary. The tests poll the router themselves (its background poller
is not started), so each decision follows from what the last poll found.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.platform.harness import free_port_block
from tests.replication import ReplicatedPostgres
from titanium.core import migrations
from titanium.core.cache import redis_client
from titanium.core.database import create_engine, create_replica_engine, warm_pool
from titanium.core.read_replicas import (
    ANY_WRITE,
    MemoryWritePositions,
    ReadRouter,
    RedisWritePositions,
    WritePositions,
    record_ttl,
)
from titanium.services.blog.repository import BlogRepository, CategoryRef

DATABASE = "titanium_blog"


@pytest.fixture(scope="module")
def replicated() -> Iterator[ReplicatedPostgres]:
    pair = ReplicatedPostgres(replicas=1).start()
    try:
        migrations.upgrade("blog", pair.primary.database_url(DATABASE))
        pair.wait_until_replayed(pair.replicas[0])
        yield pair
    finally:
        pair.remove()


@pytest.fixture
def replica(replicated):
    cluster = replicated.replicas[0]
    yield cluster
    replicated.restore(cluster)  # as the next test expects it


@asynccontextmanager
async def router_on(replicated: ReplicatedPostgres, positions: WritePositions | None = None,
                    max_lag_seconds: float = 60.0) -> AsyncIterator[ReadRouter]:
    """A router whose replica has one connection, opened now (before the first poll, as the service's are)."""
    routed = ReadRouter(create_engine(replicated.primary.database_url(DATABASE), pool_size=2),
                        [create_replica_engine(replicated.replicas[0].database_url(DATABASE), pool_size=1)],
                        service="blog-test", positions=positions or MemoryWritePositions(record_ttl(max_lag_seconds)),
                        max_lag_seconds=max_lag_seconds)
    await warm_pool(routed.replicas[0].engine)
    try:
        yield routed
    finally:
        await routed.stop()
        await routed.primary.dispose()


@pytest.fixture
async def router(replicated, replica) -> AsyncIterator[ReadRouter]:
    async with router_on(replicated) as routed:
        yield routed


async def on_replica(conn: AsyncConnection) -> bool:
    """Whether the read ran on a standby."""
    return bool(await conn.scalar(text("SELECT pg_is_in_recovery()")))


async def write_post(router: ReadRouter, title: str, category: str = "Notes") -> dict:
    """A post written on the primary, its position recorded as the blog records it (families as the blog names them)."""
    post = (await BlogRepository(router.primary, router).create_post(
        title, "content", "alice", 1, CategoryRef(name=category))).post
    await router.wrote([f"post:{post['id']}", "lists", f"lists:{post['category']['slug']}", "categories"])
    return post


async def poll_until(router: ReadRouter, condition, what: str) -> None:
    """Poll the replicas until `condition()` holds (30 s at most)."""
    try:
        async with asyncio.timeout(30):
            while True:
                await router.poll()
                if condition():
                    return
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"{what} not reached within 30 s: {router.figures()}") from None


async def in_use(router: ReadRouter) -> None:
    """Until a poll finds the replica in use: a fresh router's first poll knows nothing of the
    primary's past, so it takes a replica a moment behind as far behind as can be."""
    await poll_until(router, lambda: router.replicas[0].in_use, "the replica in use")


async def test_reads_go_to_a_replica_that_has_replayed_every_write_they_must_see(router, replicated, replica):
    post = await write_post(router, "Replicated")
    await asyncio.to_thread(replicated.wait_until_replayed, replica)
    await in_use(router)

    assert router.checks() == {"replica_1": True}
    assert await router.run(on_replica) is True
    assert await router.reading_for(f"post:{post['id']}", lambda: router.run(on_replica)) is True
    repository = BlogRepository(router.primary, router)
    listed = await router.reading_for("lists", lambda: repository.list_posts(0, 10, None))
    assert [each["title"] for each in listed][:1] == ["Replicated"]


async def test_what_was_written_since_the_replay_paused_is_read_from_the_primary_by_anyone(router, replicated, replica):
    older = await write_post(router, "Before the pause", category="Older")
    await asyncio.to_thread(replicated.wait_until_replayed, replica)
    await in_use(router)
    replicated.pause_replay(replica)
    new = await write_post(router, "While paused", category="Newer")
    await router.poll()
    assert router.checks() == {"replica_1": True}, "within the bound, the replica stays in use"

    repository = BlogRepository(router.primary, router)
    # Every family the write changed is read from the primary, and shows it...
    seen = await router.reading_for(f"post:{new['id']}", lambda: repository.get_post(new["id"]))
    assert seen is not None and seen["title"] == "While paused"
    listed = await router.reading_for("lists", lambda: repository.list_posts(0, 10, None))
    assert listed[0]["title"] == "While paused"
    assert await router.reading_for("lists", lambda: router.run(on_replica)) is False
    assert await router.run(on_replica) is False  # a read outside any family must have every write
    # ...while a family it did not change is still read from the replica.
    assert await router.reading_for(f"post:{older['id']}", lambda: router.run(on_replica)) is True
    assert await router.reading_for("lists:older", lambda: router.run(on_replica)) is True

    replicated.resume_replay(replica)
    await asyncio.to_thread(replicated.wait_until_replayed, replica)
    await router.poll()
    assert await router.reading_for("lists", lambda: router.run(on_replica)) is True


async def test_a_replica_behind_by_more_than_the_bound_is_left_out_until_it_catches_up(replicated, replica):
    async with router_on(replicated, max_lag_seconds=0.5) as router:
        await in_use(router)
        replicated.pause_replay(replica)
        await write_post(router, "Behind")
        await poll_until(router, lambda: not router.replicas[0].in_use, "the lagging replica left out")
        assert "past the bound" in router.figures()["read_replicas"]["replica_1"]
        assert await router.run(on_replica) is False

        replicated.resume_replay(replica)
        await in_use(router)
        assert await router.run(on_replica) is True


async def test_a_stopped_replica_costs_no_read_and_is_used_again_when_it_answers(router, replicated, replica):
    await in_use(router)
    assert await router.run(on_replica) is True

    await asyncio.to_thread(replica.stop)
    assert await router.run(on_replica) is False  # answered by the primary, no error
    await router.poll()
    assert router.checks() == {"replica_1": False}
    assert router.figures()["read_replicas"]["replica_1"] == "left out: not answering"
    assert await router.run(on_replica) is False

    await asyncio.to_thread(replica.start)
    await in_use(router)
    assert await router.run(on_replica) is True


async def test_a_replica_restarted_between_two_polls_is_not_trusted_before_the_next(router, replicated, replica):
    # After a restart a standby may take connections before it has replayed what it had
    # replayed before: what the last poll found no longer holds.
    await in_use(router)
    assert await router.run(on_replica) is True
    await asyncio.to_thread(replica.stop)
    await asyncio.to_thread(replica.start)

    assert await router.run(on_replica) is False
    await in_use(router)
    assert await router.run(on_replica) is True


async def test_reads_go_to_the_primary_while_the_write_positions_cannot_be_read(replicated, replica):
    dead_redis = f"redis://127.0.0.1:{free_port_block(1)}/0"  # nothing listens there
    async with router_on(replicated, positions=RedisWritePositions(redis_client(dead_redis), "unreachable", 60.0)) as router:
        await in_use(router)
        assert await router.reading_for("lists", lambda: router.run(on_replica)) is False
        assert await router.run(on_replica) is False
        await write_post(router, "Unrecorded")
        assert router.records_owed, "a position that could not be recorded is kept, to be recorded later"


@pytest.fixture(params=["memory", "redis"])
async def positions(request, redis_server, redis_prefix) -> AsyncIterator[WritePositions]:
    if request.param == "memory":
        store: WritePositions = MemoryWritePositions(ttl=60.0)
    else:
        store = RedisWritePositions(redis_client(redis_server), f"{redis_prefix}:positions-{id(request)}", ttl=60.0)
    yield store
    await store.close()


async def test_a_family_keeps_the_highest_position_recorded_for_it(positions):
    assert await positions.newest("lists") == 0
    await positions.record({"lists": 5_000_000_000, ANY_WRITE: 5_000_000_000})
    await positions.record({"lists": 4_000_000_000, "post:1": 4_000_000_000})  # a slower write, recorded late
    assert await positions.newest("lists") == 5_000_000_000
    assert await positions.newest("post:1") == 4_000_000_000
    await positions.record({"lists": 2**64 - 1})
    assert await positions.newest("lists") == 2**64 - 1
