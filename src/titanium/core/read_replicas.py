"""Reads sent to PostgreSQL read replicas when they hold what the read must see; everything else to the primary.

The rule (docs/adr/0012-read-replicas.md) is made for a cache that every
reader shares, and for readers who carry no token:

- After a write commits, its service asks the primary for its WAL position
  (`pg_current_wal_insert_lsn()`, past the commit) and records it under each
  cache family the write changes, and under ANY_WRITE, in the shared store
  (Redis; this process's memory without one), keeping the highest. Only then
  do the families' cache generations move.
- A read that fills a family's cache may go to a replica only when that
  replica's replay position, polled every POLL_SECONDS, is at or past the
  family's recorded position; a read outside any family must have every
  write (ANY_WRITE). So a fill never stores, under a new generation, data
  older than the write that moved it: everyone, the writer included, reads
  the write from the moment it is acknowledged.
- A replica is left out while it does not answer, is not a standby, or is
  further behind the primary than the bound; a read that fails on one is
  answered by the primary, and the replica stays out until a poll finds it
  well again. With none left, every read goes to the primary, as it does
  whenever the store cannot say what a read needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from titanium.core.breaker import Breaker, DependencyDown
from titanium.core.cache import CachedNamespace, SafeCache, redis_client
from titanium.core.database import warm_pool
from titanium.core.logging import get_logger
from titanium.core.metrics import DB_READS, DB_REPLICA_IN_USE, DB_REPLICA_LAG
from titanium.core.tracing import untraced

if TYPE_CHECKING:
    import redis.asyncio as redis

log = get_logger(__name__)

T = TypeVar("T")
Read = Callable[[AsyncConnection], Awaitable[T]]

# The family every write records its position under: what a read outside any family must have.
ANY_WRITE = "any-write"
# A position no replica reaches: a read that needs it goes to the primary.
NEVER = 2**64 - 1
# How often each process asks the primary and every replica where their WAL is.
POLL_SECONDS = 0.5
POLL_TIMEOUT_SECONDS = 1.0
# A write's record may take this long: longer than a read's look-up (SafeCache's deadline), since a
# record that fails while the generation move after it goes through lets another process's fill
# read a replica that may lack the write (docs/adr/0012-read-replicas.md).
RECORD_DEADLINE_SECONDS = 1.0
# Just past a write that committed: every record of it lies before the insert position. (When a record
# ends on a page boundary, the insert position is past the next page's header, where no replay stops
# until the next record arrives: that family is read from the primary until then.)
WRITE_POSITION = "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint"
# What a replica can have at most, to measure its lag against: an idle replica that has it all is there.
PRIMARY_POSITION = "SELECT (pg_current_wal_flush_lsn() - '0/0'::pg_lsn)::bigint"
REPLICA_POSITION = "SELECT pg_is_in_recovery(), (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint"

# The position the read being made needs its server to have replayed (set while a cache family is filled).
_needed: ContextVar[int | None] = ContextVar("titanium_replica_position_needed", default=None)


class PrimaryProgress:
    """The primary's WAL positions as polled, each with when it was first seen: a replica's lag in seconds."""

    def __init__(self, horizon: float) -> None:
        self._horizon = horizon
        self._seen: deque[tuple[float, int]] = deque()  # (first seen at, position), rising

    def observe(self, position: int, now: float) -> None:
        if not self._seen:
            # How long the primary has been at its first position is unknown, so a
            # replica behind it is taken as far behind as can be, until it passes it.
            self._seen.append((-math.inf, position))
        elif position > self._seen[-1][1]:
            self._seen.append((now, position))
        # The newest position seen before the horizon stays: a replay older than it is at least that old.
        while len(self._seen) > 1 and self._seen[1][0] < now - self._horizon:
            self._seen.popleft()

    def lag(self, replayed: int, now: float) -> float:
        """Seconds since the primary first had WAL that the replica has not replayed (0 when it has it all).

        Unknown, so as far behind as can be, until the primary has answered a poll.
        """
        if not self._seen:
            return math.inf
        for seen_at, position in self._seen:
            if position > replayed:
                return now - seen_at
        return 0.0


@dataclass(eq=False)
class Replica:
    """One read replica and what the last poll found."""

    name: str  # its place in the setting ("replica_1"), never its address: /status and the metrics show it
    engine: AsyncEngine
    in_use: bool = False
    replayed: int = 0  # its replay position at the last poll that found it well
    lag_seconds: float = math.inf
    polled_at: float = field(default=-math.inf)  # time.monotonic() as that poll's query went out
    answering: bool = False
    state: str = "not polled yet"

    def serves(self, position: int) -> bool:
        return self.in_use and self.replayed >= position

    def vouches_for(self, conn: AsyncConnection) -> bool:
        """Whether the last poll speaks for the server behind `conn`: the connection is older than the poll.

        A replica restarted since that poll may take connections before it has
        replayed again all it had replayed; a connection opened after the poll
        may be to such a server, so it is not trusted before the next poll.
        """
        return conn.info.get(_OPENED_AT, math.inf) < self.polled_at

    def found(self, replayed: int, lag_seconds: float, max_lag: float, polled_at: float) -> None:
        """A poll sent at `polled_at` found it a standby, with this replay position and lag."""
        self.polled_at, self.answering = polled_at, True
        self.replayed, self.lag_seconds = replayed, lag_seconds
        within = lag_seconds <= max_lag
        self._set(within, f"{lag_seconds:.1f} s behind" + ("" if within else f", past the bound of {max_lag:g} s"))

    def silent(self) -> None:
        """A poll found it not answering."""
        self.answering = False
        self.leave_out("not answering")

    def leave_out(self, why: str) -> None:
        self._set(False, why)

    def _set(self, in_use: bool, state: str) -> None:
        if in_use and not self.in_use:
            log.info("read replica in use", replica=self.name, state=state)
        elif self.in_use and not in_use:
            log.warning("read replica left out", replica=self.name, state=state)
        self.in_use, self.state = in_use, state

    def in_use_figure(self) -> float:
        return 1.0 if self.in_use else 0.0

    def lag_now(self) -> float:
        """The lag it had when it last answered, plus the time it has not answered since."""
        if self.answering:
            return self.lag_seconds
        return self.lag_seconds + (time.monotonic() - self.polled_at)

    def describe(self) -> str:
        return f"{'in use' if self.in_use else 'left out'}: {self.state}"


class WritePositions(Protocol):
    """Where each family's newest write is in the primary's WAL, shared by every process of the service."""

    async def newest(self, family: str) -> int:
        """The highest position recorded for `family`; 0 when none is (any replica has it)."""

    async def record(self, positions: dict[str, int]) -> None:
        """Raise each family's recorded position to the one given (a lower one leaves it as it is)."""

    async def close(self) -> None: ...


class MemoryWritePositions:
    """This process's own record: right for a cache that is this process's own too."""

    def __init__(self, ttl: float, max_families: int = 10_000) -> None:
        self._ttl = ttl
        self._max_families = max_families
        self._positions: dict[str, tuple[int, float]] = {}  # family -> (position, expires at)

    async def newest(self, family: str) -> int:
        position, expires_at = self._positions.get(family, (0, 0.0))
        return position if expires_at > time.monotonic() else 0

    async def record(self, positions: dict[str, int]) -> None:
        now = time.monotonic()
        for family, position in positions.items():
            if position >= await self.newest(family):
                self._positions[family] = (position, now + self._ttl)
        if len(self._positions) > self._max_families:
            self._positions = {family: entry for family, entry in self._positions.items() if entry[1] > now}

    async def close(self) -> None:
        self._positions.clear()


# Each KEYS[i] raised to ARGV[i + 1] (16 hex digits, so that comparing the strings compares the positions),
# expiring after ARGV[1] ms; in one round trip.
_RECORD = """
for i, key in ipairs(KEYS) do
  local current = redis.call('GET', key)
  if not current or current < ARGV[i + 1] then
    redis.call('SET', key, ARGV[i + 1], 'PX', ARGV[1])
  end
end
return #KEYS
"""


class RedisWritePositions:
    """In Redis beside the cache: every process of the service reads what any of them wrote."""

    def __init__(self, client: redis.Redis, prefix: str, ttl: float) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl_ms = int(ttl * 1000)
        self._record = client.register_script(_RECORD)

    def _key(self, family: str) -> str:
        return f"{self._prefix}:{family}"

    async def newest(self, family: str) -> int:
        value = await self._client.get(self._key(family))
        return int(value, 16) if value else 0

    async def record(self, positions: dict[str, int]) -> None:
        await self._record(keys=[self._key(family) for family in positions],
                           args=[self._ttl_ms, *(f"{position:016x}" for position in positions.values())])

    async def close(self) -> None:
        await self._client.aclose()


def build_write_positions(redis_url: str | None, prefix: str, ttl: float) -> WritePositions:
    """In Redis when it is configured (shared like the cache), else in this process's memory (like the cache)."""
    if redis_url:
        return RedisWritePositions(redis_client(redis_url), prefix, ttl)
    return MemoryWritePositions(ttl)


class ReadRouter:
    """Sends each read to a replica that has what it must see, else to the primary; records each write's position."""

    def __init__(self, primary: AsyncEngine, replicas: Sequence[AsyncEngine] = (), *, service: str,
                 positions: WritePositions | None = None, max_lag_seconds: float = 5.0) -> None:
        self.primary = primary  # the reads that must see every write, and those no replica takes
        self.replicas = [Replica(f"replica_{number}", engine) for number, engine in enumerate(replicas, start=1)]
        self.positions = positions or MemoryWritePositions(record_ttl(max_lag_seconds))
        self.max_lag_seconds = max_lag_seconds
        self._progress = PrimaryProgress(horizon=max_lag_seconds + POLL_SECONDS)
        self._primary_reads = DB_READS.labels(service, "primary")
        self._replica_reads = DB_READS.labels(service, "replica")
        self._next = 0  # the replica to try first, in turn
        self._owed: dict[str, int] = {}  # positions a write could not record yet
        # Reads skip the store for a while after it failed (core/breaker.py), as the cache does.
        self._positions_store = Breaker("write positions store", deadline_seconds=SafeCache.CALL_DEADLINE_SECONDS)
        self._poller: asyncio.Task[None] | None = None
        self._primary_answering = True  # at the last poll (its failures are logged once, not every poll)
        for replica in self.replicas:
            _note_when_connections_open(replica.engine)
            DB_REPLICA_LAG.labels(service, replica.name).set_function(replica.lag_now)
            DB_REPLICA_IN_USE.labels(service, replica.name).set_function(replica.in_use_figure)

    # --- reading -------------------------------------------------------
    async def run(self, read: Read[T]) -> T:
        """`read` on a replica that has every write it must see (and answers), else on the primary."""
        if self.replicas:
            needed = _needed.get()
            if needed is None:
                needed = await self._needed_for(ANY_WRITE)
            replica = self._replica_having(needed)
            if replica is not None:
                try:
                    return await self._on_replica(replica, needed, read)
                except _ReplicaUnfit:
                    pass
                except Exception as exc:  # down, restarted, cancelled by recovery: the primary answers
                    replica.leave_out("a read failed")
                    log.warning("a read failed on a read replica; the primary answered it", replica=replica.name,
                                error=repr(exc))
        self._primary_reads.inc()
        async with self.primary.connect() as conn:
            return await read(conn)

    async def reading_for(self, family: str, load: Callable[[], Awaitable[T]]) -> T:
        """`load()`, whose reads go to a replica only if it has the newest write recorded for `family`."""
        token = _needed.set(await self._needed_for(family))
        try:
            return await load()
        finally:
            _needed.reset(token)

    async def _needed_for(self, family: str) -> int:
        if not any(replica.in_use for replica in self.replicas):
            return NEVER  # no replica could take it: no need to ask the store
        try:
            return await self._positions_store.call(lambda: self.positions.newest(family))
        except DependencyDown:
            return NEVER

    def _replica_having(self, position: int) -> Replica | None:
        count = len(self.replicas)
        for step in range(count):
            replica = self.replicas[(self._next + step) % count]
            if replica.serves(position):
                self._next = (self._next + step + 1) % count
                return replica
        return None

    async def _on_replica(self, replica: Replica, needed: int, read: Read[T]) -> T:
        async with replica.engine.connect() as conn:
            # Checked again with the connection in hand: a poll may have left the replica
            # out meanwhile, and a connection opened since the last poll is not trusted.
            if not (replica.serves(needed) and replica.vouches_for(conn)):
                raise _ReplicaUnfit
            result = await read(conn)
        self._replica_reads.inc()
        return result

    # --- writing -------------------------------------------------------
    async def wrote(self, families: Iterable[str]) -> None:
        """Record the primary's position, just past a write that committed, for the families it changed.

        Call it before the write moves the families' cache generations.
        """
        if not self.replicas:
            return
        position = await self._primary_position()
        for family in (*families, ANY_WRITE):
            self._owed[family] = max(self._owed.get(family, 0), position)
        # Tried even while reads skip the store after a failure: a write's record is what keeps fills right.
        await self._record_owed()

    @property
    def records_owed(self) -> bool:
        return bool(self._owed)

    async def pay_records_owed(self) -> None:
        """Record what earlier writes could not (the store was out), unless it failed a moment ago."""
        if self._owed and self._positions_store.available:
            await self._record_owed()

    async def _record_owed(self) -> None:
        owed, self._owed = self._owed, {}
        try:
            async with asyncio.timeout(RECORD_DEADLINE_SECONDS):
                await self.positions.record(owed)
        except Exception as exc:  # kept owed
            for family, position in owed.items():
                self._owed[family] = max(self._owed.get(family, 0), position)
            self._positions_store.trip(exc)

    async def _primary_position(self) -> int:
        try:
            _sent_at, (position,) = await _ask(self.primary, WRITE_POSITION)
            return int(position)
        except Exception as exc:
            # The write committed but its position is unknown: its families are read
            # from the primary until the record expires.
            log.warning("the primary's WAL position is unknown after a write", error=repr(exc))
            return NEVER

    # --- polling -------------------------------------------------------
    async def start(self) -> None:
        """Open the replicas' connections, poll them once, and keep polling in the background."""
        if not self.replicas:
            return
        await asyncio.gather(*(warm_pool(replica.engine) for replica in self.replicas))
        await self.poll()
        self._poller = asyncio.create_task(self._poll_forever(), name="read-replica-poller")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        await self.positions.close()
        for replica in self.replicas:
            await replica.engine.dispose()

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                await self.poll()
            except Exception:  # a poll that fails in an unforeseen way must not end the polling
                log.exception("polling the read replicas failed")

    async def poll(self) -> None:
        """Where the primary's WAL is, and where each replica's replay is: which replicas reads may use."""
        with untraced():  # background work, not a request: no trace of its own
            try:
                async with asyncio.timeout(POLL_TIMEOUT_SECONDS):
                    _sent_at, (position,) = await _ask(self.primary, PRIMARY_POSITION)
                self._progress.observe(int(position), time.monotonic())
                self._primary_answering = True
            except Exception as exc:
                # The replicas are measured against what the primary was last seen at,
                # and keep answering reads while it is away.
                if self._primary_answering:
                    log.warning("the primary does not say where its WAL is", error=repr(exc))
                self._primary_answering = False
            await asyncio.gather(*(self._poll_replica(replica) for replica in self.replicas))

    async def _poll_replica(self, replica: Replica) -> None:
        try:
            async with asyncio.timeout(POLL_TIMEOUT_SECONDS):
                polled_at, (standby, replayed) = await _ask(replica.engine, REPLICA_POSITION)
        except Exception:
            replica.silent()
            return
        if not standby or replayed is None:
            replica.leave_out("not a standby of the primary")
            return
        replica.found(int(replayed), self._progress.lag(int(replayed), time.monotonic()), self.max_lag_seconds,
                      polled_at)

    # --- status --------------------------------------------------------
    def checks(self) -> dict[str, bool]:
        """Each replica's check for /status: a replica left out degrades the service, never makes it unready."""
        return {replica.name: replica.in_use for replica in self.replicas}

    def figures(self) -> dict[str, Any]:
        if not self.replicas:
            return {}
        return {"read_replicas": {replica.name: replica.describe() for replica in self.replicas}}


class _ReplicaUnfit(Exception):
    """The replica chosen was found unfit with the connection in hand: the primary answers."""


def record_ttl(max_lag_seconds: float) -> float:
    """How long a write's position is kept: far longer than any replica in use can be behind.

    Once it is gone, a family's reads may go to any replica in use, which is
    at most the bound behind (plus a poll or two of measuring).
    """
    return max(60.0, 10 * max_lag_seconds)


_OPENED_AT = "titanium_opened_at"


def _note_when_connections_open(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _opened(_dbapi_connection: Any, record: Any) -> None:
        record.info[_OPENED_AT] = time.monotonic()


async def _ask(engine: AsyncEngine, sql: str) -> tuple[float, Any]:
    """When the query went out (time.monotonic(), with a connection in hand), and its one row.

    Sent on the driver's connection: one round trip, no transaction begun around it.
    """
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        sent_at = time.monotonic()
        return sent_at, await raw.driver_connection.fetchrow(sql)  # type: ignore[union-attr]


class ReplicaAwareCache:
    """The cache's families, each write recording its position before it moves them, each fill routed by it."""

    def __init__(self, namespace: CachedNamespace, router: ReadRouter) -> None:
        self.namespace = namespace
        self.router = router

    async def get_or_load(self, family: str, key: str, load: Callable[[], Awaitable[Any]]) -> bytes | None:
        if self.router.records_owed:
            # Before the cache pays the generation moves it owes (core/cache.py):
            # a generation must never move ahead of its write's position.
            await self.router.pay_records_owed()
        return await self.namespace.get_or_load(family, key, lambda: self.router.reading_for(family, load))

    async def invalidate(self, *families: str) -> None:
        await self.router.wrote(families)
        await self.namespace.invalidate(*families)


def caching(namespace: CachedNamespace, router: ReadRouter) -> CachedNamespace | ReplicaAwareCache:
    """The cache the routes read through: the namespace itself when there is no replica (nothing added per read)."""
    return ReplicaAwareCache(namespace, router) if router.replicas else namespace
