"""The RealWorld ("Conduit") API at /realworld/api, end to end through the gateway, on the platform's own services.

Every endpoint of the specification (../shared/references/realworld-openapi.yml)
with its shapes and status codes; an article is a post of the blog and a post
is an article; tokens, their revocation, Idempotency-Key and the route labels
of the figures are the platform's own (issue 18, ADR 20).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.platform.harness import PASSWORD, Client, Platform, unique, until_not_busy, wait_until

API = "/realworld/api"


class Reader:
    """A person using a RealWorld client: `Authorization: Token <jwt>`."""

    def __init__(self, platform: Platform) -> None:
        self.client = Client(platform.url)
        self.http = self.client.http
        self.username = unique("rw")
        self.email = f"{self.username}@example.com"
        self.token: str | None = None

    def signed_up(self) -> Reader:
        """Setup, not the subject: asked again while the platform is too busy (two password hashes, a registration's
        and its login's), with one Idempotency-Key, so that the account is made once."""
        user, key = {"username": self.username, "email": self.email, "password": PASSWORD}, str(uuid.uuid4())
        answer = until_not_busy(lambda: self.post("/users", {"user": user}, headers={"Idempotency-Key": key}))
        assert answer.status_code == 201, answer.text
        self.token = answer.json()["user"]["token"]
        return self

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"} if self.token else {}

    def get(self, path: str, **options: Any) -> httpx.Response:
        return self.http.get(API + path, headers={**self.auth, **options.pop("headers", {})}, **options)

    def post(self, path: str, body: Any = None, **options: Any) -> httpx.Response:
        return self.http.post(API + path, json=body, headers={**self.auth, **options.pop("headers", {})}, **options)

    def put(self, path: str, body: Any, **options: Any) -> httpx.Response:
        return self.http.put(API + path, json=body, headers={**self.auth, **options.pop("headers", {})}, **options)

    def delete(self, path: str, **options: Any) -> httpx.Response:
        return self.http.delete(API + path, headers={**self.auth, **options.pop("headers", {})}, **options)

    def write(self, title: str = "How to train your dragon", tags: tuple[str, ...] = ("dragons", "training"),
              **options: Any) -> dict[str, Any]:
        answer = self.post("/articles", {"article": {"title": title, "description": "Ever wonder how?",
                                                     "body": "You have to *believe*.", "tagList": list(tags)}},
                           **options)
        assert answer.status_code == 201, answer.text
        article: dict[str, Any] = answer.json()["article"]
        return article


def errors_of(answer: httpx.Response, status: int) -> list[str]:
    assert answer.status_code == status, answer.text
    body = answer.json()["errors"]["body"]
    assert body and all(isinstance(message, str) for message in body)
    return list(body)


@pytest.fixture
def reader(platform: Platform) -> Reader:
    return Reader(platform).signed_up()


@pytest.fixture
def other(platform: Platform) -> Reader:
    return Reader(platform).signed_up()


# --- users -----------------------------------------------------------------------------------------------------


def test_sign_up_log_in_by_email_and_the_current_user(platform, reader):
    assert reader.get("/user").json() == {"user": {"email": reader.email, "token": reader.token,
                                                   "username": reader.username, "bio": None, "image": None}}
    stranger = Reader(platform)
    login = stranger.post("/users/login", {"user": {"email": reader.email.upper(), "password": PASSWORD}})
    assert login.status_code == 200, login.text
    user = login.json()["user"]
    assert (user["username"], user["email"]) == (reader.username, reader.email)
    stranger.token = user["token"]
    assert stranger.get("/user").json()["user"]["username"] == reader.username
    # The token is the platform's: its own API takes it as a Bearer token.
    assert reader.http.get("/api/users/me", headers={"Authorization": f"Bearer {user['token']}"}).status_code == 200

    errors_of(stranger.post("/users/login", {"user": {"email": reader.email, "password": "wrong password"}}), 401)
    errors_of(Reader(platform).get("/user"), 401)
    errors_of(Reader(platform).post("/users/login", {"user": {"email": reader.email}}), 422)


def test_a_taken_name_or_a_weak_password_is_refused_as_invalid_input(platform, reader):
    again = Reader(platform)
    taken = again.post("/users", {"user": {"username": reader.username, "email": f"x{reader.email}",
                                           "password": PASSWORD}})
    assert errors_of(taken, 422) == ["username or email already registered"]
    weak = again.post("/users", {"user": {"username": unique("rw"), "email": f"{unique()}@example.com",
                                          "password": "short"}})
    assert any(message.startswith("password:") for message in errors_of(weak, 422))


def test_a_user_changes_bio_and_image_but_not_the_name_here(reader):
    changed = reader.put("/user", {"user": {"bio": "I like to skateboard", "image": "https://example.com/me.png",
                                            "username": reader.username, "email": reader.email}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["user"] == {"email": reader.email, "token": reader.token, "username": reader.username,
                                      "bio": "I like to skateboard", "image": "https://example.com/me.png"}
    assert reader.get("/user").json()["user"]["bio"] == "I like to skateboard"
    assert errors_of(reader.put("/user", {"user": {"username": unique("rw")}}), 422) == [
        "username: a username cannot be changed"]
    errors_of(reader.put("/user", {"user": {"image": "javascript:alert(1)"}}), 422)


def test_a_revoked_token_is_refused_here_too(platform, reader):
    session = reader.http.post("/api/login", json={"username": reader.username, "password": PASSWORD}).json()
    reader.token = session["access_token"]
    assert reader.get("/user").status_code == 200
    bearer = {"Authorization": f"Bearer {session['access_token']}"}
    assert reader.http.post("/api/logout", headers=bearer, json={}).status_code == 200
    wait_until(lambda: reader.get("/user").status_code == 401, what="the signed-out token refused")
    assert reader.get("/user").json()["errors"]["body"]


# --- profiles ---------------------------------------------------------------------------------------------------


def test_profiles_and_following(platform, reader, other):
    anonymous = Reader(platform)
    assert anonymous.get(f"/profiles/{other.username}").json() == {
        "profile": {"username": other.username, "bio": None, "image": None, "following": False}}
    followed = reader.post(f"/profiles/{other.username}/follow")
    assert followed.status_code == 200, followed.text
    assert followed.json()["profile"]["following"] is True
    assert reader.post(f"/profiles/{other.username}/follow").json()["profile"]["following"] is True
    assert reader.get(f"/profiles/{other.username}").json()["profile"]["following"] is True
    assert anonymous.get(f"/profiles/{other.username}").json()["profile"]["following"] is False
    assert reader.delete(f"/profiles/{other.username}/follow").json()["profile"]["following"] is False
    errors_of(anonymous.post(f"/profiles/{other.username}/follow"), 401)
    errors_of(reader.get(f"/profiles/{unique('nobody')}"), 404)
    errors_of(reader.post(f"/profiles/{reader.username}/follow"), 422)


# --- articles ---------------------------------------------------------------------------------------------------


def test_an_article_is_a_post_of_the_blog_and_a_post_is_an_article(platform, reader):
    article = reader.write(tags=("dragons", "training"))
    post_id = int(article["slug"].split("-")[0])
    assert article["slug"] == f"{post_id}-how-to-train-your-dragon"
    assert {key: article[key] for key in ("title", "description", "body", "tagList", "favorited", "favoritesCount")} == {
        "title": "How to train your dragon", "description": "Ever wonder how?", "body": "You have to *believe*.",
        "tagList": ["dragons", "training"], "favorited": False, "favoritesCount": 0}
    assert article["author"] == {"username": reader.username, "bio": None, "image": None, "following": False}
    assert article["createdAt"] and article["updatedAt"]

    post = reader.http.get(f"/blog/api/posts/{post_id}")
    assert post.status_code == 200 and post.json()["title"] == "How to train your dragon"
    page = reader.http.get(f"/blog/posts/{post_id}", follow_redirects=True)
    assert page.status_code == 200 and "How to train your dragon" in page.text, "on the blog's pages too"

    written = reader.client
    written.token = reader.http.post("/api/login", json={"username": reader.username, "password": PASSWORD}).json()["token"]
    made = written.create_post(title="Written on the blog", content="Plain **Markdown**")
    assert made.status_code == 201, made.text
    slug = f"{made.json()['id']}-written-on-the-blog"
    shown = Reader(platform).get(f"/articles/{slug}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["article"]["body"] == "Plain **Markdown**" and shown.json()["article"]["slug"] == slug


def test_get_update_and_delete_an_article_by_its_slug(platform, reader, other):
    article = reader.write()
    post_id = article["slug"].split("-")[0]
    assert Reader(platform).get(f"/articles/{article['slug']}").json()["article"] == article
    assert Reader(platform).get(f"/articles/{post_id}").json()["article"]["slug"] == article["slug"], "the id decides"
    errors_of(reader.get("/articles/not-a-slug"), 404)
    errors_of(reader.get("/articles/999999999-nothing"), 404)

    changed = reader.put(f"/articles/{article['slug']}", {"article": {"title": "Did you train your dragon?"}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["article"]["slug"] == f"{post_id}-did-you-train-your-dragon"
    assert changed.json()["article"]["body"] == article["body"]
    assert reader.get(f"/articles/{article['slug']}").json()["article"]["title"] == "Did you train your dragon?"
    errors_of(other.put(f"/articles/{article['slug']}", {"article": {"title": "Mine now"}}), 403)
    errors_of(Reader(platform).put(f"/articles/{article['slug']}", {"article": {"title": "Mine now"}}), 401)
    errors_of(reader.put(f"/articles/{article['slug']}", {"article": {"title": ""}}), 422)

    errors_of(other.delete(f"/articles/{article['slug']}"), 403)
    assert reader.delete(f"/articles/{article['slug']}").status_code == 204
    errors_of(reader.get(f"/articles/{article['slug']}"), 404)


def test_invalid_articles_are_refused_with_the_reasons(reader):
    missing = reader.post("/articles", {"article": {"description": "no title", "body": "body"}})
    assert "article.title: Field required" in errors_of(missing, 422)
    errors_of(reader.post("/articles", {"article": {"title": "t", "body": "b", "tagList": ["bad/../tag"]}}), 422)
    errors_of(reader.post("/articles", {}), 422)


def test_a_keyed_article_is_written_once(reader):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = reader.write(title="Once only", headers=key)
    again = reader.write(title="Once only", headers=key)
    assert again["slug"] == first["slug"]


def test_lists_by_tag_author_and_favourites_with_their_counts(platform, reader, other):
    tag = unique("tag")
    mine = [reader.write(title=f"Mine {n}", tags=(tag,)) for n in range(3)]
    theirs = other.write(title="Theirs", tags=(tag,))
    page = Reader(platform).get("/articles", params={"tag": tag, "limit": 2})
    assert page.status_code == 200, page.text
    assert page.json()["articlesCount"] == 4
    assert [each["slug"] for each in page.json()["articles"]] == [theirs["slug"], mine[2]["slug"]]
    assert "body" not in page.json()["articles"][0], "a list's articles have no body (the spec)"
    rest = Reader(platform).get("/articles", params={"tag": tag, "limit": 2, "offset": 2}).json()
    assert [each["slug"] for each in rest["articles"]] == [mine[1]["slug"], mine[0]["slug"]]

    by_author = Reader(platform).get("/articles", params={"author": other.username}).json()
    assert by_author == {"articles": [{key: value for key, value in theirs.items() if key != "body"}],
                         "articlesCount": 1}

    favoured = reader.post(f"/articles/{theirs['slug']}/favorite")
    assert favoured.status_code == 200, favoured.text
    assert (favoured.json()["article"]["favorited"], favoured.json()["article"]["favoritesCount"]) == (True, 1)
    assert reader.post(f"/articles/{theirs['slug']}/favorite").json()["article"]["favoritesCount"] == 1, "once"
    kept = Reader(platform).get("/articles", params={"favorited": reader.username}).json()
    assert [each["slug"] for each in kept["articles"]] == [theirs["slug"]] and kept["articlesCount"] == 1
    assert reader.get(f"/articles/{theirs['slug']}").json()["article"]["favorited"] is True
    assert Reader(platform).get(f"/articles/{theirs['slug']}").json()["article"]["favorited"] is False
    unfavoured = reader.delete(f"/articles/{theirs['slug']}/favorite").json()["article"]
    assert (unfavoured["favorited"], unfavoured["favoritesCount"]) == (False, 0)
    errors_of(Reader(platform).post(f"/articles/{theirs['slug']}/favorite"), 401)

    assert tag in Reader(platform).get("/tags").json()["tags"]


def test_the_feed_holds_the_articles_of_the_authors_one_follows(platform, reader, other):
    errors_of(Reader(platform).get("/articles/feed"), 401)
    assert reader.get("/articles/feed").json() == {"articles": [], "articlesCount": 0}
    theirs = other.write(title="For my followers")
    assert reader.post(f"/profiles/{other.username}/follow").status_code == 200
    feed = reader.get("/articles/feed").json()
    assert [each["slug"] for each in feed["articles"]] == [theirs["slug"]] and feed["articlesCount"] == 1
    assert feed["articles"][0]["author"]["following"] is True


# --- comments ---------------------------------------------------------------------------------------------------


def test_comments_on_an_article(platform, reader, other):
    article = reader.write()
    slug = article["slug"]
    assert Reader(platform).get(f"/articles/{slug}/comments").json() == {"comments": []}
    made = other.post(f"/articles/{slug}/comments", {"comment": {"body": "Thank you so much!"}})
    assert made.status_code == 200, made.text
    comment = made.json()["comment"]
    assert comment["body"] == "Thank you so much!" and comment["author"]["username"] == other.username
    assert comment["createdAt"] == comment["updatedAt"] and isinstance(comment["id"], int)
    listed = Reader(platform).get(f"/articles/{slug}/comments").json()["comments"]
    assert [each["id"] for each in listed] == [comment["id"]]

    errors_of(Reader(platform).post(f"/articles/{slug}/comments", {"comment": {"body": "hi"}}), 401)
    errors_of(other.post(f"/articles/{slug}/comments", {"comment": {"body": ""}}), 422)
    errors_of(other.post("/articles/999999999-nothing/comments", {"comment": {"body": "hi"}}), 404)
    stranger = Reader(platform).signed_up()
    errors_of(stranger.delete(f"/articles/{slug}/comments/{comment['id']}"), 403)
    assert reader.delete(f"/articles/{slug}/comments/{comment['id']}").status_code == 204, "the article's author may"
    assert Reader(platform).get(f"/articles/{slug}/comments").json() == {"comments": []}


# --- the platform's own ------------------------------------------------------------------------------------------


def test_its_figures_are_labelled_with_its_routes(platform, reader):
    reader.write()
    wait_until(lambda: 'route="/realworld/api/articles"' in httpx.get(f"{platform.service_url('realworld')}/metrics").text,
               what="the route's figures")
    gateway = httpx.get(f"{platform.url}/metrics").text
    assert 'route="/realworld/api/articles"' in gateway, "the gateway labels them as the service does"


def test_unknown_paths_and_methods(platform, reader):
    assert reader.get("/nothing-here").status_code == 404
    assert reader.http.request("PATCH", f"{API}/user").status_code in (404, 405)
    # No cross-origin answers unless origins are configured (none by default).
    preflight = reader.http.options(f"{API}/articles", headers={"Origin": "https://elsewhere.example",
                                                                 "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers
