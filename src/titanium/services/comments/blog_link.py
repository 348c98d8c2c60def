"""What the comments service asks of the blog, and what it tells it.

It asks whether a post is public, and who wrote it, before taking a comment
on it (the public post API: a draft or a scheduled post is unknown there). It
tells the blog a post's comment count through its outbox (core/outbox.py),
at an internal route the gateway never forwards: each count carries a
version, and the blog keeps the newest, so counts may arrive late, twice or
out of order.
"""

from __future__ import annotations

import httpx

from titanium.core.outbox import Event
from titanium.services.comments.repository import COUNT_CHANGED


class BlogUnavailable(Exception):
    """The blog did not say whether the post is public (down, slow, or an error of its own)."""


class BlogLink:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client  # its base URL is the blog's

    async def public_post_author(self, post_id: int) -> int | None:
        """The id of the public post's author; None when there is no such public post."""
        try:
            answer = await self.client.get(f"/blog/api/posts/{post_id}")
        except httpx.HTTPError as exc:
            raise BlogUnavailable(repr(exc)) from exc
        if answer.status_code == 404:
            return None
        if answer.status_code != 200:
            raise BlogUnavailable(f"the blog answered {answer.status_code}")
        return int(answer.json()["author_id"])

    async def deliver(self, event: Event) -> None:
        """Deliver one outbox event (a raise means not delivered: the relay tries again later)."""
        if event.topic != COUNT_CHANGED:
            return  # nothing else is written to this outbox; an unknown topic would block the rest forever
        payload = event.payload
        answer = await self.client.put(f"/internal/posts/{payload['post_id']}/comment-count",
                                       json={"count": payload["count"], "version": payload["version"]})
        answer.raise_for_status()
