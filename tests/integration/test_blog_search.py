"""Search on both engines (SQLite FTS5, PostgreSQL full text): ranking, safe highlighting, an index that follows every write."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from titanium.core.timestamps import utcnow
from titanium.services.blog.cursors import InvalidCursor
from titanium.services.blog.repository import CategoryRef
from titanium.services.blog.tables import posts


async def make(blog, title, content, **fields):
    return (await blog.create_post(title, content, "alice", 1, CategoryRef(name="Notes"), **fields)).post


async def found(blog, query, **options):
    return [post["title"] for post in (await blog.search(query, **options)).posts]


async def test_a_match_in_the_title_ranks_above_one_in_the_body_and_more_matches_above_fewer(blog):
    await make(blog, "Gardening notes", "Tomatoes like sun. Kubernetes is mentioned once here.")
    await make(blog, "Kubernetes in production", "What we learned running clusters.")
    await make(blog, "Operations diary", "Kubernetes upgrades, kubernetes nodes, kubernetes pods and more kubernetes.")
    await make(blog, "Unrelated", "Nothing to see.")
    assert await found(blog, "kubernetes") == ["Kubernetes in production", "Operations diary", "Gardening notes"]


async def test_every_word_must_match_and_words_match_by_stem_and_prefix(blog):
    await make(blog, "Running fast", "The runner keeps running over the hills.")
    await make(blog, "Walking", "A slow walk in the hills.")
    assert await found(blog, "runs") == ["Running fast"]  # English: by stem
    assert await found(blog, "hills") == ["Running fast", "Walking"] or await found(blog, "hills") == [
        "Walking", "Running fast"]
    assert await found(blog, "running hills") == ["Running fast"]
    assert await found(blog, "running walking") == []
    assert await found(blog, "walk") == ["Walking"]


async def test_korean_text_is_found_by_its_words_with_their_particles(blog):
    await make(blog, "클라우드 네이티브 블로그", "쿠버네티스를 배포하는 방법을 블로그에 씁니다.")
    await make(blog, "English only", "Nothing Korean here.")
    assert await found(blog, "블로그") == ["클라우드 네이티브 블로그"]
    assert await found(blog, "쿠버네티스") == ["클라우드 네이티브 블로그"]  # "쿠버네티스를"
    assert await found(blog, "배포하는") == ["클라우드 네이티브 블로그"]
    result = (await blog.search("블로그")).posts[0]
    assert "<mark>블로그</mark>" in result["title_html"]
    assert "<mark>블로그에</mark>" in result["snippet"]


async def test_the_snippet_marks_the_words_and_escapes_everything_else(blog):
    await make(blog, "<img src=x onerror=alert(1)> Dangerous title",
               "Before <script>alert('xss')</script> the keyword & \"quotes\" and <b>tags</b> after the keyword.")
    result = (await blog.search("keyword")).posts[0]
    snippet, title = result["snippet"], result["title_html"]
    assert "<mark>keyword</mark>" in snippet
    assert "<script" not in snippet and "<b>" not in snippet and "<img" not in title
    # The post's words, as text. (PostgreSQL's headline leaves out what its parser
    # takes for HTML tags; SQLite keeps them, escaped.)
    assert "alert(&#x27;xss&#x27;)" in snippet and "&amp; &quot;quotes&quot;" in snippet
    assert title.startswith("&lt;img")
    stripped = snippet.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in stripped and ">" not in stripped


async def test_an_edit_or_a_delete_changes_the_results_at_once(blog):
    post = await make(blog, "Original", "Talks about avocados.")
    assert await found(blog, "avocados") == ["Original"]
    await blog.update_post(post["id"], {"content": "Now it talks about papayas."}, None)
    assert await found(blog, "avocados") == []
    assert await found(blog, "papayas") == ["Original"]
    await blog.update_post(post["id"], {"title": "Renamed mangoes"}, None)
    assert await found(blog, "mangoes") == ["Renamed mangoes"]
    assert await found(blog, "original") == []
    assert await blog.delete_post(post["id"])
    assert await found(blog, "papayas") == []


async def test_a_write_rolled_back_leaves_the_index_as_it_was(blog):
    post = await make(blog, "Stable", "Steady words.")
    with pytest.raises(RuntimeError):
        async with blog.engine.begin() as conn:
            await conn.execute(update(posts).where(posts.c.id == post["id"]).values(title="Changed", body_text="gone"))
            raise RuntimeError("the write fails after the statement")
    assert await found(blog, "steady") == ["Stable"]
    assert await found(blog, "gone") == []


async def test_drafts_and_scheduled_posts_never_appear(blog):
    await make(blog, "Public pineapple", "pineapple")
    draft = await make(blog, "Draft pineapple", "pineapple", status="draft")
    await make(blog, "Scheduled pineapple", "pineapple", published_at=utcnow() + timedelta(days=1))
    assert await found(blog, "pineapple") == ["Public pineapple"]
    assert await found(blog, "pineapple", viewer_id=1) == ["Public pineapple"]
    await blog.publish(draft["id"])
    assert sorted(await found(blog, "pineapple")) == ["Draft pineapple", "Public pineapple"]


HOSTILE = [
    '"', "'", '""', "''", "\\", '"unbalanced', "NEAR(a b)", "NEAR", "a NEAR/2 b", "*", "run*", "-", "-run", "a - b",
    "(", ")", "((run", "run)", "a AND", "OR b", "NOT", "a:b", "title:run", "^run", "a & b", "!a", "a | b", "a <-> b",
    "{a}", "[a]", "a+b", "%", "_", "__", "😀", "🏃‍♀️ running", "블로그 😀", "\u200b", "\x00", "\x01run", "a" * 500,
    " ".join(["run"] * 100), "ﬁ", "Σ", "'); DROP TABLE posts; --", "run\\", "\\'",
]


@pytest.mark.parametrize("query", HOSTILE)
async def test_no_query_can_make_the_engine_fail(blog, query):
    await make(blog, "Running", "The runner runs. 블로그를 씁니다.")
    page = await blog.search(query)
    assert isinstance(page.posts, list)


async def test_a_query_without_words_finds_nothing_without_asking_the_engine(blog):
    await make(blog, "Anything", "text")
    for query in ("", "   ", "😀", "***", "--"):
        assert (await blog.search(query)).posts == []


async def test_results_come_a_page_at_a_time_each_once(blog):
    for index in range(25):
        await make(blog, f"Post {index}", "shared word " + "filler " * index)
    seen, cursor = [], None
    for _ in range(10):
        page = await blog.search("shared", cursor=cursor, limit=10)
        seen.extend(post["id"] for post in page.posts)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == 25 and len(set(seen)) == 25
    scores = [post["score"] for post in (await blog.search("shared", limit=25)).posts]
    assert scores == sorted(scores, reverse=True)
    assert [post["id"] for post in (await blog.search("shared", offset=10, limit=10)).posts] == seen[10:20]


async def test_a_cursor_of_another_query_or_a_made_up_one_is_refused(blog):
    for index in range(3):
        await make(blog, f"Post {index}", "shared word")
    cursor = (await blog.search("shared", limit=1)).next_cursor
    assert cursor is not None
    with pytest.raises(InvalidCursor):
        await blog.search("word", cursor=cursor)
    with pytest.raises(InvalidCursor):
        await blog.search("shared", cursor="bm90IGEgY3Vyc29y")
    with pytest.raises(InvalidCursor):
        await blog.search("shared", cursor="../../etc/passwd")


async def test_the_newest_matches_are_the_ones_ranked(blog, monkeypatch):
    from titanium.services.blog import repository

    monkeypatch.setattr(repository, "SEARCH_CANDIDATES", 5)
    made = [await make(blog, f"Post {index}", "common " * (1 + index % 3)) for index in range(8)]
    results = (await blog.search("common", limit=20)).posts
    assert {post["id"] for post in results} == {post["id"] for post in made[-5:]}
    assert [post["score"] for post in results] == sorted((post["score"] for post in results), reverse=True)
