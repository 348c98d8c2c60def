"""Alembic, one history a database, run from code (`titanium migrate`, `titanium up`).

Each service that owns a database keeps its history in
``services/<name>/migrations``; their env.py files call `run_env` here.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from titanium.core.database import advisory_xact_lock, async_url
from titanium.core.logging import get_logger

MIGRATION_LOCK = "titanium.migrations"
SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"
log = get_logger(__name__)


def alembic_config(service: str, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    config.set_main_option("sqlalchemy.url", async_url(database_url).render_as_string(hide_password=False).replace("%", "%%"))
    return config


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    """Bring the service's database to `revision`, creating a PostgreSQL database that is missing."""
    ensure_database(database_url)
    command.upgrade(alembic_config(service, database_url), revision)


def ensure_database(database_url: str) -> None:
    """Make the database the URL names if it is missing: a SQLite file's folder, a PostgreSQL database."""
    url = async_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() != "postgresql" or not url.database:
        return
    asyncio.run(_create_postgres_database(url.render_as_string(hide_password=False), url.database))


async def _create_postgres_database(url: str, name: str) -> None:
    admin = create_async_engine(make_url(url).set(database="postgres"), poolclass=NullPool,
                                isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
            if not exists:
                quoted = admin.dialect.identifier_preparer.quote(name)
                await conn.execute(text(f"CREATE DATABASE {quoted}"))
                log.info("database created", database=name)
    finally:
        await admin.dispose()


def run_env(target_metadata: MetaData) -> None:
    """The body of every env.py: run this history's migrations online, over the async driver."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None

    def migrate(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # SQLite alters tables by copying them; batch mode does that.
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Replicas starting together (init containers) take turns:
                # the next one finds the work done. The lock ends with the
                # migration's transaction.
                connection.execute(advisory_xact_lock(MIGRATION_LOCK))
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(migrate)
                await connection.commit()
        finally:
            await engine.dispose()

    asyncio.run(run())
