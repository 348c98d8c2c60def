"""The outbox delivers to a real HTTP server, once, survives a relay killed mid-delivery, retries a failing receiver."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.platform.harness import free_port_block, wait_until
from titanium.core.outbox import Event, OutboxRelay, enqueue, retry_delay
from titanium.services.blog.repository import CategoryRef
from titanium.services.blog.tables import outbox

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


@pytest.fixture(scope="module")
def receiver():
    """The receiving service: a Starlette app under uvicorn, in a process of its own."""
    port = free_port_block(1)
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.integration.outbox_receiver:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--timeout-graceful-shutdown", "1"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{base}/received/ready", timeout=2).status_code == 200, what="the receiver")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def run(receiver):
    """This test's own mailbox on the receiver."""
    return f"{receiver}/events/{uuid.uuid4().hex}", f"{receiver}/received"


async def received(run) -> list[dict]:
    events_url, listing = run
    async with httpx.AsyncClient(timeout=5) as client:
        return (await client.get(f"{listing}/{events_url.rsplit('/', 1)[1]}")).json()


def deliverer(client: httpx.AsyncClient, url: str):
    async def deliver(event: Event) -> None:
        answer = await client.post(url, json={"id": event.id, "topic": event.topic, "payload": event.payload})
        answer.raise_for_status()

    return deliver


async def pending(engine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(outbox)))


async def outbox_empty(engine) -> bool:
    return await pending(engine) == 0


async def until(condition, what: str) -> None:
    """Wait for `condition` (an async callable) to hold, at most 30 s."""
    try:
        async with asyncio.timeout(30):
            while True:  # another process or server changes it: polled
                if await condition():
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"{what} not reached within 30 s") from None


async def test_a_deleted_post_is_announced_once_to_the_receiver_and_leaves_the_outbox(blog, run):
    events_url, _ = run
    post = (await blog.create_post("Gone soon", "words", "alice", 1, CategoryRef(name="Notes"))).post
    await blog.delete_post(post["id"])
    async with httpx.AsyncClient(timeout=5) as client:
        relay = OutboxRelay(blog.engine, outbox, deliverer(client, f"{events_url}/ok"))
        assert await relay.deliver_due() == 1
        assert await relay.deliver_due() == 0
    got = await received(run)
    assert [(seen["event"]["topic"], seen["event"]["payload"]) for seen in got] == [("post.deleted", {"post_id": post["id"]})]
    assert await pending(blog.engine) == 0


async def test_events_go_oldest_first(blog, run):
    events_url, _ = run
    async with blog.engine.begin() as conn:
        for number in range(5):
            await enqueue(conn, outbox, "test.numbered", {"n": number})
    async with httpx.AsyncClient(timeout=5) as client:
        relay = OutboxRelay(blog.engine, outbox, deliverer(client, f"{events_url}/ok"), batch_size=2)
        while await relay.deliver_due():
            pass
    assert [seen["event"]["payload"]["n"] for seen in await received(run)] == [0, 1, 2, 3, 4]


async def test_an_event_of_a_rolled_back_transaction_is_never_sent(blog, run):
    with pytest.raises(RuntimeError):
        async with blog.engine.begin() as conn:
            await enqueue(conn, outbox, "test.never", {})
            raise RuntimeError("the change fails after its event was written")
    assert await pending(blog.engine) == 0


async def test_a_relay_killed_mid_delivery_leaves_the_event_and_the_next_relay_delivers_it(blog, blog_database, run):
    events_url, _ = run
    async with blog.engine.begin() as conn:
        await enqueue(conn, outbox, "test.survivor", {"kept": True})
    # A relay in a process of its own, delivering to an address that never answers: killed while it waits.
    relay_process = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "outbox_relay_process.py"), blog_database, f"{events_url}/hang",
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        await until(lambda: _delivered_count(run, 1), "the first relay's delivery reaching the receiver")
    finally:
        relay_process.send_signal(signal.SIGKILL)
        await relay_process.wait()
    assert relay_process.returncode == -signal.SIGKILL
    assert await pending(blog.engine) == 1  # not delivered (no answer came): the row stays

    async with httpx.AsyncClient(timeout=5) as client:
        relay = OutboxRelay(blog.engine, outbox, deliverer(client, f"{events_url}/ok"), poll_seconds=0.05)
        task = asyncio.create_task(relay.run())
        try:  # once the killed relay's lease has run out
            await until(lambda: outbox_empty(blog.engine), "the event delivered by the second relay")
        finally:
            task.cancel()
    got = await received(run)
    assert [seen["mode"] for seen in got] == ["hang", "ok"]
    assert got[1]["event"]["payload"] == {"kept": True}


async def _delivered_count(run, count: int) -> bool:
    return len(await received(run)) == count


async def test_a_failing_receiver_is_tried_again_until_it_takes_the_event(blog, run):
    events_url, _ = run
    async with blog.engine.begin() as conn:
        await enqueue(conn, outbox, "test.retried", {"n": 1})
    async with httpx.AsyncClient(timeout=5) as client:
        relay = OutboxRelay(blog.engine, outbox, deliverer(client, f"{events_url}/flaky"), poll_seconds=0.02,
                            first_retry_seconds=0.05, longest_retry_seconds=0.2)
        assert await relay.deliver_due() == 0  # 503: kept, with its attempt counted
        async with blog.engine.connect() as conn:
            row = (await conn.execute(select(outbox.c.attempts, outbox.c.last_error, outbox.c.claim))).one()
        assert row.attempts == 1 and "503" in row.last_error and row.claim is None
        task = asyncio.create_task(relay.run())
        try:
            await until(lambda: outbox_empty(blog.engine), "the event delivered after the receiver recovered")
        finally:
            task.cancel()
    assert [seen["mode"] for seen in await received(run)] == ["flaky"] * 3


async def test_two_relays_at_once_deliver_each_event_once(blog, blog_database, run):
    from titanium.core.database import create_engine

    events_url, _ = run
    async with blog.engine.begin() as conn:
        for number in range(40):
            await enqueue(conn, outbox, "test.shared", {"n": number})
    other_engine = create_engine(blog_database, pool_size=4)  # as another process of the service would have
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            relays = [OutboxRelay(engine, outbox, deliverer(client, f"{events_url}/ok"), batch_size=5, poll_seconds=0.02)
                      for engine in (blog.engine, other_engine)]
            tasks = [asyncio.create_task(relay.run()) for relay in relays]
            try:
                await until(lambda: outbox_empty(blog.engine), "every event delivered")
            finally:
                for task in tasks:
                    task.cancel()
    finally:
        await other_engine.dispose()
    numbers = sorted(seen["event"]["payload"]["n"] for seen in await received(run))
    assert numbers == list(range(40))


def test_the_wait_between_tries_doubles_up_to_its_longest():
    for failures, low, high in ((1, 0.75, 1.0), (2, 1.5, 2.0), (4, 6.0, 8.0), (20, 225.0, 300.0), (10_000, 225.0, 300.0)):
        assert low <= retry_delay(failures, 1.0, 300.0) <= high


async def test_a_relay_stopped_just_as_it_is_woken_stops(blog_engine):
    """Stopping cancels the relay's task; a cancellation that lands just as a wake ends its wait must
    still stop it (Python 3.11's `asyncio.wait_for` returned the wait's result instead, and the relay
    went on polling forever, holding up the service's shutdown)."""
    async def deliver(_event: Event) -> None:
        raise AssertionError("nothing is in the outbox")

    for turns in range(12):  # the wake's wait ends some turns of the event loop after the wake
        relay = OutboxRelay(blog_engine, outbox, deliver, poll_seconds=30.0)
        try:
            async with asyncio.timeout(20):  # a relay that does not stop fails the test rather than hang it
                async with relay.running():
                    await asyncio.sleep(0.05)  # its first round over: waiting for a wake
                    relay.wake()
                    for _ in range(turns):
                        await asyncio.sleep(0)
        except TimeoutError:
            raise AssertionError(f"the relay woken {turns} turns before its stop did not stop") from None
