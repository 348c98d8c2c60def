import asyncio

import pytest

from titanium.core.idempotency import KeyedRequest, KeyUsedForAnotherRequest
from titanium.services.blog.content import DEFAULT_CATEGORIES, PALETTE
from titanium.services.blog.repository import CategoryRef, UnknownCategory
from titanium.services.blog.tables import posts


async def post(blog, title="A title", category="Notes", author=("alice", 1), content="Some content"):
    return (await blog.create_post(title, content, author[0], author[1], CategoryRef(name=category))).post


async def test_the_default_categories_exist_with_palette_colours(blog):
    categories = await blog.list_categories()
    assert sorted(c["name"] for c in categories) == sorted(DEFAULT_CATEGORIES)
    assert {c["color"] for c in categories} == set(PALETTE[: len(DEFAULT_CATEGORIES)])
    assert all(c["post_count"] == 0 for c in categories)


async def test_new_categories_right_after_the_defaults_are_created(blog):
    # The seed failed here: its sequence lagged behind hand-written ids.
    for name in ("First", "Second", "Third", "Fourth"):
        created = await post(blog, category=name)
        assert created["category"]["name"] == name
    categories = await blog.list_categories()
    assert len(categories) == len(DEFAULT_CATEGORIES) + 4
    assert len({c["id"] for c in categories}) == len(categories)
    assert len({c["color"] for c in categories}) == len(categories)


async def test_a_category_is_found_by_its_slug_whatever_the_spelling(blog):
    first = await post(blog, category="Cloud Native")
    second = await post(blog, category="  cloud   NATIVE ")
    assert first["category"] == second["category"]
    assert first["category"]["slug"] == "cloud-native"
    assert first["category"]["name"] == "Cloud Native"


async def test_a_post_can_name_an_existing_category_by_id(blog):
    technology = next(c for c in await blog.list_categories() if c["slug"] == "technology")
    created, _ = await blog.create_post("t", "c", "alice", 1, CategoryRef(id=technology["id"]))
    assert created["category"]["id"] == technology["id"]
    with pytest.raises(UnknownCategory):
        await blog.create_post("t", "c", "alice", 1, CategoryRef(id=999_999))
    assert (await blog.counts())["post_count"] == 1


async def test_a_keyed_create_done_again_finds_the_post_it_made(blog):
    # What a retry meets when the first process died between its commit and storing its answer.
    keyed = KeyedRequest("k" * 64, "f" * 64)
    first = await blog.create_post("Once", "c", "alice", 1, CategoryRef(name="Notes"), keyed)
    again = await blog.create_post("Once", "c", "alice", 1, CategoryRef(name="Notes"), keyed)
    assert first.replayed is False and again.replayed is True
    assert again.post == first.post
    with pytest.raises(KeyUsedForAnotherRequest):
        await blog.create_post("Another", "c", "alice", 1, CategoryRef(name="Notes"), KeyedRequest("k" * 64, "e" * 64))
    other_key = await blog.create_post("Once", "c", "alice", 1, CategoryRef(name="Notes"), KeyedRequest("j" * 64, "f" * 64))
    unkeyed = [await blog.create_post("Once", "c", "alice", 1, CategoryRef(name="Notes")) for _ in range(2)]
    assert not other_key.replayed and not any(made.replayed for made in unkeyed)
    assert (await blog.counts())["post_count"] == 4


async def test_concurrent_creates_with_one_key_make_one_post(blog):
    # As when the key store is down and nothing claims the key first: the database alone decides.
    keyed = KeyedRequest("r" * 64, "f" * 64)
    made = await asyncio.gather(*(blog.create_post("Once", "c", "alice", 1, CategoryRef(name="Notes"), keyed)
                                  for _ in range(8)))
    assert len({each.post["id"] for each in made}) == 1
    assert sum(not each.replayed for each in made) == 1
    assert (await blog.counts())["post_count"] == 1


async def test_concurrent_first_uses_of_one_name_make_one_category(blog):
    created = await asyncio.gather(*(post(blog, title=f"p{i}", category="Race") for i in range(12)))
    assert len({p["category"]["id"] for p in created}) == 1
    race = [c for c in await blog.list_categories() if c["slug"] == "race"]
    assert len(race) == 1 and race[0]["post_count"] == 12


async def test_concurrent_new_categories_never_share_a_colour(blog):
    await asyncio.gather(*(post(blog, category=f"Topic {i}") for i in range(16)))
    colours = [c["color"] for c in await blog.list_categories()]
    assert len(colours) == len(DEFAULT_CATEGORIES) + 16
    assert len(set(colours)) == len(colours)


async def test_posts_are_listed_newest_first_with_excerpts_and_pages(blog):
    for i in range(5):
        await post(blog, title=f"post {i}", content=f"line one\nline two {i} " + "z" * 200)
    listed = await blog.list_posts(0, 20, None)
    assert [p["title"] for p in listed] == [f"post {i}" for i in reversed(range(5))]
    assert listed[0]["excerpt"].startswith("line one line two 4 ")
    assert listed[0]["excerpt"].endswith("...") and len(listed[0]["excerpt"]) == 123
    # The API's fields (API.md), and the new ones beside them.
    assert set(listed[0]) >= {"id", "title", "author", "created_at", "excerpt", "category"}
    assert set(listed[0]) >= {"published_at", "summary", "reading_minutes", "tags", "favourites_count", "comment_count"}
    assert [p["title"] for p in await blog.list_posts(1, 2, None)] == ["post 3", "post 2"]
    assert await blog.list_posts(10, 20, None) == []


async def test_the_list_filters_by_category_slug(blog):
    await post(blog, title="a", category="Cats")
    await post(blog, title="b", category="Dogs")
    assert [p["title"] for p in await blog.list_posts(0, 20, "cats")] == ["a"]
    assert await blog.list_posts(0, 20, "nothing") == []


async def test_an_update_changes_only_what_it_names(blog):
    created = await post(blog, title="old", content="body")
    updated = await blog.update_post(created["id"], {"title": "new"}, None)
    assert updated["title"] == "new" and updated["content"] == "body"
    assert updated["updated_at"] >= created["updated_at"] and updated["created_at"] == created["created_at"]
    assert await blog.update_post(999_999, {"title": "x"}, None) is None


async def test_a_category_left_without_posts_disappears(blog):
    created = await post(blog, category="Ephemeral")
    kept = await post(blog, category="Kept")
    moved = await blog.update_post(created["id"], {}, CategoryRef(name="Elsewhere"))
    assert moved["category"]["slug"] == "elsewhere"
    slugs = {c["slug"] for c in await blog.list_categories()}
    assert "ephemeral" not in slugs and "elsewhere" in slugs
    assert await blog.delete_post(moved["id"]) is True
    assert await blog.get_post(moved["id"]) is None
    slugs = {c["slug"] for c in await blog.list_categories()}
    assert "elsewhere" not in slugs and "kept" in slugs
    assert await blog.delete_post(kept["id"]) is True
    assert await blog.delete_post(kept["id"]) is False


async def test_dates_are_iso_8601_in_utc(blog):
    created = await post(blog)
    fetched = await blog.get_post(created["id"])
    assert fetched["created_at"].endswith("+00:00")
    assert fetched == created


async def test_a_read_does_not_wait_for_a_write_in_progress_and_sees_it_once_committed(blog):
    first = await post(blog, title="Committed")
    async with blog.engine.begin() as writing:  # on SQLite, the one writing connection, mid-transaction
        await writing.execute(posts.update().where(posts.c.id == first["id"]).values(title="Not yet"))
        # Were reads on the writer's connection, this one would wait for it until the write ended.
        listed = await asyncio.wait_for(blog.list_posts(0, 20, None), timeout=10)
        assert [p["title"] for p in listed] == ["Committed"]
    assert (await blog.get_post(first["id"]))["title"] == "Not yet"
    assert [p["title"] for p in await blog.list_posts(0, 20, None)] == ["Not yet"]
