"""The only code that speaks SQL to the blog database.

Who may see a post: a published post whose time has come is public; a draft,
or a post scheduled for later, only its author. Every list reads newest first
(`published_at DESC, id DESC`) from an index range, a page at a time, after a
cursor or (for the old clients) at an offset; search ranks by relevance. The
model and its reasons: docs/adr/0015-blog-data-model.md.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import orjson
from sqlalchemy import (
    ColumnElement,
    Double,
    FromClause,
    Select,
    and_,
    bindparam,
    case,
    cast,
    column,
    delete,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    true,
    tuple_,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from titanium.core.database import insert_ignoring_conflicts, lock_for_transaction
from titanium.core.idempotency import KeyedRequest, KeyUsedForAnotherRequest
from titanium.core.logging import get_logger
from titanium.core.outbox import enqueue, pending_count
from titanium.core.read_replicas import Read, ReadRouter
from titanium.core.timestamps import UTCDateTime, utcnow
from titanium.services.blog.content import (
    EXCERPT_SOURCE_LENGTH,
    checked_name,
    checked_tags,
    excerpt,
    first_free_color,
    slugify,
)
from titanium.services.blog.cursors import Key, make_cursor, read_cursor
from titanium.services.blog.rendering import words_of
from titanium.services.blog.search_terms import (
    MARK_END,
    MARK_START,
    fts5_match,
    marked_html,
    query_words,
    tsquery_text,
)
from titanium.services.blog.tables import (
    DESCRIPTION_LENGTH,
    DRAFT,
    MARKDOWN,
    PUBLISHED,
    SEARCH_CONFIG,
    SEARCH_TABLE,
    SEARCH_VECTOR,
    SEED,
    categories,
    favourites,
    outbox,
    post_tags,
    posts,
    tags,
)

log = get_logger(__name__)

# A write that meets a concurrent one (a category deleted under it, a colour
# taken a moment before) is tried again this many times.
ATTEMPTS = 5
BODY_TEXT_LIMIT = 40_000  # above any content's length: the whole text, never cut
MAX_FOLLOWED_AUTHORS = 1_000
# Search ranks the newest posts that match, this many at most. Ranking every
# match read and scored each one: a word in most posts took 0.5 to 1.3 s at
# 100,000 posts (both engines), against tens of milliseconds for these.
SEARCH_CANDIDATES = 1_000
POST_DELETED = "post.deleted"


@dataclass(frozen=True)
class CategoryRef:
    """A post's category as the client names it: by name (made on first use) or by id."""

    name: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class Ownership:
    author_id: int
    category_slug: str
    tag_slugs: tuple[str, ...] = ()
    public: bool = True  # on the public lists now (published, its time come)


class Created(NamedTuple):
    post: dict[str, Any]
    replayed: bool  # made by an earlier request with the same Idempotency-Key, not by this one


class Page(NamedTuple):
    posts: list[dict[str, Any]]
    next_cursor: str | None  # None on the last page


class UnknownCategory(Exception):
    pass


class ConcurrentChange(Exception):
    """A write kept meeting concurrent writes; the client may simply try again."""


class InvalidPost(ValueError):
    """A post's fields break a rule (publication, description, render mode); the message says which."""


@dataclass(frozen=True)
class PostList:
    """Which posts a list holds: all of them, or those of one filter (the reader is given apart)."""

    category_slug: str | None = None
    tag_slug: str | None = None
    author: str | None = None  # by name: the author pages
    author_id: int | None = None
    author_ids: tuple[int, ...] | None = None  # the authors a reader follows (from the users service): their feed
    favourited_by: int | None = None
    drafts: bool = False  # author_id's drafts, shown to that author only

    def scope(self) -> str:
        """The list's name in its cursors: a cursor of one list is refused by another."""
        parts = [f"{name}={value}" for name, value in sorted(vars(self).items()) if value not in (None, False)]
        return "posts?" + "&".join(parts)


# --- what a row becomes -------------------------------------------------------
_category_columns = (categories.c.id, categories.c.name, categories.c.slug, categories.c.color)
_post_columns = (
    posts.c.id, posts.c.title, posts.c.author, posts.c.author_id, posts.c.created_at, posts.c.updated_at,
    posts.c.status, posts.c.published_at, posts.c.description, posts.c.summary, posts.c.reading_minutes,
    posts.c.render_mode, posts.c.tag_names, posts.c.favourites_count, posts.c.comment_count,
    categories.c.id.label("category_id"), categories.c.name.label("category_name"),
    categories.c.slug.label("category_slug"), categories.c.color.label("category_color"),
)
_list_columns = (*_post_columns, func.substr(posts.c.content, 1, EXCERPT_SOURCE_LENGTH).label("head"))
_full_columns = (*_post_columns, posts.c.content)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _tags(tag_names: str) -> list[dict[str, str]]:
    return [{"name": name, "slug": slugify(name)} for name in orjson.loads(tag_names)]


def _common(row: Mapping[Any, Any]) -> dict[str, Any]:
    """What a post's summary in a list and the post itself both show."""
    return {
        "id": row["id"], "title": row["title"], "author": row["author"], "author_id": row["author_id"],
        "created_at": row["created_at"].isoformat(), "updated_at": row["updated_at"].isoformat(),
        "status": row["status"], "published_at": _iso(row["published_at"]), "description": row["description"],
        "summary": row["summary"], "reading_minutes": row["reading_minutes"], "tags": _tags(row["tag_names"]),
        "favourites_count": row["favourites_count"], "comment_count": row["comment_count"],
        "category": {"id": row["category_id"], "name": row["category_name"], "slug": row["category_slug"],
                     "color": row["category_color"]},
    }


def _summary(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {**_common(row), "excerpt": excerpt(row["head"])}


def _full(row: Mapping[Any, Any]) -> dict[str, Any]:
    post = {**_common(row), "content": row["content"], "render_mode": row["render_mode"]}
    if "favourited" in row:
        post["favourited"] = bool(row["favourited"])
    return post


# --- who sees what ------------------------------------------------------------
def _public(published_at: ColumnElement[Any], now: datetime) -> ColumnElement[bool]:
    # A draft's published_at is NULL (a CHECK constraint), which never compares true:
    # this one range condition is "published, and its time has come".
    return published_at <= bindparam("now", now, UTCDateTime)


def _visible_to(viewer_id: int | None, now: datetime) -> ColumnElement[bool]:
    public = _public(posts.c.published_at, now)
    return public if viewer_id is None else or_(public, posts.c.author_id == viewer_id)


class _ListQuery(NamedTuple):
    source: FromClause  # the table whose index holds the list's order: posts, post_tags or favourites
    where: list[ColumnElement[bool]]  # which posts, on `source` alone
    key: tuple[ColumnElement[Any], ColumnElement[Any]]  # the order, both DESC: (published_at, post id) of `source`
    until: datetime | None  # public lists: published at or before this time (None: drafts, or an author's own page)
    undated: bool = False  # drafts: every published_at is NULL, the id alone orders them

    def visible(self) -> list[ColumnElement[bool]]:
        return [] if self.until is None else [_public(self.key[0], self.until)]

    def after(self, key: Key) -> list[ColumnElement[bool]]:
        """The rows after `key` in the list's order.

        The key's own bound replaces the time bound when it implies it (a key
        no later than `until`): an index range has one upper bound, and with
        two SQLite takes the time's and reads from the top down to the key.
        """
        first, post_id = self.key
        if key.first is None:
            return [post_id < key.id]
        after = tuple_(first, post_id) < tuple_(bindparam("after_first", key.first, UTCDateTime), literal(key.id))
        implied = self.until is not None and isinstance(key.first, datetime) and key.first <= self.until
        return [after] if implied else [after, *self.visible()]

    def at_offset(self, offset: int) -> list[ColumnElement[bool]]:
        """The rows from the `offset`-th on: the key there is counted off the index alone (it covers the key), not sorted.

        That key is one of the list's rows, so its bound implies the time bound, as in `after`.
        """
        first, post_id = self.key
        bounds = [*self.where, *self.visible()]
        if self.undated:
            id_there = _newest_first(select(post_id).select_from(self.source).where(*bounds), self)
            return [post_id <= id_there.offset(offset).limit(1).scalar_subquery()]
        key_there = _newest_first(select(first, post_id).select_from(self.source).where(*bounds), self)
        return [tuple_(first, post_id) <= key_there.offset(offset).limit(1).scalar_subquery()]


def _list_query(which: PostList, viewer_id: int | None, now: datetime) -> _ListQuery:
    """The list's rows, filtered, as one range of one index: unordered, unlimited, not joined yet."""
    if which.tag_slug is not None:
        tag_id = select(tags.c.id).where(tags.c.slug == which.tag_slug).scalar_subquery()
        return _ListQuery(post_tags, [post_tags.c.tag_id == tag_id], (post_tags.c.published_at, post_tags.c.post_id), now)
    if which.favourited_by is not None:
        return _ListQuery(favourites, [favourites.c.user_id == which.favourited_by],
                          (favourites.c.published_at, favourites.c.post_id), now)
    key = (posts.c.published_at, posts.c.id)
    if which.drafts:
        # Only the author sees their drafts; anyone else an empty list.
        mine = which.author_id is not None and which.author_id == viewer_id
        return _ListQuery(posts, [posts.c.author_id == which.author_id, posts.c.published_at.is_(None),
                                  true() if mine else false()], key, None, undated=True)
    where = []
    if which.category_slug is not None:
        category_id = select(categories.c.id).where(categories.c.slug == which.category_slug).scalar_subquery()
        where.append(posts.c.category_id == category_id)
    if which.author is not None:
        where.append(posts.c.author == which.author)
    if which.author_ids is not None:
        where.append(posts.c.author_id.in_(which.author_ids[:MAX_FOLLOWED_AUTHORS]))
    if which.author_id is not None:
        where.append(posts.c.author_id == which.author_id)
    if which.author_id is not None and which.author_id == viewer_id:
        # Their own page shows them their scheduled posts too.
        return _ListQuery(posts, [*where, posts.c.published_at.is_not(None)], key, None)
    return _ListQuery(posts, where, key, now)


def _newest_first(statement: Select[Any], query: _ListQuery) -> Select[Any]:
    first, post_id = query.key
    return statement.order_by(first.desc(), post_id.desc())


def _select(query: _ListQuery, columns: Sequence[Any], bounds: list[ColumnElement[bool]]) -> Select[Any]:
    """The list's rows within `bounds` with `columns` of the post and its category, newest first."""
    joined = query.source
    if joined is not posts:
        joined = joined.join(posts, posts.c.id == query.key[1])
    statement = select(*columns).select_from(joined.join(categories, posts.c.category_id == categories.c.id))
    return _newest_first(statement.where(*query.where, *bounds), query)


def _best_first(matches: Select[Any], after: Key | None, offset: int, limit: int) -> Select[Any]:
    """One page of `matches` (id, score), best first, after the search cursor's `after` or at `offset`."""
    ranked = matches.subquery()
    page = select(ranked.c.id, ranked.c.score).order_by(ranked.c.score.desc(), ranked.c.id.desc())
    if after is not None:
        page = page.where(or_(ranked.c.score < after.first,
                              and_(ranked.c.score == after.first, ranked.c.id < after.id)))
    return page.offset(offset).limit(limit)


def _publication(status: str, published_at: datetime | None, now: datetime) -> datetime | None:
    """The published_at a post with this status and requested time gets."""
    if status == DRAFT:
        if published_at is not None:
            raise InvalidPost("a draft has no publication time; publish it (or schedule it) instead")
        return None
    if status != PUBLISHED:
        raise InvalidPost(f"status is '{DRAFT}' or '{PUBLISHED}'")
    if published_at is not None and published_at.tzinfo is None:
        raise InvalidPost("a publication time needs its time zone")
    return published_at or now


def _checked_fields(description: str | None, render_mode: str | None) -> None:
    if description is not None and len(description) > DESCRIPTION_LENGTH:
        raise InvalidPost(f"a description is at most {DESCRIPTION_LENGTH} characters")
    if render_mode is not None and render_mode not in (MARKDOWN, SEED):
        raise InvalidPost(f"render_mode is '{MARKDOWN}' or '{SEED}'")


def derived_fields(content: str) -> dict[str, Any]:
    """What a post stores computed from its content, at write time: no list renders Markdown."""
    words = words_of(content)
    return {"summary": words.summary, "reading_minutes": words.reading_minutes,
            "body_text": words.searchable[:BODY_TEXT_LIMIT]}


async def get_or_create_category(conn: AsyncConnection, name: str) -> int:
    """The id of the category of this (checked) name, made now if it is new."""
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


def _rows(statement: Select[Any]) -> Read[Sequence[RowMapping]]:
    async def read(conn: AsyncConnection) -> Sequence[RowMapping]:
        return (await conn.execute(statement)).mappings().all()

    return read


def _row(statement: Select[Any]) -> Read[RowMapping | None]:
    async def read(conn: AsyncConnection) -> RowMapping | None:
        return (await conn.execute(statement)).mappings().one_or_none()

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
        """Public posts newest first, one category's or one author's when given (the API's and pages' list)."""
        return (await self.list_page(PostList(category_slug=category_slug, author=author), offset=offset,
                                     limit=limit)).posts

    async def list_page(self, which: PostList, *, viewer_id: int | None = None, cursor: str | None = None,
                        offset: int = 0, limit: int = 20, with_favourited: bool = False) -> Page:
        """One page of a list, newest first, after `cursor` (or at `offset`); InvalidCursor for a cursor it did not give.

        One indexed query (a second one, for `favourited`, only when asked with a viewer).
        """
        if cursor is not None and offset:
            raise ValueError("give a cursor or an offset, not both")
        if which.author_ids == ():
            return Page([], None)
        query = _list_query(which, viewer_id, utcnow())
        if cursor is not None:
            bounds = query.after(read_cursor(cursor, which.scope(), None if which.drafts else datetime))
        elif offset:
            bounds = query.at_offset(offset)
        else:
            bounds = query.visible()
        statement = _select(query, _list_columns, bounds).limit(limit + 1)

        async def read(conn: AsyncConnection) -> tuple[Sequence[RowMapping], list[dict[str, Any]]]:
            rows = (await conn.execute(statement)).mappings().all()
            found = [_summary(row) for row in rows[:limit]]
            if with_favourited and viewer_id is not None:
                await self._mark_favourited(conn, found, viewer_id)
            return rows, found

        rows, found = await self.reads.run(read)
        more = len(rows) > limit
        return Page(found, self._next_cursor(which, rows[limit - 1]) if more else None)

    @staticmethod
    def _next_cursor(which: PostList, last: RowMapping) -> str:
        first = None if which.drafts else last["published_at"]
        return make_cursor(which.scope(), Key(first, last["id"]))

    @staticmethod
    async def _mark_favourited(conn: AsyncConnection, found: list[dict[str, Any]], viewer_id: int) -> None:
        ids = [post["id"] for post in found]
        kept = set((await conn.scalars(select(favourites.c.post_id)
                                       .where(favourites.c.user_id == viewer_id, favourites.c.post_id.in_(ids)))).all())
        for post in found:
            post["favourited"] = post["id"] in kept

    async def recent_posts(self, limit: int, category_slug: str | None,
                           tag_slug: str | None = None) -> list[dict[str, Any]]:
        """The newest public posts with their whole content (for the feeds: all, a category's or a tag's)."""
        query = _list_query(PostList(category_slug=category_slug, tag_slug=tag_slug), None, utcnow())
        rows = await self.reads.run(_rows(_select(query, _full_columns, query.visible()).limit(limit)))
        return [_full(row) for row in rows]

    async def count_posts(self, category_slug: str | None = None, author: str | None = None) -> int:
        """How many public posts a list holds (the pages' page numbers): counted off its index."""
        return await self.count(PostList(category_slug=category_slug, author=author))

    async def count(self, which: PostList) -> int:
        """How many public posts any list holds (a tag's, a reader's favourites, a feed): counted off its index."""
        if which.author_ids == ():
            return 0
        query = _list_query(which, None, utcnow())
        statement = select(func.count()).select_from(query.source).where(*query.where, *query.visible())
        count: int | None = await self.reads.run(lambda conn: conn.scalar(statement))
        return int(count or 0)

    async def post_index(self, limit: int) -> list[dict[str, Any]]:
        """Every public post's id, title, author and last change, newest first (for the sitemap)."""
        statement = (
            select(posts.c.id, posts.c.title, posts.c.author, posts.c.updated_at)
            .where(_public(posts.c.published_at, utcnow()))
            .order_by(posts.c.published_at.desc(), posts.c.id.desc())
            .limit(limit)
        )
        return [{"id": row["id"], "title": row["title"], "author": row["author"],
                 "updated_at": row["updated_at"].isoformat()} for row in await self.reads.run(_rows(statement))]

    async def get_post(self, post_id: int, viewer_id: int | None = None,
                       with_favourited: bool = False) -> dict[str, Any] | None:
        """The post, if `viewer_id` may see it (anyone a public one, only its author a draft or a scheduled one).

        With `with_favourited` and a viewer, `favourited` says whether the viewer keeps it. One query.
        """
        visible = _visible_to(viewer_id, utcnow())
        return await self.reads.run(lambda conn: self._get_post(conn, post_id, visible,
                                                                viewer_id if with_favourited else None))

    @staticmethod
    async def _get_post(conn: AsyncConnection, post_id: int, visible: ColumnElement[bool] | None = None,
                        favourited_by: int | None = None) -> dict[str, Any] | None:
        columns: list[Any] = list(_full_columns)
        if favourited_by is not None:
            columns.append(exists().where(favourites.c.post_id == posts.c.id, favourites.c.user_id == favourited_by)
                           .label("favourited"))
        statement = (
            select(*columns)
            .join(categories, posts.c.category_id == categories.c.id)
            .where(posts.c.id == post_id)
        )
        if visible is not None:
            statement = statement.where(visible)
        row = (await conn.execute(statement)).mappings().one_or_none()
        return _full(row) if row else None

    async def ownership(self, post_id: int) -> Ownership | None:
        """Who wrote the post, where it is filed and whether it is public, or None when there is no such post.

        Read on the primary: it decides a write, which must see the post as it is now.
        """
        statement = (
            select(posts.c.author_id, categories.c.slug, posts.c.tag_names, posts.c.published_at)
            .join(categories, posts.c.category_id == categories.c.id)
            .where(posts.c.id == post_id)
        )
        async with self.reads.primary.connect() as conn:
            row = (await conn.execute(statement)).one_or_none()
        if row is None:
            return None
        public = row.published_at is not None and row.published_at <= utcnow()
        return Ownership(author_id=row.author_id, category_slug=row.slug,
                         tag_slugs=tuple(tag["slug"] for tag in _tags(row.tag_names)), public=public)

    async def list_categories(self) -> list[dict[str, Any]]:
        """Every category, with its number of public posts."""
        post_count = func.count(posts.c.id).label("post_count")
        statement = (
            select(*_category_columns, post_count)
            .outerjoin(posts, and_(posts.c.category_id == categories.c.id, _public(posts.c.published_at, utcnow())))
            .group_by(*_category_columns)
            .order_by(categories.c.name)
        )
        return [{"id": row["id"], "name": row["name"], "slug": row["slug"], "color": row["color"],
                 "post_count": row["post_count"]} for row in await self.reads.run(_rows(statement))]

    async def popular_tags(self, limit: int = 20) -> list[dict[str, Any]]:
        """The tags of the most public posts, with their counts (a tag no public post has is not listed)."""
        post_count = func.count().label("post_count")
        counted = (
            select(post_tags.c.tag_id, post_count)
            .where(_public(post_tags.c.published_at, utcnow()))
            .group_by(post_tags.c.tag_id)
            .subquery()
        )
        statement = (
            select(tags.c.name, tags.c.slug, counted.c.post_count)
            .join(counted, counted.c.tag_id == tags.c.id)
            .order_by(counted.c.post_count.desc(), tags.c.slug)
            .limit(limit)
        )
        return [dict(row) for row in await self.reads.run(_rows(statement))]

    async def get_tag(self, slug: str) -> dict[str, Any] | None:
        """The tag and its number of public posts; None when there is no such tag or no public post has it."""
        statement = (
            select(tags.c.name, tags.c.slug, func.count().label("post_count"))
            .join(post_tags, post_tags.c.tag_id == tags.c.id)
            .where(tags.c.slug == slug, _public(post_tags.c.published_at, utcnow()))
            .group_by(tags.c.name, tags.c.slug)
        )
        row = await self.reads.run(_row(statement))
        return None if row is None else dict(row)

    async def due_scheduled(self, after: datetime, until: datetime) -> list[dict[str, Any]]:
        """Scheduled posts whose publication time is in (after, until]: a task drops the cached lists they now join.

        Only those that went public by themselves, after their last write: a post published by a write had
        its lists dropped by that write, and dropping them again would send the next reads of its family to
        the primary (core/read_replicas.py) for nothing.
        """
        statement = (
            select(posts.c.id, posts.c.published_at, posts.c.tag_names, categories.c.slug)
            .join(categories, posts.c.category_id == categories.c.id)
            .where(posts.c.published_at > bindparam("after", after, UTCDateTime),
                   posts.c.published_at <= bindparam("until", until, UTCDateTime),
                   posts.c.published_at > posts.c.updated_at)
            .order_by(posts.c.published_at, posts.c.id)
        )
        # On the primary: a scheduled post's time has come whatever a replica has replayed.
        async with self.reads.primary.connect() as conn:
            rows = (await conn.execute(statement)).all()
        return [{"id": row.id, "published_at": row.published_at.isoformat(), "category_slug": row.slug,
                 "tag_slugs": [tag["slug"] for tag in _tags(row.tag_names)]} for row in rows]

    async def counts(self) -> dict[str, int]:
        """The figures of /status."""
        now = utcnow()
        public = _public(posts.c.published_at, now)
        statement = select(
            func.count().label("post_count"),
            func.count().filter(public).label("published_count"),
            func.count().filter(posts.c.published_at.is_(None)).label("draft_count"),
            func.count().filter(posts.c.published_at > bindparam("now", now, UTCDateTime)).label("scheduled_count"),
            select(func.count()).select_from(categories).scalar_subquery().label("category_count"),
            select(func.count()).select_from(tags).scalar_subquery().label("tag_count"),
        ).select_from(posts)
        async def read(conn: AsyncConnection) -> tuple[RowMapping, int]:
            return (await conn.execute(statement)).mappings().one(), await pending_count(conn, outbox)

        row, pending = await self.reads.run(read)
        return {**{name: int(value or 0) for name, value in row.items()}, "outbox_pending": pending}

    # --- search --------------------------------------------------------
    async def search(self, query: str, viewer_id: int | None = None, cursor: str | None = None, offset: int = 0,
                     limit: int = 20, with_favourited: bool = False) -> Page:
        """Public posts matching every word of `query`, best first, as in a list, with `snippet` and `title_html`.

        `snippet` and `title_html` are HTML, escaped, the matched words in <mark>:
        safe to put in a page as they are. `query` is free text (search_terms.py);
        a query without words finds nothing. The newest SEARCH_CANDIDATES posts
        that match are ranked; a broader query is narrowed by another word.
        Drafts and scheduled posts are never found, whoever asks. InvalidCursor
        for a cursor it did not give.
        """
        if cursor is not None and offset:
            raise ValueError("give a cursor or an offset, not both")
        words = query_words(query)
        scope = "search?" + " ".join(words)
        after = read_cursor(cursor, scope, float) if cursor is not None else None
        if not words:
            return Page([], None)
        async def read(conn: AsyncConnection) -> tuple[Sequence[Mapping[str, Any]], list[dict[str, Any]]]:
            find = self._search_sqlite if conn.dialect.name == "sqlite" else self._search_postgres
            rows = await find(conn, words, after, offset, limit + 1)
            found = [{**_summary(row), "score": row["score"], "snippet": marked_html(row["snippet"]),
                      "title_html": marked_html(row["title_marked"])} for row in rows[:limit]]
            if with_favourited and viewer_id is not None:
                await self._mark_favourited(conn, found, viewer_id)
            return rows, found

        rows, found = await self.reads.run(read)
        more = len(rows) > limit
        last = rows[limit - 1] if more else None
        return Page(found, make_cursor(scope, Key(float(last["score"]), last["id"])) if last else None)

    @staticmethod
    async def _search_sqlite(conn: AsyncConnection, words: list[str], after: Key | None, offset: int,
                             limit: int) -> list[dict[str, Any]]:
        # FTS5's auxiliary functions read the match of the row at hand, so the
        # ranking runs first (ids and scores only) and the snippets are made
        # afterwards for the page's rows alone.
        index = table(SEARCH_TABLE, column("rowid"))
        match = literal_column(SEARCH_TABLE).op("MATCH")(fts5_match(words))
        # bm25 is lower for a better match; the title weighs four times the body.
        score = (-func.bm25(literal_column(SEARCH_TABLE), 4.0, 1.0)).label("score")
        # The newest candidates come straight from the index, in rowid order, and
        # only they are scored (bm25 is computed in the full-text query itself).
        matches = (
            select(posts.c.id, score)
            .select_from(index.join(posts, posts.c.id == index.c.rowid))
            .where(match, _public(posts.c.published_at, utcnow()))
            .order_by(index.c.rowid.desc())
            .limit(SEARCH_CANDIDATES)
        )
        page = _best_first(matches, after, offset, limit)
        scores = {row.id: row.score for row in (await conn.execute(page)).all()}
        if not scores:
            return []
        # The snippets are read over the range of ids the page spans, and made
        # for its own rows only: a MATCH asked for given ids merges a prefix
        # word's postings again for each id (250 ms for a page, against 17).
        in_page = index.c.rowid.in_(list(scores))
        marks = (literal(MARK_START), literal(MARK_END))
        snippets = (
            select(index.c.rowid,
                   case((in_page, func.snippet(literal_column(SEARCH_TABLE), 1, *marks, "…", 32))).label("snippet"),
                   case((in_page, func.highlight(literal_column(SEARCH_TABLE), 0, *marks))).label("title_marked"))
            .where(match, index.c.rowid.between(min(scores), max(scores)))
        )
        marked = {row.rowid: row for row in (await conn.execute(snippets)).all() if row.rowid in scores}
        statement = (
            select(*_list_columns)
            .join(categories, posts.c.category_id == categories.c.id)
            .where(posts.c.id.in_(list(marked)))
        )
        rows = {row["id"]: row for row in (await conn.execute(statement)).mappings().all()}
        return [{**rows[post_id], "score": score, "snippet": marked[post_id].snippet,
                 "title_marked": marked[post_id].title_marked}
                for post_id, score in scores.items() if post_id in rows]

    @staticmethod
    async def _search_postgres(conn: AsyncConnection, words: list[str], after: Key | None, offset: int,
                               limit: int) -> list[dict[str, Any]]:
        config: ColumnElement[Any] = literal_column(f"'{SEARCH_CONFIG}'::regconfig")
        query = func.to_tsquery(config, tsquery_text(words))
        vector: ColumnElement[Any] = literal_column(f"posts.{SEARCH_VECTOR}")
        candidates = (
            select(posts.c.id, vector.label("vector"))
            .where(vector.op("@@")(query), _public(posts.c.published_at, utcnow()))
            .order_by(posts.c.id.desc())
            .limit(SEARCH_CANDIDATES)
            .subquery()
        )
        # Scored outside the candidates' query: ts_rank reads each vector, for the candidates alone.
        matches = select(candidates.c.id, cast(func.ts_rank(candidates.c.vector, query), Double).label("score"))
        page = _best_first(matches, after, offset, limit).cte("page")
        options = f'StartSel="{MARK_START}", StopSel="{MARK_END}"'
        statement = (
            select(*_list_columns, page.c.score,
                   func.ts_headline(config, posts.c.body_text, query,
                                    options + ', MaxWords=35, MinWords=15, MaxFragments=2, FragmentDelimiter=" … "')
                   .label("snippet"),
                   func.ts_headline(config, posts.c.title, query, options + ", HighlightAll=true")
                   .label("title_marked"))
            .select_from(page.join(posts, posts.c.id == page.c.id)
                         .join(categories, posts.c.category_id == categories.c.id))
            .order_by(page.c.score.desc(), page.c.id.desc())
        )
        return [dict(row) for row in (await conn.execute(statement)).mappings().all()]

    # --- writing -------------------------------------------------------
    async def create_post(self, title: str, content: str, author: str, author_id: int, category: CategoryRef,
                          keyed: KeyedRequest | None = None, *, tags: Sequence[str] = (), status: str = PUBLISHED,
                          published_at: datetime | None = None, description: str | None = None,
                          render_mode: str = MARKDOWN) -> Created:
        """The new post; for a keyed request this database has already done, the post it made then.

        Published now unless `status` is 'draft' or `published_at` is given (a
        future time schedules it). Raises KeyUsedForAnotherRequest when the key
        was recorded with another request, InvalidName for a tag or category
        name no link could reach, InvalidPost for any other rule broken.
        """
        tag_names = checked_tags(tags)
        _checked_fields(description, render_mode)
        _publication(status, published_at, utcnow())  # refused before any work
        derived = derived_fields(content)
        replayed = False

        async def write(conn: AsyncConnection) -> int:
            nonlocal replayed
            now = utcnow()
            category_id = await self._category_id(conn, category)
            when = _publication(status, published_at, now)
            # A keyed insert skips a key that a post holds already (one statement,
            # no lookup first: a replay is rare); an unkeyed one has no key to meet.
            insert = posts.insert() if keyed is None else insert_ignoring_conflicts(conn.dialect.name, posts)
            made = await conn.scalar(
                insert.values(title=title, content=content, author=author, author_id=author_id,
                              category_id=category_id, created_at=now, updated_at=now,
                              request_key=keyed.key if keyed else None,
                              request_fingerprint=keyed.fingerprint if keyed else None,
                              status=status, published_at=when, description=description, render_mode=render_mode,
                              tag_names=orjson.dumps(tag_names).decode(), **derived)
                .returning(posts.c.id)
            )
            if made is None:  # this key's create was done before
                assert keyed is not None
                replayed = True
                return await self._made_by(conn, keyed)
            await self._add_tags(conn, int(made), tag_names, when)
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

    async def update_post(self, post_id: int, changes: dict[str, Any], category: CategoryRef | None, *,
                          tags: Sequence[str] | None = None) -> dict[str, Any] | None:
        """The post after the change, or None when there is no such post.

        `changes` holds any of title, content, description, render_mode; `tags`,
        when given, replace the post's tags.
        """
        tag_names = None if tags is None else checked_tags(tags)
        _checked_fields(changes.get("description"), changes.get("render_mode"))
        values = dict(changes)
        if "content" in values:
            values.update(derived_fields(values["content"]))
        previous_category: int | None = None
        dropped_tags: list[int] = []

        async def write(conn: AsyncConnection) -> int | None:
            nonlocal previous_category, dropped_tags
            before = (await conn.execute(select(posts.c.category_id, posts.c.published_at)
                                         .where(posts.c.id == post_id))).one_or_none()
            if before is None:
                return None
            previous_category = before.category_id
            row = dict(values, updated_at=utcnow())
            if category is not None:
                row["category_id"] = await self._category_id(conn, category)
            if tag_names is not None:
                row["tag_names"] = orjson.dumps(tag_names).decode()
                dropped_tags = await self._remove_tags(conn, post_id)
                await self._add_tags(conn, post_id, tag_names, before.published_at)
            await conn.execute(update(posts).where(posts.c.id == post_id).values(**row))
            return post_id

        post = await self._write_post(write)
        if post is not None and previous_category != post["category"]["id"]:
            await self._drop_if_empty(previous_category)
        await self._drop_unused_tags(dropped_tags)
        return post

    async def publish(self, post_id: int, at: datetime | None = None) -> dict[str, Any] | None:
        """Make the post public at `at` (a future time schedules it), or now; a public post without `at` stays as it is.

        The post after the change, or None when there is no such post.
        """
        return await self._set_publication(post_id, PUBLISHED, at)

    async def schedule(self, post_id: int, at: datetime) -> dict[str, Any] | None:
        """Publish the post at a future time `at` (InvalidPost for a time that has passed)."""
        if at.tzinfo is None or at <= utcnow():
            raise InvalidPost("a scheduled time is in the future, with its time zone")
        return await self._set_publication(post_id, PUBLISHED, at)

    async def unpublish(self, post_id: int) -> dict[str, Any] | None:
        """Make the post a draft again (its publication time goes: publishing it again sets a new one)."""
        return await self._set_publication(post_id, DRAFT, None)

    async def _set_publication(self, post_id: int, status: str, at: datetime | None) -> dict[str, Any] | None:
        async def write(conn: AsyncConnection) -> int | None:
            now = utcnow()
            found = (await conn.execute(select(posts.c.published_at).where(posts.c.id == post_id))).one_or_none()
            if found is None:
                return None
            current = found.published_at
            already_public = status == PUBLISHED and at is None and current is not None and current <= now
            when = current if already_public else _publication(status, at, now)
            # Publishing or scheduling is a change of the post: due_scheduled tells a post that went public by
            # itself (published after its last write) from one published by a write (whose lists it dropped).
            changed = {} if already_public else {"updated_at": now}
            await conn.execute(update(posts).where(posts.c.id == post_id).values(status=status, published_at=when, **changed))
            # The copies that keep the tag and favourite lists one index range each.
            for copy in (post_tags, favourites):
                await conn.execute(update(copy).where(copy.c.post_id == post_id)
                                   .values(published_at=bindparam("when", when, UTCDateTime)))
            return post_id

        return await self._write_post(write)

    async def delete_post(self, post_id: int) -> bool:
        """Delete the post, its tags' links and its favourites; tell the other services (outbox) in the same transaction."""
        async with self.engine.begin() as conn:
            tag_ids = list((await conn.scalars(select(post_tags.c.tag_id).where(post_tags.c.post_id == post_id))).all())
            category_id = await conn.scalar(delete(posts).where(posts.c.id == post_id).returning(posts.c.category_id))
            if category_id is not None:
                await enqueue(conn, outbox, POST_DELETED, {"post_id": post_id})
        if category_id is None:
            return False
        await self._drop_if_empty(category_id)
        await self._drop_unused_tags(tag_ids)
        return True

    async def favourite(self, post_id: int, user_id: int) -> dict[str, Any] | None:
        """The reader keeps the post (once, however often asked); the post as they see it, None if they cannot see it."""
        return await self._keep(post_id, user_id, True)

    async def unfavourite(self, post_id: int, user_id: int) -> dict[str, Any] | None:
        """The reader no longer keeps the post; the post as they see it, None if they cannot see it."""
        return await self._keep(post_id, user_id, False)

    async def _keep(self, post_id: int, user_id: int, keep: bool) -> dict[str, Any] | None:
        visible = _visible_to(user_id, utcnow())
        try:
            async with self.engine.begin() as conn:
                seen = (await conn.execute(select(posts.c.published_at).where(posts.c.id == post_id, visible))).one_or_none()
                if seen is None:
                    return None
                if keep:
                    # Counted only when this insert made the row: concurrent ones meet it and do nothing.
                    changed = await conn.scalar(
                        insert_ignoring_conflicts(conn.dialect.name, favourites)
                        .values(post_id=post_id, user_id=user_id, created_at=utcnow(), published_at=seen.published_at)
                        .returning(favourites.c.post_id))
                else:
                    changed = await conn.scalar(delete(favourites).where(favourites.c.post_id == post_id,
                                                                         favourites.c.user_id == user_id)
                                                .returning(favourites.c.post_id))
                if changed is not None:
                    step = 1 if keep else -1
                    await conn.execute(update(posts).where(posts.c.id == post_id)
                                       .values(favourites_count=posts.c.favourites_count + step))
                return await self._get_post(conn, post_id, None, user_id)
        except IntegrityError:
            return None  # the post was deleted meanwhile

    async def set_comment_count(self, post_id: int, count: int, version: int) -> bool:
        """Take the comments service's count for the post unless a newer one (a higher version) is there already.

        Whether it was taken. Counts arrive out of order; an older version never overwrites a newer one.
        """
        if count < 0 or version < 0:
            raise ValueError("a comment count and its version are not negative")
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(posts).where(posts.c.id == post_id, posts.c.comment_count_version < version)
                .values(comment_count=count, comment_count_version=version))
        return bool(result.rowcount)

    async def _write_post(self, write: Callable[[AsyncConnection], Awaitable[int | None]]) -> dict[str, Any] | None:
        for _ in range(ATTEMPTS):
            try:
                async with self.engine.begin() as conn:
                    post_id = await write(conn)
                    # The writer is the author: they see the post whatever its status.
                    return None if post_id is None else await self._get_post(conn, post_id)
            except IntegrityError as exc:
                # The category or a tag was removed (emptied by a concurrent
                # delete) between finding it and pointing the post at it: find or
                # make it again.
                log.info("post write met a concurrent change; trying again", error=str(exc.orig))
        raise ConcurrentChange

    # --- categories and tags -------------------------------------------
    async def _category_id(self, conn: AsyncConnection, ref: CategoryRef) -> int:
        if ref.id is not None:
            found = await conn.scalar(select(categories.c.id).where(categories.c.id == ref.id))
            if found is None:
                raise UnknownCategory(f"no category with id {ref.id}")
            return found
        assert ref.name is not None
        return await get_or_create_category(conn, checked_name(ref.name))

    @staticmethod
    async def _add_tags(conn: AsyncConnection, post_id: int, names: list[str], published_at: datetime | None) -> None:
        """Link the post to its tags, making the ones used for the first time."""
        if not names:
            return
        by_slug = {slugify(name): name for name in names}
        # In slug order: two writes making the same new tags take them in one
        # order, so neither waits for the other in a cycle (PostgreSQL).
        await conn.execute(insert_ignoring_conflicts(conn.dialect.name, tags),
                           [{"name": by_slug[slug], "slug": slug, "created_at": utcnow()} for slug in sorted(by_slug)])
        tag_ids = (await conn.scalars(select(tags.c.id).where(tags.c.slug.in_(list(by_slug))))).all()
        await conn.execute(post_tags.insert(), [{"post_id": post_id, "tag_id": tag_id, "published_at": published_at}
                                                for tag_id in tag_ids])

    @staticmethod
    async def _remove_tags(conn: AsyncConnection, post_id: int) -> list[int]:
        removed = (await conn.scalars(delete(post_tags).where(post_tags.c.post_id == post_id)
                                      .returning(post_tags.c.tag_id))).all()
        return list(removed)

    async def _drop_unused_tags(self, tag_ids: Iterable[int]) -> None:
        """Remove the tags among `tag_ids` that no post has any more (housekeeping: a failure is only logged)."""
        ids = list(tag_ids)
        if not ids:
            return
        statement = delete(tags).where(tags.c.id.in_(ids), ~exists().where(post_tags.c.tag_id == tags.c.id))
        try:
            async with self.engine.begin() as conn:
                await conn.execute(statement)
        except IntegrityError:
            pass  # a post took one of them meanwhile: it stays, rightly

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


# --- test and bench data ------------------------------------------------------
_VOCABULARY = (
    "cloud native service mesh cluster node pod deploy release rollback canary metric trace span log alert latency "
    "throughput cache index query database table row column schema migration replica shard queue stream event "
    "python rust go kotlin swift type compiler runtime memory thread async await future promise channel lock "
    "network packet socket proxy gateway route header token session cookie secret key password login account "
    "design review test fixture mock bench profile flame graph budget target page list post draft author reader "
    "morning evening garden mountain river coffee travel book music film photo kitchen recipe winter summer "
    "블로그 개발 서버 데이터 검색 배포 클라우드 네이티브 쿠버네티스 성능"
)
_WORDS = _VOCABULARY.split()
_TAG_POOL = ("python", "rust", "go", "kubernetes", "postgresql", "redis", "devops", "testing", "performance",
             "security", "design", "travel", "books", "music", "cooking", "photography", "linux", "networking",
             "databases", "observability", "클라우드", "개발")


def _sentence(rng: Any, low: int, high: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(low, high)))


async def load_posts(engine: AsyncEngine, count: int, *, seed: int = 1, authors: int = 50,
                     newest: datetime | None = None, batch: int = 1_000) -> None:
    """Insert `count` published posts fast, by SQL: the bench's 10,000 and 100,000, and the tests' deep pages.

    Posts one minute apart back from `newest` (now), words from a small
    English and Korean vocabulary (so that search has something to find), in
    the existing categories, 0 to 3 tags each, by `authors` authors. The
    full-text index follows by its own triggers (SQLite) or generated column
    (PostgreSQL), as for any write.
    """
    rng = random.Random(seed)  # noqa: S311 - sample data, not a secret
    newest = newest or utcnow()
    async with engine.begin() as conn:
        category_ids = list((await conn.scalars(select(categories.c.id))).all())
        await conn.execute(insert_ignoring_conflicts(conn.dialect.name, tags),
                           [{"name": name, "slug": slugify(name), "created_at": newest} for name in _TAG_POOL])
        tag_ids = dict((await conn.execute(select(tags.c.name, tags.c.id).where(tags.c.name.in_(_TAG_POOL)))).all())
    for start in range(0, count, batch):
        rows, chosen = [], []
        for index in range(start, min(count, start + batch)):
            when = newest - timedelta(minutes=index)
            paragraphs = [_sentence(rng, 30, 80) for _ in range(rng.randint(2, 4))]
            body = " ".join(paragraphs)
            names = rng.sample(_TAG_POOL, rng.randint(0, 3))
            author = rng.randrange(authors)
            chosen.append((names, when))
            rows.append({
                "title": _sentence(rng, 3, 7).capitalize(), "content": "\n\n".join(paragraphs),
                "author": f"writer{author:03d}", "author_id": 100_000 + author,
                "category_id": rng.choice(category_ids), "created_at": when, "updated_at": when,
                "status": PUBLISHED, "published_at": when, "summary": body[:200], "body_text": body,
                "reading_minutes": max(1, round(len(body.split()) / 230)), "tag_names": orjson.dumps(names).decode(),
            })
        async with engine.begin() as conn:
            made = (await conn.execute(posts.insert().returning(posts.c.id, sort_by_parameter_order=True), rows)).scalars()
            links = [{"post_id": post_id, "tag_id": tag_ids[name], "published_at": when}
                     for post_id, (names, when) in zip(made.all(), chosen, strict=True) for name in names]
            if links:
                await conn.execute(post_tags.insert(), links)
