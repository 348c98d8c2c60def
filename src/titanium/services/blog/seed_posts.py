"""Posts moved from the seed (`titanium import-seed`), kept under their own ids so that the seed's links reach them.

A moved post is published at its creation time in the seed, renders by the
seed's rule (render_mode 'seed': single newlines are line breaks, the seed's
safe inline HTML kept; docs/adr/0013) and is recorded under the key
`seed:<id>`, so that an import run again finds what an earlier run made and
makes nothing twice. One run's posts are written in one transaction: a run
that fails leaves the blog as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from titanium.core.database import insert_ignoring_conflicts
from titanium.services.blog.content import InvalidName, checked_name
from titanium.services.blog.repository import derived_fields, get_or_create_category
from titanium.services.blog.schemas import Content, Title
from titanium.services.blog.tables import PUBLISHED, SEED, posts

_TITLE: TypeAdapter[str] = TypeAdapter(Title)
_CONTENT: TypeAdapter[str] = TypeAdapter(Content)


@dataclass(frozen=True)
class SeedPost:
    id: int
    title: str
    content: str
    author: str
    author_id: int
    category: str
    created_at: datetime
    updated_at: datetime


@dataclass
class PostsImported:
    made: list[int] = field(default_factory=list)  # the ids of the posts this run wrote
    present: list[int] = field(default_factory=list)  # the ids an earlier run wrote


class PostIdTaken(Exception):
    """Another post of this blog holds a seed post's id: nothing of the run was written."""

    def __init__(self, post_id: int, title: str) -> None:
        super().__init__(f"post {post_id} of the seed has its id taken on this blog by another post ({title!r}); "
                         "the seed's posts keep their ids, so that old links reach them: import into a blog "
                         "without posts of those ids")


def seed_key(post_id: int) -> str:
    """The key a moved post is recorded under (never a request's: those are hex digests)."""
    return f"seed:{post_id}"


def refusal(title: str, content: str, category: str) -> str | None:
    """Why the blog would not take this post, by the rules its API applies to a new post; None when it would."""
    for what, rule, value in (("title", _TITLE, title), ("content", _CONTENT, content)):
        try:
            rule.validate_python(value)
        except ValidationError as exc:
            return f"its {what}: {exc.errors()[0]['msg'].lower()}"
    try:
        checked_name(category)
    except InvalidName as exc:
        return f"its category: {exc}"
    return None


async def import_posts(engine: AsyncEngine, moved: Sequence[SeedPost]) -> PostsImported:
    """Write the posts not written before, in one transaction. Raises PostIdTaken (and writes nothing)."""
    done = PostsImported()
    category_ids: dict[str, int] = {}  # the seed has a few categories and many posts: each looked up once
    async with engine.begin() as conn:
        for post in moved:
            name = checked_name(post.category)
            if name not in category_ids:
                category_ids[name] = await get_or_create_category(conn, name)
            made = await _import_one(conn, post, category_ids[name])
            (done.made if made else done.present).append(post.id)
        if done.made and conn.dialect.name == "postgresql":
            # The posts took their ids past the sequence: the next post written here must take one above them all.
            # (SQLite's AUTOINCREMENT counter follows any id inserted.)
            await conn.execute(text("SELECT setval(pg_get_serial_sequence('posts', 'id'), (SELECT max(id) FROM posts))"))
    return done


async def _import_one(conn: AsyncConnection, post: SeedPost, category_id: int) -> bool:
    """True when the post is written now, False when an earlier run wrote it."""
    key = seed_key(post.id)
    title = _TITLE.validate_python(post.title)  # stored as the API stores it (trimmed)
    made = await conn.scalar(
        insert_ignoring_conflicts(conn.dialect.name, posts)
        .values(id=post.id, title=title, content=post.content, author=post.author, author_id=post.author_id,
                category_id=category_id, created_at=post.created_at, updated_at=post.updated_at,
                request_key=key, status=PUBLISHED, published_at=post.created_at, render_mode=SEED,
                **derived_fields(post.content))
        .returning(posts.c.id)
    )
    if made is not None:
        return True
    holder = (await conn.execute(select(posts.c.request_key, posts.c.title).where(posts.c.id == post.id))).one()
    if holder.request_key != key:
        raise PostIdTaken(post.id, holder.title)
    return False
