"""Migration 0004 on a database with posts from before it: backfilled, searchable, its unreachable categories renamed."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import insert, select

from titanium.core import migrations
from titanium.core.database import create_engine
from titanium.services.blog.repository import BlogRepository, CategoryRef, PostList
from titanium.services.blog.tables import categories, posts

UNREACHABLE = (".", "..", "a/../../api", "x/feed.xml", "Te\u200bch")
EARLIER = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def database_at_0003(backend, request, tmp_path) -> str:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'blog.db'}"
    else:
        url = request.getfixturevalue("postgres_databases").new("blog")
    migrations.upgrade("blog", url, "0003")
    return url


async def fill_as_before(url: str) -> dict[str, int]:
    """Posts and categories written by the code of 0003 (its columns only); the category ids by name."""
    engine = create_engine(url)
    ids = {}
    async with engine.begin() as conn:
        for index, name in enumerate(("Cloud Native", *UNREACHABLE)):
            ids[name] = await conn.scalar(insert(categories).values(
                name=name, slug=name.lower().replace(" ", "-"), color=f"#0000{index:02x}", created_at=EARLIER,
            ).returning(categories.c.id))
        for index, name in enumerate(ids):
            await conn.execute(insert(posts).values(
                title=f"Old post {index}",
                content=f"# Heading {index}\n\nSome **bold** words about 블로그를 and gardens {index}.",
                author="alice", author_id=1, category_id=ids[name], created_at=EARLIER + timedelta(hours=index),
                updated_at=EARLIER + timedelta(hours=index)))
    await engine.dispose()
    return ids


# Synchronous tests: Alembic runs an event loop of its own.
def test_existing_posts_are_published_at_their_creation_summarised_and_searchable(database_at_0003):
    ids = asyncio.run(fill_as_before(database_at_0003))
    migrations.upgrade("blog", database_at_0003)
    asyncio.run(check_after_upgrade(database_at_0003, ids))


async def check_after_upgrade(url: str, ids: dict[str, int]) -> None:
    engine = create_engine(url)
    blog = BlogRepository(engine)
    try:
        listed = await blog.list_posts(0, 20, None)
        assert [p["title"] for p in listed] == [f"Old post {i}" for i in reversed(range(len(ids)))]
        for post in listed:
            assert post["status"] == "published" and post["published_at"] == post["created_at"]
            assert post["summary"].startswith("Some bold words") and "**" not in post["summary"] and "#" not in post["summary"]
            assert post["reading_minutes"] == 1 and post["tags"] == [] and post["favourites_count"] == 0
        assert len((await blog.search("gardens")).posts) == len(ids)
        assert len((await blog.search("블로그")).posts) == len(ids)

        # Each unreachable category is renamed after its id and keeps its post; the others are as they were.
        async with engine.connect() as conn:
            stored = {row.id: (row.name, row.slug) for row in await conn.execute(select(categories))}
        assert stored[ids["Cloud Native"]] == ("Cloud Native", "cloud-native")
        for name in UNREACHABLE:
            category_id = ids[name]
            assert stored[category_id] == (f"Category {category_id}", f"category-{category_id}")
            page = await blog.list_page(PostList(category_slug=f"category-{category_id}"))
            assert len(page.posts) == 1

        # The new schema works on the old data.
        made = (await blog.create_post("New", "fresh words", "bob", 2, CategoryRef(name="Cloud Native"),
                                       tags=["garden"])).post
        assert (await blog.list_posts(0, 1, None))[0]["id"] == made["id"]
    finally:
        await engine.dispose()


def test_the_migration_goes_down_and_up_again(database_at_0003):
    asyncio.run(fill_as_before(database_at_0003))
    migrations.upgrade("blog", database_at_0003)
    asyncio.run(write_a_draft(database_at_0003))
    command.downgrade(migrations.alembic_config("blog", database_at_0003), "0003")
    migrations.upgrade("blog", database_at_0003)
    asyncio.run(check_after_round_trip(database_at_0003))


async def write_a_draft(url: str) -> None:
    engine = create_engine(url)
    await BlogRepository(engine).create_post("A draft", "words", "bob", 2, CategoryRef(name="Notes"), status="draft")
    await engine.dispose()


async def check_after_round_trip(url: str) -> None:
    engine = create_engine(url)
    try:
        blog = BlogRepository(engine)
        counts = await blog.counts()
        assert counts["post_count"] == 1 + len(UNREACHABLE) and counts["draft_count"] == 0  # drafts had no place in 0003
        assert len((await blog.search("gardens")).posts) == 1 + len(UNREACHABLE)
    finally:
        await engine.dispose()
