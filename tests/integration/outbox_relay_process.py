"""A blog outbox relay in a process of its own, for a test to kill: `python outbox_relay_process.py DB_URL TARGET_URL`."""

from __future__ import annotations

import asyncio
import sys

import httpx

from titanium.core.database import create_engine
from titanium.core.outbox import Event, OutboxRelay
from titanium.services.blog.tables import outbox


async def main(database_url: str, target: str) -> None:
    engine = create_engine(database_url)
    async with httpx.AsyncClient(timeout=600) as client:

        async def deliver(event: Event) -> None:
            answer = await client.post(target, json={"id": event.id, "topic": event.topic, "payload": event.payload})
            answer.raise_for_status()

        await OutboxRelay(engine, outbox, deliver, lease_seconds=1.0, poll_seconds=0.05).run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
