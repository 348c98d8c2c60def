"""The comments database: a post's comments, writing and deleting them, and the count events for the blog.

Every change of a post's comments takes the post's next count version and
writes the new count, with that version, to the outbox in the same
transaction (core/outbox.py): the blog hears of every change that committed,
and of none that did not, even across a crash. The version is taken first
(an UPDATE that locks the post's row), so that two concurrent changes count
one after the other and the later count carries the higher version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from titanium.core.database import insert_ignoring_conflicts
from titanium.core.outbox import enqueue, pending_count
from titanium.core.timestamps import utcnow
from titanium.services.comments.tables import comments, outbox, posts

COUNT_CHANGED = "comment.count"


class PostGone(Exception):
    """The blog said the post was deleted: it takes no comment any more."""


class _NoSuchComment(Exception):
    """Rolls back a deletion that found nothing to delete (its version stays as it was)."""


@dataclass(frozen=True)
class Found:
    """A comment as its deletion needs it: who wrote it, and who wrote its post."""

    author_id: int
    post_author_id: int


def _comment(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {"id": row["id"], "post_id": row["post_id"], "body": row["body"], "html": row["html"],
            "author": row["author"], "author_id": row["author_id"], "created_at": row["created_at"].isoformat()}


_columns = (comments.c.id, comments.c.post_id, comments.c.body, comments.c.html, comments.c.author,
            comments.c.author_id, comments.c.created_at)


class CommentRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def list_for(self, post_id: int) -> list[dict[str, Any]]:
        """The post's comments, oldest first."""
        statement = select(*_columns).where(comments.c.post_id == post_id).order_by(comments.c.id)
        async with self.engine.connect() as conn:
            return [_comment(row) for row in (await conn.execute(statement)).mappings()]

    async def known_author(self, post_id: int) -> int | None:
        """The post's author as this service learnt it (None before its first comment); PostGone once deleted."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(posts.c.author_id, posts.c.deleted)
                                      .where(posts.c.post_id == post_id))).one_or_none()
        if row is not None and row.deleted:
            raise PostGone(post_id)
        return None if row is None else int(row.author_id)

    async def create(self, post_id: int, post_author_id: int, body: str, html: str, author: str,
                     author_id: int) -> dict[str, Any]:
        """Write the comment and its post's new count (outbox); PostGone when the post was deleted."""
        async with self.engine.begin() as conn:
            await conn.execute(insert_ignoring_conflicts(conn.dialect.name, posts)
                               .values(post_id=post_id, author_id=post_author_id, count_version=0, deleted=False))
            await self._next_version(conn, post_id)
            row = (await conn.execute(
                comments.insert().values(post_id=post_id, body=body, html=html, author=author, author_id=author_id,
                                         created_at=utcnow()).returning(*_columns))).mappings().one()
            await self._count_changed(conn, post_id)
        return _comment(row)

    async def find(self, post_id: int, comment_id: int) -> Found | None:
        statement = (select(comments.c.author_id, posts.c.author_id.label("post_author_id"))
                     .join(posts, posts.c.post_id == comments.c.post_id)
                     .where(comments.c.id == comment_id, comments.c.post_id == post_id))
        async with self.engine.connect() as conn:
            row = (await conn.execute(statement)).one_or_none()
        return None if row is None else Found(row.author_id, row.post_author_id)

    async def delete(self, post_id: int, comment_id: int) -> bool:
        """Delete the comment and send its post's new count; whether there was such a comment."""
        try:
            async with self.engine.begin() as conn:
                await self._next_version(conn, post_id)
                gone = await conn.scalar(delete(comments).where(comments.c.id == comment_id,
                                                                comments.c.post_id == post_id).returning(comments.c.id))
                if gone is None:
                    raise _NoSuchComment
                await self._count_changed(conn, post_id)
        except _NoSuchComment:
            return False
        return True

    async def post_deleted(self, post_id: int) -> int:
        """The blog deleted the post: its comments go, and a tombstone refuses new ones. The number removed.

        Taken calmly twice (the blog's outbox delivers at least once).
        """
        async with self.engine.begin() as conn:
            await conn.execute(insert_ignoring_conflicts(conn.dialect.name, posts)
                               .values(post_id=post_id, author_id=0, count_version=0, deleted=True))
            await conn.execute(update(posts).where(posts.c.post_id == post_id).values(deleted=True))
            result = await conn.execute(delete(comments).where(comments.c.post_id == post_id))
        return int(result.rowcount or 0)

    async def counts(self) -> dict[str, int]:
        async with self.engine.connect() as conn:
            total = await conn.scalar(select(func.count()).select_from(comments))
            pending = await pending_count(conn, outbox)
        return {"comment_count": int(total or 0), "outbox_pending": pending}

    @staticmethod
    async def _next_version(conn: AsyncConnection, post_id: int) -> None:
        # Locks the post's row until the transaction ends: changes of one post's count take turns.
        found = await conn.scalar(update(posts).where(posts.c.post_id == post_id, posts.c.deleted.is_(False))
                                  .values(count_version=posts.c.count_version + 1).returning(posts.c.post_id))
        if found is None:
            raise PostGone(post_id)

    @staticmethod
    async def _count_changed(conn: AsyncConnection, post_id: int) -> None:
        count = await conn.scalar(select(func.count()).select_from(comments).where(comments.c.post_id == post_id))
        version = await conn.scalar(select(posts.c.count_version).where(posts.c.post_id == post_id))
        await enqueue(conn, outbox, COUNT_CHANGED, {"post_id": post_id, "count": int(count or 0),
                                                     "version": int(version or 0)})
