"""`Idempotency-Key` on writes, through the gateway: a retried write is answered once and done once.

Every test runs on the embedded platform (SQLite, keys in the blog's memory)
and on PostgreSQL and Redis (keys in Redis), except the one that stops a
Redis of its own.
"""

from __future__ import annotations

import os
import signal
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from redis import Redis

from tests.faults.servers import PrivateRedis
from tests.platform.conftest import PLATFORM_ENV
from tests.platform.harness import Client, Platform, Platforms, unique, wait_until

REPLAYED = "idempotent-replayed"


BACKENDS = {"sqlite": {}, "postgres-and-redis": {"postgres": True, "redis": True}}


@pytest.fixture(scope="module", params=list(BACKENDS))
def platform(request: pytest.FixtureRequest, platforms: Platforms) -> Platform:
    """The shared platform of each backend: keys are per caller, and each test's people are new."""
    return platforms.shared(env=PLATFORM_ENV, **BACKENDS[request.param])


@pytest.fixture(scope="module", params=list(BACKENDS))
def breakable(request: pytest.FixtureRequest, own_platform) -> Platform:
    """A platform of this module's own on each backend: these tests kill its gateway or its blog."""
    return own_platform(env=PLATFORM_ENV, **BACKENDS[request.param])


@pytest.fixture(scope="module")
def person(platform: Platform) -> Client:
    """One writer for each backend's tests: keys are per caller and each test's keys and categories are new."""
    return Client(platform.url).signed_up()


def new_key() -> str:
    return str(uuid.uuid4())


def create(person: Client, key: str | None, **fields) -> httpx.Response:
    body = {"title": "Once", "content": "Sent twice, made once", "category_name": "Notes", **fields}
    headers = {**person.auth, **({"Idempotency-Key": key} if key is not None else {})}
    return person.http.post("/blog/api/posts", json=body, headers=headers)


def posts_in(person: Client, category: str) -> list[dict]:
    answer = person.http.get("/blog/api/posts", params={"category": category})
    assert answer.status_code == 200, answer.text
    return answer.json()


def assert_json_error(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert "detail" in answer.json()


def test_a_retried_create_returns_the_first_answer_and_makes_one_post(person):
    category, key = unique("cat"), new_key()
    first = create(person, key, category_name=category)
    retried = create(person, key, category_name=category)
    assert first.status_code == 201 and REPLAYED not in first.headers
    assert retried.status_code == 201 and retried.headers[REPLAYED] == "true"
    assert retried.json() == first.json()
    assert [post["id"] for post in posts_in(person, category)] == [first.json()["id"]]

    # The draft's form of the header (a Structured Field string) names the same key.
    assert create(person, f'"{key}"', category_name=category).json()["id"] == first.json()["id"]
    # Without a key, a write is what it always was: sent twice, made twice.
    assert create(person, None, category_name=category).status_code == 201
    assert create(person, None, category_name=category).status_code == 201
    assert len(posts_in(person, category)) == 3


def test_the_same_key_with_another_body_is_422_and_changes_nothing(person):
    category, key = unique("cat"), new_key()
    first = create(person, key, category_name=category)
    assert first.status_code == 201
    assert_json_error(create(person, key, category_name=category, title="Another title"), 422)
    assert [post["title"] for post in posts_in(person, category)] == ["Once"]
    assert create(person, key, category_name=category).json() == first.json(), "the key still replays its own request"


def test_another_users_same_key_is_theirs_alone(platform, person):
    other = Client(platform.url).signed_up()
    category, key = unique("cat"), new_key()
    mine, theirs = create(person, key, category_name=category), create(other, key, category_name=category)
    assert mine.status_code == theirs.status_code == 201
    assert REPLAYED not in theirs.headers
    assert {post["author"] for post in posts_in(person, category)} == {person.username, other.username}


def test_concurrent_duplicates_make_one_post_and_all_get_its_answer(person):
    category, key = unique("cat"), new_key()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: create(person, key, category_name=category), range(8)))
    # The duplicates wait for the first one's answer instead of a 409.
    assert [answer.status_code for answer in answers] == [201] * 8
    assert sum(answer.headers.get(REPLAYED) == "true" for answer in answers) == 7
    made = posts_in(person, category)
    assert len(made) == 1
    assert {answer.json()["id"] for answer in answers if answer.status_code == 201} == {made[0]["id"]}
    assert create(person, key, category_name=category).json()["id"] == made[0]["id"]


def test_a_retried_update_or_delete_is_done_once(person):
    category = unique("cat")
    post_id = create(person, None, category_name=category).json()["id"]
    key = new_key()
    changes = {"title": "Changed once"}
    first = person.http.patch(f"/blog/api/posts/{post_id}", json=changes, headers={**person.auth, "Idempotency-Key": key})
    again = person.http.patch(f"/blog/api/posts/{post_id}", json=changes, headers={**person.auth, "Idempotency-Key": key})
    assert first.status_code == again.status_code == 200
    assert again.headers[REPLAYED] == "true" and again.json() == first.json()

    key = new_key()
    gone = person.http.delete(f"/blog/api/posts/{post_id}", headers={**person.auth, "Idempotency-Key": key})
    again = person.http.delete(f"/blog/api/posts/{post_id}", headers={**person.auth, "Idempotency-Key": key})
    assert gone.status_code == again.status_code == 204 and again.headers[REPLAYED] == "true"
    assert person.http.delete(f"/blog/api/posts/{post_id}", headers={**person.auth, "Idempotency-Key": new_key()}
                              ).status_code == 404, "a new key is a new request"


def test_a_retried_create_whose_post_was_deleted_since_is_410_and_makes_nothing(person):
    """Issue 16 item 9a: it was replayed for 24 h as 201 with a post that no longer exists."""
    category, key = unique("cat"), new_key()
    post_id = create(person, key, category_name=category).json()["id"]
    assert person.http.delete(f"/blog/api/posts/{post_id}", headers=person.auth).status_code == 204
    retried = create(person, key, category_name=category)
    assert_json_error(retried, 410)
    assert REPLAYED not in retried.headers
    assert "deleted" in retried.json()["detail"]
    assert posts_in(person, category) == [], "nothing was made again"
    # A new key makes a new post, as for any new request.
    assert create(person, new_key(), category_name=category).status_code == 201


def test_a_refused_write_keeps_nothing_under_its_key(person):
    category, key = unique("cat"), new_key()
    assert_json_error(create(person, key, category_name=category, title=""), 422)
    corrected = create(person, key, category_name=category)
    assert corrected.status_code == 201 and REPLAYED not in corrected.headers


def test_a_keyed_write_with_a_token_not_accepted_is_401_and_keeps_nothing_under_its_key(person):
    category, key = unique("cat"), new_key()
    forged = {"Authorization": person.auth["Authorization"][:-4] + "AAAA", "Idempotency-Key": key}
    body = {"title": "Once", "content": "c", "category_name": category}
    assert_json_error(person.http.post("/blog/api/posts", json=body, headers=forged), 401)
    assert posts_in(person, category) == []
    made = create(person, key, category_name=category)
    assert made.status_code == 201 and REPLAYED not in made.headers, made.text


def test_a_malformed_key_is_400_and_nothing_is_made(person):
    # Every malformed form of the header, in-process: tests/unit/test_idempotency.py. Here: the blog refuses one.
    category = unique("cat")
    body = {"title": "Once", "content": "c", "category_name": category}
    for headers in ({**person.auth, "Idempotency-Key": "two words"},
                    [*person.auth.items(), ("Idempotency-Key", new_key()), ("Idempotency-Key", new_key())]):
        assert_json_error(person.http.post("/blog/api/posts", json=body, headers=headers), 400)
    assert posts_in(person, category) == []
    assert create(person, "k" * 255, category_name=category).status_code == 201, "255 characters is the limit"


def test_a_retried_registration_gets_the_first_account_from_the_same_address_only(platform):
    person, key = Client(platform.url), new_key()
    name = unique()
    body = {"username": name, "email": f"{name}@example.com", "password": "long enough"}
    first = person.http.post("/api/register", json=body, headers={"Idempotency-Key": key})
    retried = person.http.post("/api/users", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201 and REPLAYED not in first.headers
    # /api/users is the same route of the users service: the same request.
    assert retried.status_code == 201 and retried.headers[REPLAYED] == "true" and retried.json() == first.json()
    # Another address's key is another key: its own request is run (the same key would be 422 for another body).
    other = unique()
    elsewhere = Client(platform.url).http.post("/api/register", headers={"Idempotency-Key": key}, json={
        "username": other, "email": f"{other}@example.com", "password": "long enough"})
    assert elsewhere.status_code == 201 and REPLAYED not in elsewhere.headers
    assert person.http.post("/api/register", json={**body, "username": other}, headers={"Idempotency-Key": key}
                            ).status_code == 422, "from the first address, the key still stands for the first request"


def test_a_retry_after_a_gateway_crash_returns_the_first_answer(breakable):
    platform, person = breakable, Client(breakable.url).signed_up()
    category, key = unique("cat"), new_key()
    first = create(person, key, category_name=category)
    assert first.status_code == 201
    old_pid = platform.pid_of("gateway")
    os.kill(old_pid, signal.SIGKILL)
    wait_until(lambda: platform.pid_of("gateway") not in (None, old_pid), timeout=60, what="a new gateway process")
    wait_until(lambda: httpx.get(f"{platform.url}/health").status_code == 200, timeout=60, what="the gateway back")

    retried = create(person, key, category_name=category)
    assert retried.status_code == 201 and retried.headers[REPLAYED] == "true"
    assert retried.json() == first.json()
    assert len(posts_in(person, category)) == 1


def test_a_retry_after_the_blog_died_before_keeping_its_answer_finds_the_first_post(breakable):
    platform, person = breakable, Client(breakable.url).signed_up()
    category, key = unique("cat"), new_key()
    first = create(person, key, category_name=category)
    assert first.status_code == 201
    forget_kept_answers(platform)
    retried = create(person, key, category_name=category)
    assert retried.status_code == 201 and retried.headers[REPLAYED] == "true", retried.text
    assert retried.json() == first.json()
    assert len(posts_in(person, category)) == 1
    assert_json_error(create(person, key, category_name=category, title="Another title"), 422)
    assert len(posts_in(person, category)) == 1


def forget_kept_answers(platform: Platform) -> None:
    """What a blog process killed between its commit and keeping its answer leaves: the post, no answer.

    The blog is killed and started again (an answer kept in its memory goes
    with it); answers kept in Redis are deleted, as if never stored.
    """
    old_pid = platform.pid_of("blog")
    os.kill(old_pid, signal.SIGKILL)
    wait_until(lambda: platform.pid_of("blog") not in (None, old_pid), timeout=60, what="a new blog process")
    wait_until(lambda: httpx.get(f"{platform.service_url('blog')}/health/ready").status_code == 200, timeout=60,
               what="the new blog process ready")
    if "TITANIUM_REDIS_PREFIX" in platform.env:
        client = Redis.from_url(platform.env["TITANIUM_REDIS_URL"])
        kept = list(client.scan_iter(match=f"{platform.env['TITANIUM_REDIS_PREFIX']}:idempotency:*"))
        assert kept, "the answers were kept in Redis"
        client.delete(*kept)
        client.close()


@pytest.fixture(scope="module")
def redis_that_dies(private_redis: PrivateRedis, own_platform) -> tuple[Platform, PrivateRedis]:
    """A platform of this module's own, on a Redis of its own that the test stops."""
    return own_platform(env={**PLATFORM_ENV, "TITANIUM_REDIS_URL": private_redis.url}), private_redis


def test_a_dead_redis_still_answers_a_retried_create_once_from_the_database_logged(redis_that_dies):
    platform, redis = redis_that_dies
    person = Client(platform.url).signed_up()
    category, key = unique("cat"), new_key()
    assert create(person, key, category_name=category).status_code == 201
    assert create(person, key, category_name=category).headers[REPLAYED] == "true"

    redis.stop()
    category, key = unique("cat"), new_key()
    answers = [create(person, key, category_name=category) for _ in range(2)]
    assert [answer.status_code for answer in answers] == [201, 201], "made, not refused"
    assert answers[1].headers[REPLAYED] == "true" and answers[1].json() == answers[0].json()
    assert len(posts_in(person, category)) == 1
    assert_json_error(create(person, key, category_name=category, title="Another title"), 422)
    wait_until(lambda: "the write proceeds with only the route's own record of keys" in platform.log("blog"),
               what="the blog to log the write without its key store")
