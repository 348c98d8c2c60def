"""What every test shares: the real PostgreSQL and Redis servers, each test run in its own database and key space.

Nothing here is mocked. When a server is missing, the tests that need it
fail and say how to start it; they are never skipped.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.faults.servers import PrivateRedis
from tests.platform.harness import Platform, Platforms, remove_keys
from titanium.core import migrations

POSTGRES_SERVER = os.environ.get("TITANIUM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
REDIS_SERVER = os.environ.get("TITANIUM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_REDIS = "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no"


# The modules that take longest, longest first (measured with `--durations=0`).
# `make test` runs whole modules in each pytest-xdist worker, in collection
# order: these start first, so that no long module starts last while the
# other worker has nothing left to do. Every other module keeps its place.
LONGEST_FIRST = (
    "tests/platform/test_fuzzing.py",
    "tests/observability/test_live_prometheus.py",
    "tests/browser/test_blog.py",
    "tests/faults/test_replicas.py",
    "tests/security/test_idempotency.py",
    "tests/platform/test_dashboard_replicas.py",
    "tests/faults/test_overload.py",
    "tests/faults/test_slow_redis.py",
    "tests/security/test_password_memory.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: place for place, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


def _reachable(url: str, default_port: int) -> bool:
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def require_postgres() -> str:
    if not _reachable(POSTGRES_SERVER, 5432):
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_SERVER} (TITANIUM_TEST_POSTGRES_URL). "
                    f"Start it, e.g.: {START_POSTGRES}", pytrace=False)
    return POSTGRES_SERVER


def require_redis() -> str:
    if not _reachable(REDIS_SERVER.replace("redis://", "postgresql://"), 6379):
        pytest.fail(f"Redis is not reachable at {REDIS_SERVER} (TITANIUM_TEST_REDIS_URL). "
                    f"Start it, e.g.: {START_REDIS}", pytrace=False)
    return REDIS_SERVER


@pytest.fixture(scope="session")
def postgres_server() -> str:
    return require_postgres()


@pytest.fixture(scope="session")
def redis_server() -> str:
    return require_redis()


class PostgresDatabases:
    """Fresh databases on the test server, each dropped at the end of the run."""

    def __init__(self, server: str) -> None:
        self.server = make_url(server)
        self.run_id = uuid.uuid4().hex[:8]
        self.created: list[str] = []

    def new(self, purpose: str) -> str:
        name = f"titanium_test_{self.run_id}_{purpose}_{len(self.created)}"
        url = self.server.set(database=name).render_as_string(hide_password=False)
        migrations.ensure_database(url)
        self.created.append(name)
        return url

    def drop(self, urls: list[str]) -> None:
        """Drop these databases now (a platform's, when it stops), rather than at the end of the run."""
        names = [make_url(url).database for url in urls]
        self._drop([name for name in names if name])
        self.created = [name for name in self.created if name not in names]

    def drop_all(self) -> None:
        self._drop(self.created)
        self.created = []

    def _drop(self, names: list[str]) -> None:
        async def drop() -> None:
            admin = create_async_engine(self.server.set(drivername="postgresql+asyncpg", database="postgres"),
                                        poolclass=NullPool, isolation_level="AUTOCOMMIT")
            async with admin.connect() as conn:
                for name in names:
                    await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await admin.dispose()

        if names:
            asyncio.run(drop())


@pytest.fixture(scope="session")
def postgres_databases(postgres_server: str) -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(postgres_server)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def redis_prefix(redis_server: str) -> Iterator[str]:
    """A key space of this run's own; every key under it is deleted afterwards."""
    prefix = f"titanium-test-{uuid.uuid4().hex[:8]}"
    yield prefix
    remove_keys(redis_server, prefix)


class TestServers:
    """The test PostgreSQL and Redis as the platforms use them: asked for when first needed (a run of SQLite
    platforms needs neither), and cleaned by `remove` after the last platform stopped."""

    def __init__(self) -> None:
        self.redis_prefix = f"titanium-test-{uuid.uuid4().hex[:8]}"
        self._databases: PostgresDatabases | None = None
        self._redis_url: str | None = None

    def databases(self) -> PostgresDatabases:
        if self._databases is None:
            self._databases = PostgresDatabases(require_postgres())
        return self._databases

    def redis_url(self) -> str:
        if self._redis_url is None:
            self._redis_url = require_redis()
        return self._redis_url

    def remove(self) -> None:
        if self._databases is not None:
            self._databases.drop_all()
        if self._redis_url is not None:
            remove_keys(self._redis_url, self.redis_prefix)


@pytest.fixture(scope="session")
def platforms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platforms]:
    """Platforms by what a test needs (tests/platform/harness.py `Platforms`); the shared ones stop at the end.

    Session-scoped fixtures are per process: under pytest-xdist each worker
    has its own platforms, databases and Redis prefix.
    """
    servers = TestServers()
    factory = Platforms(tmp_path_factory.mktemp, servers)
    try:
        yield factory
        factory.stop_shared()
    finally:
        servers.remove()


@pytest.fixture(scope="module")
def own_platform(platforms: Platforms) -> Iterator[Callable[..., Platform]]:
    """`own_platform(postgres=..., redis=..., replicas=..., env=...)`: a new platform for the tests that break
    one (kill or freeze its services, stop its Redis) or must see it fresh; stopped and cleaned after the module."""
    started: list[Platform] = []

    def start(**needs: Any) -> Platform:
        started.append(platforms.start(**needs))
        return started[-1]

    yield start
    platforms.stop_each(started)


@pytest.fixture(scope="module")
def private_redis() -> Iterator[PrivateRedis]:
    """A Redis server of the module's own, to stop at will (the machine's is never stopped)."""
    redis = PrivateRedis()
    redis.start()
    yield redis
    redis.stop()


class BlockingConnection:
    """One PostgreSQL session driven step by step from a synchronous test (asyncpg on a loop of its own)."""

    def __init__(self, url: str) -> None:
        import asyncpg

        self._loop = asyncio.new_event_loop()
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._connection = self._loop.run_until_complete(asyncpg.connect(dsn))

    def execute(self, sql: str) -> list[tuple]:
        rows = self._loop.run_until_complete(self._connection.fetch(sql))
        return [tuple(row) for row in rows]

    def close(self) -> None:
        self._loop.run_until_complete(self._connection.close())
        self._loop.close()
