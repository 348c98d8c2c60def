"""Each test gets a freshly migrated database, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import pytest

from titanium.core import migrations
from titanium.core.database import create_engine, create_read_engine
from titanium.services.blog.repository import BlogRepository


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def migrated_database(service: str, backend: str, request: pytest.FixtureRequest, tmp_path) -> str:
    # Synchronous on purpose: Alembic runs its own event loop.
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / f'{service}.db'}"
    else:
        url = request.getfixturevalue("postgres_databases").new(service)
    migrations.upgrade(service, url)
    return url


@pytest.fixture
def blog_database(backend, request, tmp_path) -> str:
    return migrated_database("blog", backend, request, tmp_path)


@pytest.fixture
def users_database(backend, request, tmp_path) -> str:
    return migrated_database("users", backend, request, tmp_path)


@pytest.fixture
def comments_database(backend, request, tmp_path) -> str:
    return migrated_database("comments", backend, request, tmp_path)


@pytest.fixture
async def blog_engine(blog_database):
    engine = create_engine(blog_database)
    yield engine
    await engine.dispose()


@pytest.fixture
async def users_engine(users_database):
    engine = create_engine(users_database)
    yield engine
    await engine.dispose()


@pytest.fixture
async def blog(blog_engine, blog_database):
    # As the service makes it: on SQLite, its reads on read-only connections of their own.
    reader = create_read_engine(blog_database, blog_engine)
    yield BlogRepository(blog_engine, reader)
    await reader.dispose()
