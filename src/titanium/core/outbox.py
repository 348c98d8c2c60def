"""A transactional outbox: events written in the caller's transaction, delivered afterwards, at least once.

A service that must tell another one about a change (the blog: "this post
was deleted") cannot call it inside its transaction (the call might be made
and the transaction roll back) nor after it (the process might die in
between, and the other service never hear). Instead `enqueue` writes the
event as a row of the service's own `outbox` table in the caller's
transaction: it exists exactly when the change does. An `OutboxRelay` then
delivers the rows through a function the service gives (an HTTP call) and
deletes each one once it is delivered.

- At least once: a relay that dies after delivering and before deleting
  delivers again later, so a receiver must take an event twice calmly (its
  id is in the event).
- Oldest first: each round takes the oldest due rows in id order and stops
  at the first failure, which is tried again after a growing back-off (one
  second, doubling, at most five minutes); meanwhile later events may pass it.
- A killed relay loses nothing: the rows it claimed stay, and its claim (a
  lease) runs out, after which another relay takes them.
- Several processes of one service share the table: a claim marks rows for
  one relay until its lease ends (on PostgreSQL the claiming statement skips
  rows another is claiming at that moment, `FOR UPDATE SKIP LOCKED`; SQLite
  has one writer at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from titanium.core.logging import get_logger
from titanium.core.timestamps import UTCDateTime, utcnow
from titanium.core.tracing import untraced

log = get_logger(__name__)

TABLE = "outbox"
_DUE_INDEX = "ix_outbox_due"


def outbox_columns() -> list[Column[Any]]:
    """The outbox's columns, new objects each call (for a service's metadata and for its migration)."""
    return [
        # INTEGER on SQLite, where only that type is the rowid; 64 bits elsewhere.
        Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
        Column("topic", String(100), nullable=False),
        Column("payload", Text, nullable=False),  # JSON
        Column("created_at", UTCDateTime, nullable=False),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("next_attempt_at", UTCDateTime, nullable=False),
        # The relay that holds the row (a random token) and until when.
        Column("claim", String(36), nullable=True),
        Column("claimed_until", UTCDateTime, nullable=True),
        Column("last_error", String(500), nullable=True),
    ]


def outbox_table(metadata: MetaData) -> Table:
    """The `outbox` table in a service's metadata."""
    table = Table(TABLE, metadata, *outbox_columns(), sqlite_autoincrement=True)
    Index(_DUE_INDEX, table.c.next_attempt_at, table.c.id)
    return table


def create_outbox(op: Any) -> None:
    """In a migration (`op` is alembic's; not imported here, where services load this module): make the outbox table."""
    op.create_table(TABLE, *outbox_columns(), sqlite_autoincrement=True)
    op.create_index(_DUE_INDEX, TABLE, ["next_attempt_at", "id"])


def drop_outbox(op: Any) -> None:
    op.drop_table(TABLE)


async def enqueue(conn: AsyncConnection, table: Table, topic: str, payload: dict[str, Any]) -> None:
    """Write an event in the transaction of `conn`: it is delivered if, and only if, that transaction commits."""
    now = utcnow()
    await conn.execute(table.insert().values(topic=topic, payload=orjson.dumps(payload).decode(), created_at=now,
                                             attempts=0, next_attempt_at=now))


async def pending_count(conn: AsyncConnection, table: Table) -> int:
    """Events not delivered yet (for a service's status)."""
    return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


@dataclass(frozen=True)
class Event:
    id: int
    topic: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int  # failed deliveries before this one


# Delivers one event; any exception means "not delivered", to be tried again.
Deliver = Callable[[Event], Awaitable[None]]


def retry_delay(failures: int, first: float, longest: float) -> float:
    """Seconds to wait after the `failures`-th failure: doubling from `first`, at most `longest`, with jitter.

    The jitter (75 to 100 % of the step) keeps the relays of several
    processes from retrying together against a receiver that just came back.
    """
    step = min(longest, first * 2 ** min(failures - 1, 30))
    return step * random.uniform(0.75, 1.0)  # noqa: S311 - a spread, not a secret


class OutboxRelay:
    """Delivers one service's outbox, oldest first, until stopped (run it as a task of the service)."""

    def __init__(self, engine: AsyncEngine, table: Table, deliver: Deliver, *, batch_size: int = 20,
                 lease_seconds: float = 30.0, poll_seconds: float = 1.0, first_retry_seconds: float = 1.0,
                 longest_retry_seconds: float = 300.0) -> None:
        self.engine = engine
        self.table = table
        self.deliver = deliver
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds
        self.first_retry_seconds = first_retry_seconds
        self.longest_retry_seconds = longest_retry_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for events now rather than at the next poll (after this process enqueued one)."""
        self._wake.set()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[OutboxRelay]:
        """The relay delivering in a task of its own while the block runs (a service's lifespan)."""
        task = asyncio.create_task(self.run())
        try:
            yield self
        finally:
            task.cancel()
            # Waited for, not awaited: awaiting it under suppress(CancelledError) would also swallow a
            # cancellation of the block's own task (a shutdown's time-out) while the relay ends.
            await asyncio.wait({task})

    async def run(self) -> None:
        """Deliver until cancelled; a database that fails is logged and tried again at the next poll."""
        # Background work, not a request: each poll's queries would start a trace with no server span.
        with untraced():
            await self._deliver_until_cancelled()

    async def _deliver_until_cancelled(self) -> None:
        while True:
            try:
                delivered = await self.deliver_due()
            except Exception as exc:  # the relay outlives a database outage
                log.warning("outbox relay could not reach its database", error=str(exc))
                delivered = 0
            if delivered < self.batch_size:
                await self._sleep()

    async def _sleep(self) -> None:
        # asyncio.timeout, not wait_for: Python 3.11's wait_for returns the wait's result when a
        # cancellation lands just as a wake ends the wait, and the relay, its stop swallowed, polled on.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.poll_seconds):
                await self._wake.wait()
        self._wake.clear()

    async def deliver_due(self) -> int:
        """One round: claim the oldest due events, deliver them in order until one fails; the number delivered."""
        token = str(uuid.uuid4())
        events = await self._claim(token)
        delivered = 0
        for index, event in enumerate(events):
            try:
                await self.deliver(event)
            except Exception as exc:  # any failure is "not delivered"
                await self._failed(event, token, exc)
                await self._release([later.id for later in events[index + 1:]], token)
                break
            await self._delivered(event)
            delivered += 1
        return delivered

    async def _claim(self, token: str) -> list[Event]:
        table = self.table
        now = utcnow()
        due = (
            select(table.c.id)
            .where(table.c.next_attempt_at <= now, or_(table.c.claimed_until.is_(None), table.c.claimed_until < now))
            .order_by(table.c.id)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)  # PostgreSQL: rows another relay is claiming now are skipped
        )
        claim = (
            update(table)
            .where(table.c.id.in_(due.scalar_subquery()))
            .values(claim=token, claimed_until=now + self.lease)
            .returning(table.c.id, table.c.topic, table.c.payload, table.c.created_at, table.c.attempts)
        )
        async with self.engine.begin() as conn:
            rows = (await conn.execute(claim)).all()
        return sorted((Event(row.id, row.topic, orjson.loads(row.payload), row.created_at, row.attempts)
                       for row in rows), key=lambda event: event.id)

    async def _delivered(self, event: Event) -> None:
        # Whoever holds it now: it has been delivered, and is done.
        async with self.engine.begin() as conn:
            await conn.execute(delete(self.table).where(self.table.c.id == event.id))

    async def _failed(self, event: Event, token: str, exc: Exception) -> None:
        failures = event.attempts + 1
        delay = retry_delay(failures, self.first_retry_seconds, self.longest_retry_seconds)
        log.warning("outbox event not delivered; trying again later", event_id=event.id, topic=event.topic,
                    attempts=failures, retry_in_seconds=round(delay, 2), error=repr(exc))
        async with self.engine.begin() as conn:
            await conn.execute(
                update(self.table)
                .where(self.table.c.id == event.id, self.table.c.claim == token)
                .values(attempts=failures, next_attempt_at=utcnow() + timedelta(seconds=delay), claim=None,
                        claimed_until=None, last_error=repr(exc)[:500])
            )

    async def _release(self, ids: list[int], token: str) -> None:
        """Give back claimed events not tried this round (they keep their place in the order)."""
        if not ids:
            return
        async with self.engine.begin() as conn:
            await conn.execute(update(self.table).where(self.table.c.id.in_(ids), self.table.c.claim == token)
                               .values(claim=None, claimed_until=None))
