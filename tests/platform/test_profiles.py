"""Profiles and following, through the gateway as readers use them (issue 18); the internal reads other services use.

On the shared embedded platform, and on PostgreSQL and Redis with two
processes of users and auth (the gateway sends each request to the next).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.platform.conftest import PLATFORM_ENV, postgres_and_redis_env
from tests.platform.harness import PASSWORD, Client, Platform, unique
from tests.platform.test_refusals import assert_error


@pytest.fixture(scope="module", params=["sqlite", "postgres-and-redis-two-processes"])
def platform(request: pytest.FixtureRequest, platform: Platform,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    if request.param == "sqlite":
        yield platform  # the session's own
        return
    env = {**PLATFORM_ENV, **postgres_and_redis_env(request), "TITANIUM_DATABASE_POOL_SIZE": "4",
           "TITANIUM_REPLICAS": "users=2,auth=2"}
    running = Platform(tmp_path_factory.mktemp("profiles-postgres"), env).start()
    yield running
    assert running.stop() == 0, running.output()


def profile(client: Client, username: str, headers: dict[str, str] | None = None) -> dict:
    answer = client.http.get(f"/api/users/{username}", headers=headers or {})
    assert answer.status_code == 200, answer.text
    return answer.json()


def follow(client: Client, username: str) -> httpx.Response:
    return client.http.post(f"/api/users/{username}/follow", headers=client.auth)


def test_a_profile_shows_bio_image_and_counts_and_only_its_owner_sees_the_email(platform, person, anonymous):
    changed = person.http.patch("/api/users/me", headers=person.auth,
                                json={"bio": "Writes about rivers.\nAnd bridges.", "image": "https://example.com/me.png"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["email"] == f"{person.username}@example.com"

    public = profile(anonymous, person.username)
    assert public == {"id": public["id"], "username": person.username, "bio": "Writes about rivers.\nAnd bridges.",
                      "image": "https://example.com/me.png", "followers": 0, "following": 0, "followed": False}
    stranger = Client(platform.url).signed_up()
    assert "email" not in profile(stranger, person.username, stranger.auth)
    for bad in ("Bearer not.a.token", f"Bearer {person.token}x", "Basic abc"):
        assert "email" not in profile(anonymous, person.username, {"Authorization": bad}), "a bad token: the public view"
    own = profile(person, person.username.upper(), person.auth)
    assert own["email"] == f"{person.username}@example.com" and own["username"] == person.username
    me = person.http.get("/api/users/me", headers=person.auth)
    assert me.status_code == 200 and me.json() == own


def test_a_profile_is_cleared_field_by_field(person):
    person.http.patch("/api/users/me", headers=person.auth, json={"bio": "Hello", "image": "https://example.com/a.png"})
    assert person.http.patch("/api/users/me", headers=person.auth, json={"image": ""}).json()["image"] is None
    kept = person.http.patch("/api/users/me", headers=person.auth, json={}).json()
    assert (kept["bio"], kept["image"]) == ("Hello", None)
    assert person.http.patch("/api/users/me", headers=person.auth, json={"bio": None}).json()["bio"] is None


@pytest.mark.parametrize("change", [
    {"bio": "x" * 501},
    {"bio": "nul\x00byte"},
    {"bio": "bell\x07"},
    {"bio": 12},
    {"image": "http://example.com/a.png"},
    {"image": "javascript:alert(1)"},
    {"image": "data:image/png;base64,AAAA"},
    {"image": "https://user:secret@example.com/a.png"},
    {"image": "https://"},
    {"image": "https://example.com/" + "a" * 2048},
    {"image": "https://example.com/" + "\u00e9" * 1000},  # 1,020 characters sent, 6,020 once percent-encoded
    {"image": "not a url"},
    {"email": "someone-else@example.com"},
    {"username": "renamed"},
])
def test_an_invalid_profile_change_is_422_and_changes_nothing(person, anonymous, change):
    before = profile(anonymous, person.username)
    assert_error(person.http.patch("/api/users/me", headers=person.auth, json=change), 422)
    assert profile(anonymous, person.username) == before


def test_profile_changes_and_follows_need_a_token(person, anonymous):
    assert_error(anonymous.http.patch("/api/users/me", json={"bio": "x"}), 401)
    assert_error(anonymous.http.patch("/api/users/me", json={"bio": "x"}, headers={"Authorization": "Bearer x.y.z"}),
                 401)
    assert_error(anonymous.http.post(f"/api/users/{person.username}/follow"), 401)
    assert_error(anonymous.http.delete(f"/api/users/{person.username}/follow",
                                       headers={"Authorization": "Bearer x.y.z"}), 401)
    assert_error(anonymous.http.get("/api/users/me/following"), 401)
    assert_error(anonymous.http.get("/api/users/me"), 401)


def test_a_reader_follows_and_unfollows_an_author(platform, person):
    author = Client(platform.url).signed_up()
    followed = follow(person, author.username.upper())
    assert followed.status_code == 200, followed.text
    assert (followed.json()["username"], followed.json()["followers"], followed.json()["followed"]) == (
        author.username, 1, True)
    assert "email" not in followed.json()
    assert follow(person, author.username).json()["followers"] == 1, "following twice counts once"
    assert profile(person, person.username)["following"] == 1
    assert profile(person, author.username, person.auth)["followed"] is True
    assert profile(person, author.username)["followed"] is False, "without a token, nobody follows"
    listed = person.http.get("/api/users/me/following", headers=person.auth).json()["following"]
    assert listed == [{"id": followed.json()["id"], "username": author.username}]

    unfollowed = person.http.delete(f"/api/users/{author.username}/follow", headers=person.auth)
    assert unfollowed.status_code == 200 and unfollowed.json()["followers"] == 0
    assert unfollowed.json()["followed"] is False
    assert person.http.delete(f"/api/users/{author.username}/follow", headers=person.auth).status_code == 200
    assert person.http.get("/api/users/me/following", headers=person.auth).json()["following"] == []


def test_nobody_follows_themselves_or_a_user_that_does_not_exist(person):
    assert "yourself" in assert_error(follow(person, person.username), 422)["detail"]
    assert_error(follow(person, unique("nobody")), 404)
    assert_error(person.http.delete(f"/api/users/{unique('nobody')}/follow", headers=person.auth), 404)
    assert profile(person, person.username)["following"] == 0


def test_eight_follows_at_once_count_once(platform, person):
    author = Client(platform.url).signed_up()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: follow(person, author.username), range(8)))
    assert [answer.status_code for answer in answers] == [200] * 8
    assert profile(person, author.username)["followers"] == 1
    assert len(person.http.get("/api/users/me/following", headers=person.auth).json()["following"]) == 1


def test_a_deleted_accounts_follows_go_with_it(platform, person):
    leaving = Client(platform.url).signed_up()
    assert follow(person, leaving.username).status_code == 200
    assert follow(leaving, person.username).status_code == 200
    assert profile(person, person.username)["followers"] == 1
    deleted = leaving.http.request("DELETE", "/api/users/me", headers=leaving.auth, json={"password": PASSWORD})
    assert deleted.status_code == 204
    mine = profile(person, person.username)
    assert (mine["followers"], mine["following"]) == (0, 0)
    assert person.http.get("/api/users/me/following", headers=person.auth).json()["following"] == []


def test_the_internal_reads_answer_other_services_and_are_never_reachable_through_the_gateway(platform, person):
    authors = [Client(platform.url).signed_up() for _ in range(2)]
    assert follow(person, authors[0].username).status_code == 200
    reader_id = profile(person, person.username)["id"]
    users = httpx.Client(base_url=platform.service_url("users"), timeout=10)

    following = users.get(f"/internal/users/{reader_id}/following")
    assert following.status_code == 200
    assert following.json()["following"] == [{"id": profile(person, authors[0].username)["id"],
                                              "username": authors[0].username}]
    names = [authors[0].username.upper(), authors[1].username, "nobody-at-all"]
    batch = users.get(f"/internal/users/{reader_id}/follows", params=[("username", name) for name in names])
    assert batch.status_code == 200
    assert batch.json()["follows"] == {names[0]: True, names[1]: False, "nobody-at-all": False}
    assert_error(users.get(f"/internal/users/{reader_id}/follows"), 422)
    assert_error(users.get(f"/internal/users/{reader_id}/follows", params=[("username", "x")] * 101), 422)

    for method, path in (("GET", f"/internal/users/{reader_id}/following"),
                         ("GET", f"/internal/users/{reader_id}/follows?username=x"),
                         ("GET", f"/internal/profiles/{person.username}"),
                         ("GET", f"/api/users/..%2Finternal%2Fusers%2F{reader_id}%2Ffollowing"),
                         ("GET", f"/api/users/{person.username}/..%2F..%2Finternal%2Fprofiles%2Fx"),
                         ("PATCH", f"/internal/users/{reader_id}/profile"),
                         ("PUT", f"/internal/users/{reader_id}/following/{authors[1].username}")):
        request = person.http.build_request(method, httpx.URL(platform.url + path), json={"bio": "hijacked"})
        request.url = request.url.copy_with(raw_path=path.encode())
        answer = person.http.send(request)
        assert answer.status_code in (404, 405), f"{method} {path} -> {answer.status_code} {answer.text}"
    assert profile(person, person.username)["bio"] is None
    assert profile(person, authors[1].username)["followers"] == 0
