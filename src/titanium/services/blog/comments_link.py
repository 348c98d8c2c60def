"""The blog's link to the comments service: a post page's comments, and the news that a post was deleted.

A post's page asks the comments service for its comments with a short
deadline behind a breaker (core/breaker.py): while that service is down or
slow, the page is sent at once without them, saying they are unavailable,
and the post itself is never held up. A deleted post's comments go through
the blog's outbox (core/outbox.py): `delete_post` writes the event in its own
transaction, and the relay here delivers it until the comments service has
it, whatever crashes in between.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from titanium.core.breaker import Breaker, DependencyDown
from titanium.core.http import http_client
from titanium.core.outbox import Event, OutboxRelay
from titanium.services.blog.repository import POST_DELETED
from titanium.services.blog.tables import outbox

# A page waits this long for its comments at most; then, and for a pause after, it goes without.
COMMENTS_DEADLINE_SECONDS = 0.8
COMMENTS_PAUSE_SECONDS = 5.0
# An outbox delivery is no page: it may wait longer (and is tried again if it fails).
DELIVERY_TIMEOUT_SECONDS = 5.0


class CommentsLink:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client  # its base URL is the comments service's
        self.breaker = Breaker("comments service", pause_seconds=COMMENTS_PAUSE_SECONDS,
                               deadline_seconds=COMMENTS_DEADLINE_SECONDS)

    async def comments_of(self, post_id: int) -> list[dict[str, Any]] | None:
        """The post's comments, oldest first; None when the comments service cannot give them now."""

        async def fetch() -> list[dict[str, Any]]:
            answer = await self.client.get(f"/blog/api/posts/{post_id}/comments")
            answer.raise_for_status()
            found: list[dict[str, Any]] = answer.json()
            return found

        try:
            return await self.breaker.call(fetch)
        except DependencyDown:
            return None

    async def deliver(self, event: Event) -> None:
        """Deliver one of the blog's outbox events (a raise: not delivered, tried again later)."""
        if event.topic == POST_DELETED:
            answer = await self.client.delete(f"/internal/posts/{event.payload['post_id']}/comments",
                                              timeout=DELIVERY_TIMEOUT_SECONDS)
            answer.raise_for_status()


@asynccontextmanager
async def comments_link(url: str, engine: AsyncEngine) -> AsyncIterator[CommentsLink]:
    """The link, with the blog's outbox relay delivering to it, for the life of the service."""
    async with http_client(0.5, COMMENTS_DEADLINE_SECONDS, base_url=url, service="comments") as client:
        link = CommentsLink(client)
        async with OutboxRelay(engine, outbox, link.deliver).running():
            yield link
