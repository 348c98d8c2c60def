"""The blog's community API through the gateway (issue 18): tags, favourites, the feed and search, with cursors.

On the shared embedded platform (SQLite) and on the shared PostgreSQL one:
search ranks and highlights on FTS5 and on tsvector alike, and follows every
write at once; a favourite is counted once however many ask at the same
time; the feed holds the followed authors' posts only.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.platform.conftest import PLATFORM_ENV
from tests.platform.harness import Client, Platform, Platforms
from tests.platform.test_refusals import assert_error


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def platform(request: pytest.FixtureRequest, platform: Platform, platforms: Platforms) -> Platform:
    if request.param == "sqlite":
        return platform  # the session's own
    return platforms.shared(postgres=True, env=PLATFORM_ENV)


def word() -> str:
    """A word no other post has: letters only, so that both engines index it as it is."""
    return "zq" + "".join(chr(ord("a") + int(digit, 16) % 26) for digit in uuid.uuid4().hex[:10])


def created(client: Client, **fields) -> dict:
    answer = client.create_post(**fields)
    assert answer.status_code == 201, answer.text
    return answer.json()


def posts(client: Client, path: str = "/blog/api/posts", **params) -> list[dict]:
    answer = client.http.get(path, params=params, headers=client.auth if client.token else {})
    assert answer.status_code == 200, answer.text
    return answer.json()


def titles(answer: list[dict]) -> list[str]:
    return [post["title"] for post in answer]


def test_tags_are_set_on_create_replaced_on_update_and_listed_by_tag_with_counts(person):
    tag = word()
    first = created(person, title="First", tags=[tag, "Python", "python"])
    assert [t["name"] for t in first["tags"]] == [tag, "Python"], "the same tag by slug is kept once"
    created(person, title="Second", tags=[tag])
    assert titles(posts(person, tag=tag)) == ["Second", "First"]
    assert person.http.get("/blog/api/posts/count", params={"tag": tag}).json() == {"count": 2}
    popular = {each["slug"]: each["count"] for each in person.http.get("/blog/api/tags?limit=100").json()}
    assert popular[tag] == 2

    changed = person.http.patch(f"/blog/api/posts/{first['id']}", json={"title": "First again"}, headers=person.auth)
    assert [t["name"] for t in changed.json()["tags"]] == [tag, "Python"], "tags absent: unchanged"
    changed = person.http.patch(f"/blog/api/posts/{first['id']}", json={"tags": ["other"]}, headers=person.auth)
    assert [t["slug"] for t in changed.json()["tags"]] == ["other"]
    assert titles(posts(person, tag=tag)) == ["Second"], "the list follows the edit at once"
    assert person.http.get("/blog/api/posts/count", params={"tag": tag}).json() == {"count": 1}


@pytest.mark.parametrize("fields", [
    {"tags": [f"tag{n}" for n in range(11)]},
    {"tags": ["a\x00b"]},
    {"tags": ["..."]},
    {"tags": [""]},
    {"tags": "python"},
    {"tags": None},
    {"description": "x" * 301},
])
def test_bad_tags_and_descriptions_are_422(person, fields):
    assert_error(person.create_post(**fields), 422)


def test_lists_page_by_cursor_with_x_next_cursor_and_link(person, anonymous):
    tag = word()
    for number in range(5):
        created(person, title=f"Post {number}", tags=[tag])
    first = anonymous.http.get("/blog/api/posts", params={"tag": tag, "limit": 2})
    assert titles(first.json()) == ["Post 4", "Post 3"]
    cursor = first.headers["x-next-cursor"]
    link = first.headers["link"]
    assert link.startswith("</blog/api/posts?") and link.endswith('>; rel="next"') and f"cursor={cursor}" in link
    second = anonymous.http.get(link[1:link.index(">")])
    assert titles(second.json()) == ["Post 2", "Post 1"]
    last = anonymous.http.get("/blog/api/posts", params={"tag": tag, "limit": 2,
                                                         "cursor": second.headers["x-next-cursor"]})
    assert titles(last.json()) == ["Post 0"]
    assert "x-next-cursor" not in last.headers and "link" not in last.headers

    plain = anonymous.http.get("/blog/api/posts?limit=1")
    assert plain.status_code == 200 and len(plain.json()) == 1 and plain.headers["x-next-cursor"]
    after = anonymous.http.get("/blog/api/posts", params={"limit": 1, "cursor": plain.headers["x-next-cursor"]})
    assert after.status_code == 200 and after.json()[0]["id"] != plain.json()[0]["id"]
    by_author = posts(anonymous, author=person.username)
    assert titles(by_author)[:5] == ["Post 4", "Post 3", "Post 2", "Post 1", "Post 0"]


def test_public_filtered_and_cursor_pages_follow_edits_favourites_and_deletes_at_once(person, anonymous):
    # Such pages are cached as the plain lists are: every write must drop them.
    tag = word()
    made = [created(person, title=f"Kept {number}", tags=[tag]) for number in range(3)]
    cursor = anonymous.http.get("/blog/api/posts", params={"tag": tag, "limit": 1}).headers["x-next-cursor"]

    def second_page() -> list[dict]:
        return posts(anonymous, tag=tag, limit=1, cursor=cursor)

    def authors_page() -> list[dict]:
        return posts(anonymous, author=person.username, limit=3)

    assert titles(second_page()) == ["Kept 1"] and titles(authors_page()) == ["Kept 2", "Kept 1", "Kept 0"]
    middle = f"/blog/api/posts/{made[1]['id']}"
    assert person.http.patch(middle, json={"title": "Edited"}, headers=person.auth).status_code == 200
    assert titles(second_page()) == ["Edited"] and titles(authors_page()) == ["Kept 2", "Edited", "Kept 0"]
    assert person.http.put(f"{middle}/favourite", headers=person.auth).status_code == 200
    assert second_page()[0]["favourites_count"] == 1 and authors_page()[1]["favourites_count"] == 1
    assert person.http.delete(middle, headers=person.auth).status_code == 204
    assert titles(second_page()) == ["Kept 0"] and titles(authors_page())[:2] == ["Kept 2", "Kept 0"]


@pytest.mark.parametrize("params", [
    {"cursor": "not-a-cursor"},
    {"cursor": "x" * 201},
    {"tag": "a", "cursor": "eyJ4IjoxfQ"},
    {"tag": "a", "author": "b"},
    {"limit": 0},
    {"limit": 101},
])
def test_bad_list_parameters_are_422(anonymous, params):
    assert_error(anonymous.http.get("/blog/api/posts", params=params), 422)


def test_a_cursor_of_another_list_is_422(anonymous, person):
    tag = word()
    for _ in range(2):
        created(person, tags=[tag])
    cursor = anonymous.http.get("/blog/api/posts", params={"tag": tag, "limit": 1}).headers["x-next-cursor"]
    assert_error(anonymous.http.get("/blog/api/posts", params={"limit": 1, "cursor": cursor}), 422)
    assert_error(anonymous.http.get("/blog/api/posts", params={"tag": tag, "cursor": cursor, "offset": 1}), 422)


def test_favourites_are_counted_once_under_concurrency_and_shown_on_lists(platform, person, anonymous):
    post = created(person, title="Keep me")
    reader = Client(platform.url).signed_up()
    anonymous.http.get("/blog/api/posts")  # cached now: the favourite must drop it
    anonymous.http.get(f"/blog/api/posts/{post['id']}")
    path = f"/blog/api/posts/{post['id']}/favourite"
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: reader.http.put(path, headers=reader.auth), range(8)))
    assert {answer.status_code for answer in answers} == {200}, [answer.text for answer in answers]
    assert answers[-1].json()["favourited"] is True
    assert anonymous.http.get(f"/blog/api/posts/{post['id']}").json()["favourites_count"] == 1
    listed = next(each for each in posts(anonymous) if each["id"] == post["id"])
    assert listed["favourites_count"] == 1 and "favourited" not in listed
    seen_by_reader = next(each for each in posts(reader) if each["id"] == post["id"])
    assert seen_by_reader["favourited"] is True
    assert reader.http.get(f"/blog/api/posts/{post['id']}", headers=reader.auth).json()["favourited"] is True
    assert titles(posts(reader, "/blog/api/me/favourites")) == ["Keep me"]
    assert titles(posts(anonymous, favourited=reader.username)) == ["Keep me"]
    assert anonymous.http.get("/blog/api/posts/count", params={"favourited": reader.username}).json() == {"count": 1}

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: reader.http.delete(path, headers=reader.auth), range(4)))
    assert {answer.status_code for answer in answers} == {200}
    assert answers[-1].json()["favourited"] is False and answers[-1].json()["favourites_count"] == 0
    assert next(each for each in posts(anonymous) if each["id"] == post["id"])["favourites_count"] == 0
    assert posts(reader, "/blog/api/me/favourites") == []
    assert posts(anonymous, favourited=f"nobody{word()}") == []


def test_favourites_need_a_token_and_a_post(person, anonymous):
    post = created(person)
    assert_error(anonymous.http.put(f"/blog/api/posts/{post['id']}/favourite"), 401)
    assert_error(anonymous.http.delete(f"/blog/api/posts/{post['id']}/favourite"), 401)
    bad = {"Authorization": "Bearer not.a.token"}
    assert_error(anonymous.http.put(f"/blog/api/posts/{post['id']}/favourite", headers=bad), 401)
    assert_error(person.http.put("/blog/api/posts/2147483000/favourite", headers=person.auth), 404)
    assert_error(person.http.put("/blog/api/posts/0/favourite", headers=person.auth), 422)
    assert_error(anonymous.http.get("/blog/api/me/favourites"), 401)
    # A public read with a token it cannot accept is still answered, as to anybody.
    assert anonymous.http.get("/blog/api/posts", headers=bad).status_code == 200


def test_the_feed_holds_the_followed_authors_posts_only(platform, anonymous):
    reader, followed, other = (Client(platform.url).signed_up() for _ in range(3))
    assert reader.http.post(f"/api/users/{followed.username}/follow", headers=reader.auth).status_code == 200
    assert posts(reader, "/blog/api/feed") == []
    created(followed, title="Followed one")
    created(other, title="Not followed")
    created(followed, title="Followed two")
    assert titles(posts(reader, "/blog/api/feed")) == ["Followed two", "Followed one"]
    assert reader.http.get("/blog/api/feed/count", headers=reader.auth).json() == {"count": 2}
    page = reader.http.get("/blog/api/feed", params={"limit": 1}, headers=reader.auth)
    assert titles(page.json()) == ["Followed two"]
    rest = reader.http.get("/blog/api/feed", params={"limit": 1, "cursor": page.headers["x-next-cursor"]},
                           headers=reader.auth)
    assert titles(rest.json()) == ["Followed one"] and "x-next-cursor" not in rest.headers
    assert_error(anonymous.http.get("/blog/api/feed"), 401)
    assert_error(anonymous.http.get("/blog/api/feed/count"), 401)
    assert reader.http.delete(f"/api/users/{followed.username}/follow", headers=reader.auth).status_code == 200
    assert posts(reader, "/blog/api/feed") == []


def search(client: Client, q: str, **params) -> dict:
    answer = client.http.get("/blog/api/search", params={"q": q, **params})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_search_ranks_highlights_escapes_and_pages(person, anonymous):
    term = word()
    created(person, title="Body only", content=f"Something about {term} in the middle of the text.")
    created(person, title=f"<script>alert(1)</script> {term} & more", content=f"All about {term}. {term} again.")
    found = search(anonymous, term)
    assert found["query"] == term
    assert titles(found["results"]) == [f"<script>alert(1)</script> {term} & more", "Body only"], "title matches first"
    top = found["results"][0]["highlight"]
    assert top["title"] == f"&lt;script&gt;alert(1)&lt;/script&gt; <mark>{term}</mark> &amp; more"
    assert f"<mark>{term}</mark>" in found["results"][1]["highlight"]["snippet"]
    assert all("<script" not in str(result["highlight"]) for result in found["results"])
    first = search(anonymous, term, limit=1)
    assert len(first["results"]) == 1 and first["next_cursor"]
    second = search(anonymous, term, limit=1, cursor=first["next_cursor"])
    assert titles(second["results"]) == ["Body only"] and second["next_cursor"] is None


def test_search_follows_edits_and_deletes_at_once(person, anonymous):
    term, other = word(), word()
    post = created(person, title="Findable", content=f"The word {term} is here.")
    assert titles(search(anonymous, term)["results"]) == ["Findable"]
    edited = person.http.patch(f"/blog/api/posts/{post['id']}", json={"content": f"Now {other} instead."},
                               headers=person.auth)
    assert edited.status_code == 200
    assert search(anonymous, term)["results"] == []
    assert titles(search(anonymous, other)["results"]) == ["Findable"]
    assert person.http.delete(f"/blog/api/posts/{post['id']}", headers=person.auth).status_code == 204
    assert search(anonymous, other)["results"] == []


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "x" * 201}, {"q": "a", "limit": 0},
                                    {"q": "a", "cursor": "bad"}])
def test_bad_searches_are_422(anonymous, params):
    assert_error(anonymous.http.get("/blog/api/search", params=params), 422)


def test_search_without_words_finds_nothing(anonymous):
    assert search(anonymous, "*** --- ()") == {"query": "*** --- ()", "results": [], "next_cursor": None}


def test_the_pages_show_an_authors_bio_and_avatar_and_marked_search_results_without_a_script(person, anonymous):
    changed = person.http.patch("/api/users/me", headers=person.auth,
                                json={"bio": "Hi <b>there</b>", "image": "https://example.com/me.png"})
    assert changed.status_code == 200, changed.text
    term, tag = word(), word()
    created(person, title=f"<i>{term}</i>", tags=[tag])
    author_page = anonymous.http.get(f"/blog/authors/{person.username}")
    assert author_page.status_code == 200
    assert 'src="https://example.com/me.png"' in author_page.text and "Hi &lt;b&gt;there&lt;/b&gt;" in author_page.text
    results = anonymous.http.get("/blog/search", params={"q": term})
    assert results.status_code == 200 and f"&lt;i&gt;<mark>{term}</mark>&lt;/i&gt;" in results.text
    assert anonymous.http.get("/blog/search", params={"q": "x" * 201}).status_code == 422
    assert anonymous.http.get("/blog/search", params={"q": term, "cursor": "bad"}).status_code == 404
    tag_page = anonymous.http.get(f"/blog/tags/{tag}")
    assert tag_page.status_code == 200 and f"#{tag}" in tag_page.text and f"/blog/tags/{tag}/feed.xml" in tag_page.text
    assert anonymous.http.get(f"/blog/tags/{word()}/feed.xml").status_code == 404
