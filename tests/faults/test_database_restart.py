"""A PostgreSQL restart costs no request: the pool swaps the connections the server closed for new ones as they are taken."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from tests.faults.servers import PrivatePostgres
from titanium.core.database import create_engine, warm_pool

POOL_SIZE = 3


async def test_every_pooled_connection_works_at_first_try_after_a_restart():
    postgres = PrivatePostgres()
    postgres.start()
    engine = create_engine(f"{postgres.url}/postgres", pool_size=POOL_SIZE)
    try:
        await warm_pool(engine)
        assert engine.pool.checkedin() == POOL_SIZE
        # In threads, so that the event loop runs meanwhile, as a service's does.
        await asyncio.to_thread(postgres.stop)
        await asyncio.to_thread(postgres.start)
        for _ in range(POOL_SIZE):  # the pool hands its connections out in turn: each is tried once
            async with engine.connect() as conn:
                assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()
        postgres.remove()
