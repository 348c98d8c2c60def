"""The only code that speaks SQL to the blog database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Select, delete, exists, func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from titanium.core.database import insert_ignoring_conflicts, lock_for_transaction
from titanium.core.idempotency import KeyedRequest, KeyUsedForAnotherRequest
from titanium.core.logging import get_logger
from titanium.core.read_replicas import Read, ReadRouter
from titanium.core.timestamps import utcnow
from titanium.services.blog.content import EXCERPT_SOURCE_LENGTH, excerpt, first_free_color, normalise_name, slugify
from titanium.services.blog.tables import categories, posts

log = get_logger(__name__)

# A write that meets a concurrent one (a category deleted under it, a colour
# taken a moment before) is tried again this many times.
ATTEMPTS = 5


@dataclass(frozen=True)
class CategoryRef:
    """A post's category as the client names it: by name (made on first use) or by id."""

    name: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class Ownership:
    author_id: int
    category_slug: str


class Created(NamedTuple):
    post: dict[str, Any]
    replayed: bool  # made by an earlier request with the same Idempotency-Key, not by this one


class UnknownCategory(Exception):
    pass


class ConcurrentChange(Exception):
    """A write kept meeting concurrent writes; the client may simply try again."""


_category_columns = (categories.c.id, categories.c.name, categories.c.slug, categories.c.color)
_post_columns = (
    posts.c.id, posts.c.title, posts.c.author, posts.c.author_id, posts.c.created_at, posts.c.updated_at,
    categories.c.id.label("category_id"), categories.c.name.label("category_name"),
    categories.c.slug.label("category_slug"), categories.c.color.label("category_color"),
)


def _category(row: RowMapping) -> dict[str, Any]:
    return {"id": row["category_id"], "name": row["category_name"], "slug": row["category_slug"],
            "color": row["category_color"]}


def _summary(row: RowMapping) -> dict[str, Any]:
    return {
        "id": row["id"], "title": row["title"], "author": row["author"],
        "created_at": row["created_at"].isoformat(), "excerpt": excerpt(row["head"]),
        "category": _category(row),
    }


def _full(row: RowMapping) -> dict[str, Any]:
    return {
        "id": row["id"], "title": row["title"], "content": row["content"], "author": row["author"],
        "author_id": row["author_id"], "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(), "category": _category(row),
    }


def _rows(statement: Select[Any]) -> Read[Sequence[RowMapping]]:
    async def read(conn: AsyncConnection) -> Sequence[RowMapping]:
        return (await conn.execute(statement)).mappings().all()

    return read


class BlogRepository:
    def __init__(self, engine: AsyncEngine, reads: ReadRouter | AsyncEngine | None = None) -> None:
        self.engine = engine  # the writes, and the reads inside them
        # The reads on their own: to a read replica that has what they must see
        # (core/read_replicas.py), else to the primary's readers (an engine
        # given here: database.create_read_engine).
        self.reads = reads if isinstance(reads, ReadRouter) else ReadRouter(reads or engine, service="blog")

    # --- reading -------------------------------------------------------
    async def list_posts(self, offset: int, limit: int, category_slug: str | None,
                         author: str | None = None) -> list[dict[str, Any]]:
        """Posts newest first, one category's or one author's when given."""
        statement = (
            select(*_post_columns, func.substr(posts.c.content, 1, EXCERPT_SOURCE_LENGTH).label("head"))
            .join(categories, posts.c.category_id == categories.c.id)
            .order_by(posts.c.created_at.desc(), posts.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        if category_slug is not None:
            statement = statement.where(categories.c.slug == category_slug)
        if author is not None:
            statement = statement.where(posts.c.author == author)
        return [_summary(row) for row in await self.reads.run(_rows(statement))]

    async def recent_posts(self, limit: int, category_slug: str | None) -> list[dict[str, Any]]:
        """The newest posts with their whole content (for the feeds)."""
        statement = (
            select(*_post_columns, posts.c.content)
            .join(categories, posts.c.category_id == categories.c.id)
            .order_by(posts.c.created_at.desc(), posts.c.id.desc())
            .limit(limit)
        )
        if category_slug is not None:
            statement = statement.where(categories.c.slug == category_slug)
        return [_full(row) for row in await self.reads.run(_rows(statement))]

    async def count_posts(self, category_slug: str | None, author: str | None = None) -> int:
        """How many posts a list holds: every post, one category's or one author's (for the pages' page numbers)."""
        statement = select(func.count()).select_from(posts)
        if category_slug is not None:
            statement = (select(func.count()).select_from(posts.join(categories, posts.c.category_id == categories.c.id))
                         .where(categories.c.slug == category_slug))
        if author is not None:
            statement = statement.where(posts.c.author == author)
        count: int | None = await self.reads.run(lambda conn: conn.scalar(statement))
        return int(count or 0)

    async def post_contents(self, post_ids: list[int]) -> dict[int, str]:
        """The whole text of each of these posts, by id (a list shows how long each takes to read)."""
        if not post_ids:
            return {}
        rows = await self.reads.run(_rows(select(posts.c.id, posts.c.content).where(posts.c.id.in_(post_ids))))
        return {row["id"]: row["content"] for row in rows}

    async def post_index(self, limit: int) -> list[dict[str, Any]]:
        """Every post's id, title, author and last change, newest first (for the sitemap)."""
        statement = (
            select(posts.c.id, posts.c.title, posts.c.author, posts.c.updated_at)
            .order_by(posts.c.id.desc())
            .limit(limit)
        )
        return [{"id": row["id"], "title": row["title"], "author": row["author"],
                 "updated_at": row["updated_at"].isoformat()} for row in await self.reads.run(_rows(statement))]

    async def get_post(self, post_id: int) -> dict[str, Any] | None:
        return await self.reads.run(lambda conn: self._get_post(conn, post_id))

    @staticmethod
    async def _get_post(conn: AsyncConnection, post_id: int) -> dict[str, Any] | None:
        statement = (
            select(*_post_columns, posts.c.content)
            .join(categories, posts.c.category_id == categories.c.id)
            .where(posts.c.id == post_id)
        )
        row = (await conn.execute(statement)).mappings().one_or_none()
        return _full(row) if row else None

    async def ownership(self, post_id: int) -> Ownership | None:
        """Who wrote the post and where it is filed, or None when there is no such post.

        Read on the primary: it decides a write, which must see the post as it is now.
        """
        statement = (
            select(posts.c.author_id, categories.c.slug)
            .join(categories, posts.c.category_id == categories.c.id)
            .where(posts.c.id == post_id)
        )
        async with self.reads.primary.connect() as conn:
            row = (await conn.execute(statement)).one_or_none()
        return None if row is None else Ownership(author_id=row.author_id, category_slug=row.slug)

    async def list_categories(self) -> list[dict[str, Any]]:
        post_count = func.count(posts.c.id).label("post_count")
        statement = (
            select(*_category_columns, post_count)
            .outerjoin(posts, posts.c.category_id == categories.c.id)
            .group_by(*_category_columns)
            .order_by(categories.c.name)
        )
        return [{"id": row["id"], "name": row["name"], "slug": row["slug"], "color": row["color"],
                 "post_count": row["post_count"]} for row in await self.reads.run(_rows(statement))]

    async def counts(self) -> dict[str, int]:
        return await self.reads.run(self._counts)

    @staticmethod
    async def _counts(conn: AsyncConnection) -> dict[str, int]:
        post_count = await conn.scalar(select(func.count()).select_from(posts))
        category_count = await conn.scalar(select(func.count()).select_from(categories))
        return {"post_count": int(post_count or 0), "category_count": int(category_count or 0)}

    # --- writing -------------------------------------------------------
    async def create_post(self, title: str, content: str, author: str, author_id: int, category: CategoryRef,
                          keyed: KeyedRequest | None = None) -> Created:
        """The new post; for a keyed request this database has already done, the post it made then.

        Raises KeyUsedForAnotherRequest when the key was recorded with another request.
        """
        replayed = False

        async def write(conn: AsyncConnection) -> int:
            nonlocal replayed
            now = utcnow()
            category_id = await self._category_id(conn, category)
            # A keyed insert skips a key that a post holds already (one statement,
            # no lookup first: a replay is rare); an unkeyed one has no key to meet.
            insert = posts.insert() if keyed is None else insert_ignoring_conflicts(conn.dialect.name, posts)
            made = await conn.scalar(
                insert.values(title=title, content=content, author=author, author_id=author_id,
                              category_id=category_id, created_at=now, updated_at=now,
                              request_key=keyed.key if keyed else None,
                              request_fingerprint=keyed.fingerprint if keyed else None)
                .returning(posts.c.id)
            )
            if made is None:  # this key's create was done before
                assert keyed is not None
                replayed = True
                return await self._made_by(conn, keyed)
            return int(made)

        post = await self._write_post(write)
        assert post is not None  # an insert always yields its post
        return Created(post, replayed)

    @staticmethod
    async def _made_by(conn: AsyncConnection, keyed: KeyedRequest) -> int:
        """The id of the post that this key's create made."""
        earlier = (await conn.execute(select(posts.c.id, posts.c.request_fingerprint)
                                      .where(posts.c.request_key == keyed.key))).first()
        if earlier is None:  # deleted since the insert met it
            raise ConcurrentChange
        if earlier.request_fingerprint != keyed.fingerprint:
            raise KeyUsedForAnotherRequest
        post_id: int = earlier.id
        return post_id

    async def update_post(self, post_id: int, changes: dict[str, Any], category: CategoryRef | None) -> dict[str, Any] | None:
        """The post after the change, or None when there is no such post."""
        previous_category: int | None = None

        async def write(conn: AsyncConnection) -> int | None:
            nonlocal previous_category
            previous_category = await conn.scalar(select(posts.c.category_id).where(posts.c.id == post_id))
            if previous_category is None:
                return None
            values = dict(changes, updated_at=utcnow())
            if category is not None:
                values["category_id"] = await self._category_id(conn, category)
            await conn.execute(update(posts).where(posts.c.id == post_id).values(**values))
            return post_id

        post = await self._write_post(write)
        if post is not None and previous_category != post["category"]["id"]:
            await self._drop_if_empty(previous_category)
        return post

    async def delete_post(self, post_id: int) -> bool:
        async with self.engine.begin() as conn:
            category_id = await conn.scalar(delete(posts).where(posts.c.id == post_id).returning(posts.c.category_id))
        if category_id is None:
            return False
        await self._drop_if_empty(category_id)
        return True

    async def _write_post(self, write: Any) -> dict[str, Any] | None:
        for _ in range(ATTEMPTS):
            try:
                async with self.engine.begin() as conn:
                    post_id = await write(conn)
                    return None if post_id is None else await self._get_post(conn, post_id)
            except IntegrityError as exc:
                # The category was removed (emptied by a concurrent delete)
                # between finding it and pointing the post at it: find or
                # make it again.
                log.info("post write met a concurrent change; trying again", error=str(exc.orig))
        raise ConcurrentChange

    async def _category_id(self, conn: AsyncConnection, ref: CategoryRef) -> int:
        if ref.id is not None:
            found = await conn.scalar(select(categories.c.id).where(categories.c.id == ref.id))
            if found is None:
                raise UnknownCategory(f"no category with id {ref.id}")
            return found
        assert ref.name is not None
        return await self._get_or_create_category(conn, normalise_name(ref.name))

    @staticmethod
    async def _get_or_create_category(conn: AsyncConnection, name: str) -> int:
        slug = slugify(name)
        found = await conn.scalar(select(categories.c.id).where(categories.c.slug == slug))
        if found is not None:
            return found
        # New categories are made one at a time, so that each sees the
        # colours of the one before and takes another. The lock lasts until
        # this post's transaction ends; only first uses of a name take it.
        await lock_for_transaction(conn, "blog.categories.create")
        tried: set[str] = set()
        for _ in range(ATTEMPTS):
            found = await conn.scalar(select(categories.c.id).where(categories.c.slug == slug))
            if found is not None:
                return found
            used = set((await conn.scalars(select(categories.c.color))).all())
            color = first_free_color(used | tried)
            # ON CONFLICT DO NOTHING as a second guard: a conflict skips the
            # insert (no error, no aborted transaction) and the next round
            # finds the name or takes another colour.
            created = await conn.scalar(
                insert_ignoring_conflicts(conn.dialect.name, categories)
                .values(name=name, slug=slug, color=color, created_at=utcnow())
                .returning(categories.c.id)
            )
            if created is not None:
                return created
            tried.add(color)
        raise ConcurrentChange

    async def _drop_if_empty(self, category_id: int | None) -> None:
        """Remove a category that no post uses any more (housekeeping: a failure is only logged)."""
        if category_id is None:
            return
        statement = delete(categories).where(
            categories.c.id == category_id, ~exists().where(posts.c.category_id == category_id)
        )
        try:
            async with self.engine.begin() as conn:
                await conn.execute(statement)
        except IntegrityError:
            pass  # a post arrived in it meanwhile: the category stays, rightly
