"""Fault recovery: the platform rides out its database and its cache going away, and heals when they return.

Nothing is restarted by hand but the failed server: the services stay the
same processes throughout.
"""

from __future__ import annotations

import pytest

from tests.faults.servers import PrivatePostgres, PrivateRedis
from tests.platform.conftest import PLATFORM_ENV
from tests.platform.harness import SERVICES, Client, Platform, wait_until


@pytest.fixture(scope="module")
def servers():
    postgres = PrivatePostgres()
    postgres.start()
    redis = PrivateRedis()
    redis.start()
    yield postgres, redis
    redis.stop()
    postgres.remove()


@pytest.fixture(scope="module")
def platform(servers, own_platform):
    """A platform of this module's own, on a PostgreSQL and a Redis of its own, which the tests stop."""
    postgres, redis = servers
    return own_platform(env={**PLATFORM_ENV, "TITANIUM_USERS_DATABASE_URL": f"{postgres.url}/titanium_users",
                             "TITANIUM_BLOG_DATABASE_URL": f"{postgres.url}/titanium_blog",
                             "TITANIUM_COMMENTS_DATABASE_URL": f"{postgres.url}/titanium_comments",
                             "TITANIUM_REDIS_URL": redis.url})


def pids(platform: Platform) -> dict[str, int]:
    return {name: platform.pid_of(name) for name in SERVICES}


def test_a_database_outage_is_503_and_the_services_recover_when_it_returns(platform, servers):
    postgres, _ = servers
    person = Client(platform.url).signed_up()
    post_id = person.create_post(title="Before the outage").json()["id"]
    before = pids(platform)

    postgres.stop()
    try:
        uncached = person.http.get(f"/blog/api/posts/{post_id + 1000}")
        assert uncached.status_code == 503 and uncached.headers["retry-after"] == "1"
        write = person.create_post(title="During the outage")
        assert write.status_code == 503 and "detail" in write.json()
        login = Client(platform.url)
        login.username = person.username
        assert login.login().status_code == 503
        stats = platform.stats()
        assert stats["blog"]["service_status"] == "degraded" and stats["blog"]["checks"]["database"] == "error"
        assert stats["users"]["service_status"] == "degraded"
        assert stats["auth"]["service_status"] == "online", "auth keeps no database"
        assert stats["realworld"]["service_status"] == "online", "the RealWorld API keeps none either"
        article = person.http.get(f"/realworld/api/articles/{post_id + 1000}")
        assert article.status_code == 503 and article.headers["retry-after"] == "1", "the blog's answer, passed on"
        assert article.json()["errors"]["body"], "in RealWorld's shape"
    finally:
        postgres.start()

    wait_until(lambda: person.create_post(title="After the outage").status_code == 201, what="writes working again")
    assert person.http.get(f"/blog/api/posts/{post_id}").json()["title"] == "Before the outage"
    assert Client(platform.url).signed_up().token
    wait_until(lambda: all(e["service_status"] == "online" for e in platform.stats().values()), what="all online")
    assert pids(platform) == before, "recovered without a restart"


def test_a_cache_outage_degrades_nothing_a_user_sees(platform, servers):
    _, redis = servers
    person = Client(platform.url).signed_up()
    category = f"cache-outage-{person.username}"
    person.create_post(title="cached", category_name=category)
    listed = person.http.get("/blog/api/posts", params={"category": category})
    before = pids(platform)

    redis.stop()
    try:
        assert person.http.get("/blog/api/posts", params={"category": category}).json() == listed.json()
        assert person.create_post(title="written without cache", category_name=category).status_code == 201
        titles = [p["title"] for p in person.http.get("/blog/api/posts", params={"category": category}).json()]
        assert titles == ["written without cache", "cached"]
        assert Client(platform.url).signed_up().token, "logins go on, counted in each process"
        stats = wait_until(lambda: (now := platform.stats())["blog"]["service_status"] == "degraded" and now,
                           what="the blog shown degraded (at the dashboard's next round)")
        assert stats["blog"]["checks"]["cache"] == "error"
        assert stats["auth"]["checks"]["rate_limit_store"] == "error"
    finally:
        redis.start()

    # A round may find the blog offline for a moment on a busy machine (its answer has no checks then): waited through.
    wait_until(lambda: platform.stats()["blog"].get("checks", {}).get("cache") == "ok", what="the cache back in use")
    assert person.create_post(title="after", category_name=category).status_code == 201
    titles = [p["title"] for p in person.http.get("/blog/api/posts", params={"category": category}).json()]
    assert titles[0] == "after", "nothing stale survived the outage"
    assert pids(platform) == before
