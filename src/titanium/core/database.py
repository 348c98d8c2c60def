"""One async SQLAlchemy engine a service, on PostgreSQL (asyncpg) or SQLite.

The URLs people write (``postgresql://...``, ``sqlite:///...``) are turned
into the async drivers' forms here, so configuration never names a driver.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import TextClause

from titanium.core.metrics import DB_POOLS
from titanium.core.tracing import trace_engine, untraced

_ASYNC_DRIVERS = {"postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}


def async_url(url: str) -> URL:
    """The URL with the async driver of its database."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(f"unsupported database {backend!r}: use postgresql:// or sqlite:///")
    return parsed.set(drivername=_ASYNC_DRIVERS[backend])


def create_engine(url: str, pool_size: int = 20) -> AsyncEngine:
    """The engine of `url`; on PostgreSQL, with `pool_size` connections (SQLite takes one writer: one)."""
    target = async_url(url)
    engine = _sqlite_engine(target) if target.get_backend_name() == "sqlite" else _postgres_engine(target, pool_size)
    return _watched(engine)


# SQLite's readers beside its one writer. In WAL mode a reader neither waits
# for the writer nor stops it, so a read that misses the cache no longer
# waits in line behind the writes on the one connection: the mixed load's
# P95 on SQLite went 42 -> 17 ms (ADR 7).
SQLITE_READERS = 3


def create_read_engine(url: str, writer: AsyncEngine) -> AsyncEngine:
    """The engine for reads that are not part of a write: on SQLite, read-only connections of its own; else `writer`.

    Each read sees every write committed before it began, whichever engine it is on.
    On PostgreSQL one pool serves both; an in-memory SQLite database is the one
    connection's alone.
    """
    target = async_url(url)
    if target.get_backend_name() != "sqlite" or target.database in (None, "", ":memory:"):
        return writer
    return _watched(_sqlite_engine(target, connections=SQLITE_READERS, read_only=True))


def create_replica_engine(url: str, pool_size: int = 20) -> AsyncEngine:
    """The engine of a PostgreSQL read replica (core/read_replicas.py routes reads to it).

    Its pool is left out of `db_pool_*`, which say how busy the primary's is.
    """
    target = async_url(url)
    if target.get_backend_name() != "postgresql":
        raise ValueError("a read replica is a PostgreSQL server: use postgresql://")
    engine = _postgres_engine(target, pool_size)
    trace_engine(engine)
    return engine


def _watched(engine: AsyncEngine) -> AsyncEngine:
    trace_engine(engine)
    if isinstance(engine.pool, QueuePool):  # no overflow connections: its size is all it holds
        DB_POOLS.watch(engine.pool, engine.pool.size())
    return engine


# A request that finds every pooled connection busy waits for one this long,
# then gets a 503. The pool's connections are all opened at start-up
# (warm_pool), and there are no overflow connections: none is made and
# dropped under load, as overflow connections were each time the load went
# past the pool.
POOL_TIMEOUT_SECONDS = 5.0


def _postgres_engine(target: URL, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(
        target,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        pool_recycle=1800,
        connect_args={"timeout": 5, "command_timeout": 15},
    )

    @event.listens_for(engine.sync_engine, "checkout")
    def _closed_connections_out(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # A restarted server closes its clients' connections, and asyncpg
        # notices as the event loop reads the close: such a connection is
        # swapped for a new one here, so the first request after a restart
        # does not fail. SQLAlchemy's pre-ping would ask the server instead,
        # a round trip on every checkout: 7 % of the blog's time and P95
        # 19 -> 13 ms under the mixed load without it (ADR 7).
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the server closed this connection")

    return engine


def _sqlite_engine(target: URL, connections: int = 1, read_only: bool = False) -> AsyncEngine:
    if target.database and target.database != ":memory:":
        Path(target.database).parent.mkdir(parents=True, exist_ok=True)
    # SQLite takes one writer at a time: one writing connection a process
    # serialises this process's writes instead of failing them with "database
    # is locked". Read-only connections may be more (create_read_engine).
    engine = create_async_engine(target, pool_size=connections, max_overflow=0, connect_args={"timeout": 15})

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    return engine


async def warm_pool(engine: AsyncEngine) -> None:
    """Open the pool's connections now rather than under the first load (best effort: a database
    that is down now is connected to later, when it answers)."""
    size = engine.pool.size() if isinstance(engine.pool, QueuePool) else 1
    with untraced():  # start-up work, not a request: no trace of its own
        await asyncio.gather(*(ping(engine, hold_seconds=0.05) for _ in range(size)))


async def ping(engine: AsyncEngine, hold_seconds: float = 0.0) -> bool:
    """Whether the database answers a trivial query."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            # Held a moment when warming, so that concurrent pings each open a connection of their own.
            await asyncio.sleep(hold_seconds)
        return True
    except Exception:
        return False



def insert_ignoring_conflicts(dialect_name: str, table: Table) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the dialect's own construct.

    Both PostgreSQL and SQLite speak it; a conflicting row is skipped, not an
    error that would abort the surrounding transaction.
    """
    # The engine has loaded its own dialect's module already; naming both here
    # would load the other one in every process for nothing (1.3 MB).
    dialect = importlib.import_module(f"sqlalchemy.dialects.{dialect_name}")
    insert: Insert = dialect.insert(table).on_conflict_do_nothing()
    return insert


async def lock_for_transaction(conn: AsyncConnection, name: str) -> None:
    """Serialise the transactions that take the lock `name`, until each ends.

    PostgreSQL: a transaction-scoped advisory lock. SQLite lets one writer
    at a time anyway, so there is nothing to take.
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(advisory_xact_lock(name))


def advisory_xact_lock(name: str) -> TextClause:
    """PostgreSQL: take the transaction-scoped advisory lock `name`."""
    return text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=advisory_key(name))


def advisory_key(name: str) -> int:
    """The 64-bit PostgreSQL advisory lock key of a lock name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
