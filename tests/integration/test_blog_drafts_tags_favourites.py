"""Drafts and scheduling, tags, favourites, comment counts and the outbox event of a delete, on SQLite and PostgreSQL."""

import asyncio
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from titanium.core.timestamps import utcnow
from titanium.services.blog.content import MAX_TAGS, InvalidName
from titanium.services.blog.rendering import reading_minutes
from titanium.services.blog.repository import CategoryRef, InvalidPost, PostList
from titanium.services.blog.tables import outbox, posts, tags

ALICE, BOB, CAROL = ("alice", 1), ("bob", 2), ("carol", 3)


async def make(blog, title="A title", *, author=ALICE, category="Notes", content="Some content", **fields):
    return (await blog.create_post(title, content, author[0], author[1], CategoryRef(name=category), **fields)).post


EVERY_POST = PostList()


async def public_titles(blog, which=EVERY_POST, **options):
    return [post["title"] for post in (await blog.list_page(which, limit=100, **options)).posts]


# --- drafts and scheduling ------------------------------------------------------
async def test_a_draft_is_seen_by_its_author_and_nobody_else(blog):
    await make(blog, "Out")
    draft = await make(blog, "Secret draft", status="draft", tags=["hidden"], content="unfinished words")
    assert draft["status"] == "draft" and draft["published_at"] is None

    assert await blog.get_post(draft["id"]) is None
    assert await blog.get_post(draft["id"], viewer_id=BOB[1]) is None
    assert (await blog.get_post(draft["id"], viewer_id=ALICE[1]))["title"] == "Secret draft"
    assert [p["title"] for p in await blog.list_posts(0, 20, None)] == ["Out"]
    assert await public_titles(blog, PostList(category_slug="notes")) == ["Out"]
    assert await public_titles(blog, PostList(author="alice")) == ["Out"]
    assert await public_titles(blog, PostList(tag_slug="hidden")) == []
    assert [p["title"] for p in await blog.recent_posts(20, None)] == ["Out"]
    assert [p["title"] for p in await blog.post_index(100)] == ["Out"]
    assert (await blog.search("unfinished")).posts == []
    assert await blog.popular_tags() == []
    assert next(c for c in await blog.list_categories() if c["slug"] == "notes")["post_count"] == 1

    drafts = PostList(author_id=ALICE[1], drafts=True)
    assert await public_titles(blog, drafts, viewer_id=ALICE[1]) == ["Secret draft"]
    assert await public_titles(blog, drafts, viewer_id=BOB[1]) == []
    assert await public_titles(blog, drafts) == []


async def test_publishing_a_draft_puts_it_on_every_list_and_unpublishing_takes_it_off(blog):
    draft = await make(blog, "Soon", status="draft", tags=["rust"], content="ferris words")
    await blog.favourite(draft["id"], ALICE[1])  # its author may keep their own draft

    published = await blog.publish(draft["id"])
    assert published["status"] == "published" and published["published_at"] is not None
    assert await public_titles(blog) == ["Soon"]
    assert await public_titles(blog, PostList(tag_slug="rust")) == ["Soon"]
    assert await public_titles(blog, PostList(favourited_by=ALICE[1])) == ["Soon"]
    assert [p["title"] for p in (await blog.search("ferris")).posts] == ["Soon"]
    assert (await blog.publish(draft["id"]))["published_at"] == published["published_at"]  # already public: as it was

    back = await blog.unpublish(draft["id"])
    assert back["status"] == "draft" and back["published_at"] is None
    for which in (PostList(), PostList(tag_slug="rust"), PostList(favourited_by=ALICE[1])):
        assert await public_titles(blog, which) == []
    assert (await blog.search("ferris")).posts == []
    assert await blog.publish(999_999) is None and await blog.unpublish(999_999) is None


async def test_a_scheduled_post_stays_hidden_until_its_time_then_appears_by_itself(blog):
    await make(blog, "Now")
    mark = utcnow()
    # Far enough ahead that the checks below run before it, even in a test process a busy machine holds up.
    soon = mark + timedelta(seconds=5)
    scheduled = await make(blog, "Scheduled", published_at=soon, content="tomorrow's words")
    assert scheduled["status"] == "published"
    assert await blog.get_post(scheduled["id"]) is None
    assert (await blog.get_post(scheduled["id"], viewer_id=ALICE[1]))["title"] == "Scheduled"
    assert await public_titles(blog) == ["Now"]
    assert await public_titles(blog, PostList(author_id=ALICE[1]), viewer_id=ALICE[1]) == ["Scheduled", "Now"]
    assert (await blog.counts())["scheduled_count"] == 1
    due = await blog.due_scheduled(mark, soon)
    assert [(p["id"], p["category_slug"]) for p in due] == [(scheduled["id"], "notes")]

    deadline = time.monotonic() + 30
    while await public_titles(blog) != ["Scheduled", "Now"]:  # nothing writes: its time comes
        assert time.monotonic() < deadline, "the scheduled post never appeared"
        await asyncio.sleep(0.2)
    assert (await blog.get_post(scheduled["id"]))["title"] == "Scheduled"


async def test_scheduling_asks_for_a_future_time_and_a_draft_for_none(blog):
    post = await make(blog, "Later", status="draft")
    at = utcnow() + timedelta(days=1)
    assert (await blog.schedule(post["id"], at))["published_at"] == at.isoformat()
    with pytest.raises(InvalidPost):
        await blog.schedule(post["id"], utcnow() - timedelta(seconds=1))
    with pytest.raises(InvalidPost):
        await make(blog, "Bad", status="draft", published_at=at)
    with pytest.raises(InvalidPost):
        await make(blog, "Bad", status="pending")
    with pytest.raises(InvalidPost):
        await make(blog, "Bad", description="d" * 301)
    with pytest.raises(InvalidPost):
        await make(blog, "Bad", render_mode="html")
    assert (await blog.counts())["post_count"] == 1


async def test_a_post_keeps_its_description_render_mode_summary_and_reading_time(blog):
    long_text = "## Heading\n\n" + " ".join(["word"] * 1200) + "\n\n```python\nprint('x')\n```"
    post = await make(blog, "Long", content=long_text, description="What it is about", render_mode="seed")
    assert post["description"] == "What it is about" and post["render_mode"] == "seed"
    assert post["reading_minutes"] == reading_minutes(long_text) == 6, "1,204 words at 238 a minute, rounded up"
    assert "##" not in post["summary"] and len(post["summary"]) <= 201
    edited = await blog.update_post(post["id"], {"content": "Short **now**."}, None)
    assert edited["summary"] == "Short now." and edited["reading_minutes"] == 1
    assert (await blog.list_posts(0, 20, None))[0]["summary"] == "Short now."


# --- names of categories and tags ------------------------------------------------
@pytest.mark.parametrize("name", [".", "..", "a/../../api", "x/feed.xml", "bell\x07", "zero\u200bwidth"])
async def test_a_name_no_link_could_reach_is_refused_and_nothing_is_written(blog, name):
    before = await blog.counts()
    with pytest.raises(InvalidName):
        await make(blog, category=name)
    with pytest.raises(InvalidName):
        await make(blog, tags=["fine", name])
    assert await blog.counts() == before


async def test_korean_and_seed_names_keep_working(blog):
    korean = await make(blog, category="클라우드 네이티브", tags=["쿠버네티스", "Cloud Native"])
    assert korean["category"]["slug"] == "클라우드-네이티브"
    assert [tag["slug"] for tag in korean["tags"]] == ["쿠버네티스", "cloud-native"]
    assert await public_titles(blog, PostList(tag_slug="쿠버네티스")) == ["A title"]


# --- tags ----------------------------------------------------------------------
async def test_tags_are_made_on_first_use_and_shared_whatever_the_spelling(blog):
    first = await make(blog, "One", tags=["Rust", "Go"])
    second = await make(blog, "Two", tags=[" rust ", "Python"])
    assert first["tags"] == [{"name": "Rust", "slug": "rust"}, {"name": "Go", "slug": "go"}]
    assert second["tags"] == [{"name": "rust", "slug": "rust"}, {"name": "Python", "slug": "python"}]
    async with blog.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(tags)) == 3
    assert await public_titles(blog, PostList(tag_slug="rust")) == ["Two", "One"]
    assert (await blog.list_posts(0, 20, None))[0]["tags"] == second["tags"]
    assert await blog.popular_tags() == [{"name": "Rust", "slug": "rust", "post_count": 2},
                                         {"name": "Go", "slug": "go", "post_count": 1},
                                         {"name": "Python", "slug": "python", "post_count": 1}]
    assert await blog.get_tag("rust") == {"name": "Rust", "slug": "rust", "post_count": 2}


async def test_a_post_has_at_most_ten_tags(blog):
    made = await make(blog, tags=[f"t{i}" for i in range(MAX_TAGS)])
    assert len(made["tags"]) == MAX_TAGS
    with pytest.raises(InvalidName):
        await blog.update_post(made["id"], {}, None, tags=[f"t{i}" for i in range(MAX_TAGS + 1)])
    assert len((await blog.get_post(made["id"]))["tags"]) == MAX_TAGS


async def test_replaced_and_deleted_tags_leave_no_tag_without_posts(blog):
    post = await make(blog, "One", tags=["old", "kept"])
    other = await make(blog, "Two", tags=["kept"])
    updated = await blog.update_post(post["id"], {}, None, tags=["new", "kept"])
    assert [tag["slug"] for tag in updated["tags"]] == ["new", "kept"]
    assert await blog.get_tag("old") is None
    assert await public_titles(blog, PostList(tag_slug="old")) == []
    assert await public_titles(blog, PostList(tag_slug="new")) == ["One"]
    assert (await blog.update_post(post["id"], {"title": "One again"}, None))["tags"] == updated["tags"]  # untouched

    assert await blog.delete_post(post["id"])
    assert await blog.delete_post(other["id"])
    assert await blog.popular_tags() == []
    async with blog.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(tags)) == 0


async def test_concurrent_first_uses_of_the_same_new_tags_make_each_tag_once(blog):
    made = await asyncio.gather(*(make(blog, f"p{i}", tags=["alpha", "beta", "gamma"][::1 if i % 2 else -1])
                                  for i in range(10)))
    assert len(made) == 10
    assert {tag["post_count"] for tag in await blog.popular_tags()} == {10}
    async with blog.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(tags)) == 3


# --- favourites ---------------------------------------------------------------
async def test_eight_concurrent_favourites_of_one_reader_count_once(blog):
    post = await make(blog)
    kept = await asyncio.gather(*(blog.favourite(post["id"], BOB[1]) for _ in range(8)))
    assert all(each["favourited"] for each in kept)
    assert (await blog.get_post(post["id"]))["favourites_count"] == 1
    assert (await blog.get_post(post["id"], viewer_id=BOB[1], with_favourited=True))["favourited"] is True
    assert (await blog.get_post(post["id"], viewer_id=CAROL[1], with_favourited=True))["favourited"] is False
    assert "favourited" not in await blog.get_post(post["id"])

    await asyncio.gather(*(blog.favourite(post["id"], reader) for reader in range(10, 18)))
    assert (await blog.get_post(post["id"]))["favourites_count"] == 9
    dropped = await asyncio.gather(*(blog.unfavourite(post["id"], BOB[1]) for _ in range(8)))
    assert not any(each["favourited"] for each in dropped)
    assert (await blog.get_post(post["id"]))["favourites_count"] == 8


async def test_a_reader_keeps_only_what_they_can_see_and_lists_what_they_kept(blog):
    first, second = await make(blog, "First"), await make(blog, "Second")
    draft = await make(blog, "Draft", status="draft")
    assert await blog.favourite(draft["id"], BOB[1]) is None
    assert await blog.favourite(999_999, BOB[1]) is None
    await blog.favourite(first["id"], BOB[1])
    await blog.favourite(second["id"], BOB[1])
    page = await blog.list_page(PostList(favourited_by=BOB[1]), viewer_id=BOB[1], with_favourited=True)
    assert [(p["title"], p["favourited"]) for p in page.posts] == [("Second", True), ("First", True)]
    listed = (await blog.list_page(PostList(), viewer_id=CAROL[1], with_favourited=True)).posts
    assert [p["favourited"] for p in listed] == [False, False]
    assert [p["favourites_count"] for p in listed] == [1, 1]

    assert await blog.delete_post(second["id"])
    assert await public_titles(blog, PostList(favourited_by=BOB[1])) == ["First"]


# --- comment counts -------------------------------------------------------------
async def test_a_comment_count_never_goes_back_to_an_older_version(blog):
    post = await make(blog)
    assert await blog.set_comment_count(post["id"], 3, version=2) is True
    assert await blog.set_comment_count(post["id"], 1, version=1) is False  # arrived late
    assert await blog.set_comment_count(post["id"], 9, version=2) is False  # the same version again
    assert (await blog.get_post(post["id"]))["comment_count"] == 3
    assert await blog.set_comment_count(post["id"], 4, version=2**40) is True
    assert (await blog.list_posts(0, 20, None))[0]["comment_count"] == 4
    assert await blog.set_comment_count(999_999, 1, version=5) is False
    with pytest.raises(ValueError):
        await blog.set_comment_count(post["id"], -1, version=6)


async def test_concurrent_comment_counts_keep_the_newest(blog):
    post = await make(blog)
    versions = list(range(1, 41))
    await asyncio.gather(*(blog.set_comment_count(post["id"], version * 10, version) for version in reversed(versions)))
    assert (await blog.get_post(post["id"]))["comment_count"] == 400


# --- delete, and the outbox ---------------------------------------------------------
async def test_a_delete_writes_its_post_deleted_event_in_its_own_transaction(blog):
    post = await make(blog, tags=["x"])
    await blog.favourite(post["id"], BOB[1])
    assert await blog.delete_post(post["id"]) is True
    assert await blog.delete_post(post["id"]) is False
    async with blog.engine.connect() as conn:
        events = (await conn.execute(select(outbox.c.topic, outbox.c.payload))).all()
        assert await conn.scalar(select(func.count()).select_from(posts)) == 0
    assert [(topic, payload) for topic, payload in events] == [("post.deleted", f'{{"post_id":{post["id"]}}}')]
    assert (await blog.counts())["outbox_pending"] == 1


async def test_the_counts_of_status(blog):
    await make(blog, "Public", tags=["a"])
    await make(blog, "Draft", status="draft")
    await make(blog, "Later", published_at=utcnow() + timedelta(days=1))
    counts = await blog.counts()
    assert counts == {"post_count": 3, "published_count": 1, "draft_count": 1, "scheduled_count": 1,
                      "category_count": 4, "tag_count": 1, "outbox_pending": 0}
