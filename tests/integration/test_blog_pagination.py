"""Keyset pagination: every list a page at a time after a cursor, and deep pages read from an index, not sorted."""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, text

from titanium.core.timestamps import utcnow
from titanium.services.blog.cursors import InvalidCursor
from titanium.services.blog.repository import CategoryRef, PostList, load_posts

ALL = PostList()


async def make(blog, index, author=("alice", 1), category="Notes", tags=("shared",)):
    return (await blog.create_post(f"Post {index}", "words", author[0], author[1], CategoryRef(name=category),
                                   tags=list(tags))).post


async def walk(blog, which, limit, viewer_id=None):
    """Every page of a list by its cursors: the ids, page by page."""
    pages, cursor = [], None
    while True:
        page = await blog.list_page(which, viewer_id=viewer_id, cursor=cursor, limit=limit)
        pages.append([post["id"] for post in page.posts])
        cursor = page.next_cursor
        if cursor is None:
            return pages
        assert len(pages) < 100, "the cursors never end"


async def test_cursor_pages_hold_each_post_once_newest_first_as_the_offset_pages_do(blog):
    made = [await make(blog, index) for index in range(23)]
    newest_first = [post["id"] for post in reversed(made)]
    pages = await walk(blog, ALL, limit=10)
    assert pages == [newest_first[:10], newest_first[10:20], newest_first[20:]]
    for offset in (0, 10, 20, 22):
        assert [p["id"] for p in (await blog.list_page(ALL, offset=offset, limit=10)).posts] == newest_first[offset:offset + 10]
    assert (await blog.list_page(ALL, offset=23, limit=10)).posts == []
    assert (await blog.list_page(ALL, offset=10_000, limit=10)).posts == []


async def test_posts_written_while_a_reader_pages_neither_repeat_nor_hide_older_ones(blog):
    made = [await make(blog, index) for index in range(15)]
    first = await blog.list_page(ALL, limit=5)
    for index in range(15, 20):  # five new posts arrive between the reader's pages
        await make(blog, index)
    second = await blog.list_page(ALL, cursor=first.next_cursor, limit=5)
    assert [p["id"] for p in second.posts] == [post["id"] for post in reversed(made)][5:10]


async def test_every_list_pages_by_its_own_cursor(blog):
    bob = ("bob", 2)
    for index in range(7):
        post = await make(blog, index, author=bob if index % 2 else ("alice", 1), category="Cats" if index < 4 else "Dogs",
                          tags=("odd",) if index % 2 else ("even",))
        await blog.favourite(post["id"], 9)
    drafts = [(await blog.create_post(f"Draft {i}", "w", "alice", 1, CategoryRef(name="Notes"), status="draft")).post["id"]
              for i in range(5)]
    cases = {
        PostList(category_slug="cats"): 4, PostList(tag_slug="odd"): 3, PostList(author="bob"): 3,
        PostList(author_id=1): 4, PostList(author_ids=(1, 2)): 7, PostList(favourited_by=9): 7,
    }
    for which, size in cases.items():
        pages = await walk(blog, which, limit=2)
        ids = [post_id for page in pages for post_id in page]
        assert len(ids) == size == len(set(ids)), which
        assert ids == sorted(ids, reverse=True), which  # one minute apart or not: newest first
    draft_pages = await walk(blog, PostList(author_id=1, drafts=True), limit=2, viewer_id=1)
    assert [post_id for page in draft_pages for post_id in page] == list(reversed(drafts))
    assert [p["id"] for p in (await blog.list_page(PostList(author_id=1, drafts=True), viewer_id=1, offset=2,
                                                   limit=2)).posts] == list(reversed(drafts))[2:4]
    assert (await blog.list_page(PostList(author_ids=()), limit=5)).posts == []


async def test_a_cursor_is_refused_by_another_list_and_when_made_up(blog):
    for index in range(3):
        await make(blog, index)
    cursor = (await blog.list_page(ALL, limit=1)).next_cursor
    with pytest.raises(InvalidCursor):
        await blog.list_page(PostList(tag_slug="shared"), cursor=cursor)
    with pytest.raises(InvalidCursor):
        await blog.list_page(PostList(author_id=1, drafts=True), viewer_id=1, cursor=cursor)
    for forged in ("x", "%00", "a" * 500, cursor[:-3], cursor + "A", "eyJ2IjoxfQ"):
        with pytest.raises(InvalidCursor):
            await blog.list_page(ALL, cursor=forged)
    with pytest.raises(ValueError):
        await blog.list_page(ALL, cursor=cursor, offset=5)


# --- deep pages cost what the first costs: EXPLAIN on both databases ----------------------
DEEP = 10_000


@contextmanager
def statements_run(engine):
    """The SQL (and its parameters) that `engine` sends while the block runs."""
    seen = []

    def keep(_conn, _cursor, statement, parameters, _context, _executemany):
        seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", keep)


async def plan_of(engine, statement, parameters):
    async with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            return [row[-1] for row in (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)).all()]
        return [row[0] for row in (await conn.exec_driver_sql("EXPLAIN " + statement, parameters)).all()]


def assert_read_from_an_index(plan, label):
    shown = "\n".join(plan)
    assert not any("Sort" in line or "TEMP B-TREE" in line for line in plan), f"{label} sorts:\n{shown}"
    assert not any(line.strip().startswith(("Seq Scan on post", "SCAN post")) and "INDEX" not in line
                   for line in plan), f"{label} reads the whole table:\n{shown}"
    assert any("Index" in line or "INDEX" in line for line in plan), f"{label} uses no index:\n{shown}"


@pytest.fixture
async def many_posts(blog):
    await load_posts(blog.engine, DEEP + 20, newest=utcnow() - timedelta(minutes=1))
    async with blog.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # What autovacuum does after a bulk load: statistics, and the visibility
            # map that lets the index answer an offset without visiting the table.
            await conn.execute(text("COMMIT"))
            await conn.execute(text("VACUUM ANALYZE posts, post_tags"))
    return blog


async def test_the_first_page_a_deep_cursor_and_a_deep_offset_are_read_from_an_index_without_a_sort(many_posts):
    blog = many_posts
    category = next(c for c in await blog.list_categories() if c["post_count"] > 3_000)
    tag = (await blog.popular_tags(1))[0]
    author = (await blog.list_posts(0, 1, None))[0]["author"]
    lists = {
        "every post": (ALL, DEEP - 20),
        "a category": (PostList(category_slug=category["slug"]), 3_000),
        "a tag": (PostList(tag_slug=tag["slug"]), tag["post_count"] - 40),
        "an author": (PostList(author=author), 150),
    }
    for label, (which, deep) in lists.items():
        after_deep = (await blog.list_page(which, offset=deep - 1, limit=1)).next_cursor
        with statements_run(blog.reads.primary) as seen:
            first = await blog.list_page(which, limit=20)
            by_cursor = await blog.list_page(which, cursor=after_deep, limit=20)
            by_offset = await blog.list_page(which, offset=deep, limit=20)
        assert len(first.posts) == 20 and [p["id"] for p in by_cursor.posts] == [p["id"] for p in by_offset.posts]
        assert len(seen) == 3  # one query a page
        for kind, (statement, parameters) in zip(("page 1", "cursor", "offset"), seen, strict=True):
            assert_read_from_an_index(await plan_of(blog.reads.primary, statement, parameters), f"{label}, {kind} at {deep}")


async def test_a_cursor_made_up_to_point_into_the_future_shows_no_scheduled_post(blog):
    from titanium.services.blog.cursors import Key, make_cursor

    await make(blog, 1)
    await blog.create_post("Scheduled", "w", "alice", 1, CategoryRef(name="Notes"),
                           published_at=utcnow() + timedelta(days=2))
    # Cursors are not signed: anyone can make one. Positions after it are still filtered for the reader.
    forged = make_cursor(ALL.scope(), Key(utcnow() + timedelta(days=3), 1))
    assert [p["title"] for p in (await blog.list_page(ALL, cursor=forged)).posts] == ["Post 1"]
    own = PostList(author_id=1)
    forged_own = make_cursor(own.scope(), Key(utcnow() + timedelta(days=3), 1))
    assert [p["title"] for p in (await blog.list_page(own, cursor=forged_own)).posts] == ["Post 1"]
    assert [p["title"] for p in (await blog.list_page(own, viewer_id=1, cursor=forged_own)).posts] == ["Scheduled", "Post 1"]
