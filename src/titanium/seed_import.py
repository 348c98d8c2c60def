"""`titanium import-seed`: the accounts, categories and posts of the system Titanium replaces, moved in.

The seed kept them in one PostgreSQL database (`users`, `categories`,
`posts`), or on a laptop in two SQLite files (users.db, blog.db). They are
read from there and written into the users and blog databases through those
services' own modules (users/seed_accounts.py, blog/seed_posts.py), which
apply the rules of their APIs and say why a record does not fit. Run again,
an import makes nothing twice; what an earlier run refused is tried again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from titanium.core.database import async_url, create_engine
from titanium.services.blog.content import slugify
from titanium.services.blog.seed_posts import PostsImported, SeedPost, import_posts
from titanium.services.blog.seed_posts import refusal as post_refusal
from titanium.services.users.repository import UserRepository
from titanium.services.users.seed_accounts import AccountsImported, SeedAccount, import_accounts

_POSTS = text("SELECT p.id, p.title, p.content, p.author, p.created_at, p.updated_at, c.name AS category "
              "FROM posts p LEFT JOIN categories c ON c.id = p.category_id ORDER BY p.id")
_CATEGORIES = text("SELECT name, slug FROM categories ORDER BY id")
_ACCOUNTS = text("SELECT * FROM users ORDER BY id")  # the seed's SQLite users had no created_at


@dataclass
class SeedRows:
    accounts: list[dict[str, Any]]
    posts: list[dict[str, Any]]
    categories: list[dict[str, Any]]


@dataclass
class Report:
    accounts: AccountsImported
    posts: PostsImported
    refused_posts: dict[int, str] = field(default_factory=dict)  # id: why
    moved_category_links: dict[str, str] = field(default_factory=dict)  # the seed's slug: Titanium's

    @property
    def complete(self) -> bool:
        return not self.accounts.refused and not self.refused_posts


async def read_seed(seed_url: str, seed_users_url: str | None = None) -> SeedRows:
    """Every account, post and category of the seed's database(s)."""
    blog = _reader(seed_url)
    users = blog if seed_users_url is None else _reader(seed_users_url)
    try:
        async with blog.connect() as conn:
            posts = [dict(row) for row in (await conn.execute(_POSTS)).mappings()]
            categories = [dict(row) for row in (await conn.execute(_CATEGORIES)).mappings()]
        async with users.connect() as conn:
            accounts = [dict(row) for row in (await conn.execute(_ACCOUNTS)).mappings()]
    finally:
        await blog.dispose()
        await users.dispose()
    return SeedRows(accounts, posts, categories)


async def import_seed(seed: SeedRows, users_url: str, blog_url: str) -> Report:
    """Accounts first, then the posts of the accounts that are here. Raises PostIdTaken (no post written)."""
    users_engine, blog_engine = create_engine(users_url, pool_size=1), create_engine(blog_url, pool_size=1)
    try:
        accounts = await import_accounts(UserRepository(users_engine), [_account(row) for row in seed.accounts])
        movable, refused = _posts(seed.posts, accounts)
        posts = await import_posts(blog_engine, movable)
    finally:
        await users_engine.dispose()
        await blog_engine.dispose()
    moved_links = {row["slug"]: slugify(row["name"]) for row in seed.categories if row["slug"] != slugify(row["name"])}
    return Report(accounts, posts, refused, moved_links)


def _reader(url: str) -> AsyncEngine:
    return create_async_engine(async_url(url), poolclass=NullPool)


def _posts(rows: list[dict[str, Any]], accounts: AccountsImported) -> tuple[list[SeedPost], dict[int, str]]:
    """The posts that can move, and why each of the others cannot."""
    movable: list[SeedPost] = []
    refused: dict[int, str] = {}
    for row in rows:
        problem = None if row["author"] in accounts.ids else f"its author {row['author']!r} was not imported"
        if row["category"] is None:
            problem = problem or "it has no category"
        problem = problem or post_refusal(row["title"], row["content"], row["category"])
        if problem is not None:
            refused[row["id"]] = problem
            continue
        created = _utc(row["created_at"])
        movable.append(SeedPost(id=row["id"], title=row["title"], content=row["content"], author=row["author"],
                                author_id=accounts.ids[row["author"]], category=row["category"],
                                created_at=created, updated_at=_utc(row["updated_at"] or created)))
    return movable, refused


def _account(row: dict[str, Any]) -> SeedAccount:
    return SeedAccount(username=row["username"], email=row["email"], password_hash=row["password_hash"],
                       created_at=_utc(row.get("created_at")))


def _utc(value: datetime | str | None) -> datetime:
    """A seed time as an aware UTC time. The seed wrote UTC without a zone: PostgreSQL's CURRENT_TIMESTAMP into
    TIMESTAMP columns on a UTC server, SQLite's `datetime.utcnow().isoformat()`; a missing time is now."""
    if value is None:
        return datetime.now(UTC)
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def report_lines(report: Report) -> list[str]:
    """What the import did, for a person: counts, then each refusal and why."""
    accounts, posts = report.accounts, report.posts
    lines = [f"accounts: {len(accounts.made)} moved, {len(accounts.present)} moved before, "
             f"{len(accounts.refused)} refused",
             f"posts: {len(posts.made)} moved, {len(posts.present)} moved before, {len(report.refused_posts)} refused"]
    lines += [f"  account {name!r} refused: {why}" for name, why in accounts.refused.items()]
    lines += [f"  post {post_id} refused: {why}" for post_id, why in report.refused_posts.items()]
    lines += [f"  the seed's category link {old!r} is now {new!r}" for old, new in report.moved_category_links.items()]
    return lines
