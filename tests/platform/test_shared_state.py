"""Replicas on PostgreSQL and Redis share everything: posts, cache invalidation, login budgets."""

import httpx
import pytest

from tests.platform.conftest import PLATFORM_ENV
from tests.platform.harness import Client, ServiceProcess, unique, wait_until


@pytest.fixture(scope="module")
def production_like(platforms):
    """The shared PostgreSQL and Redis platform, and a second blog and auth process beside it (as second pods)."""
    platform = platforms.shared(postgres=True, redis=True, env=PLATFORM_ENV)
    replica_env = {**platform.env, "TITANIUM_DATA_DIR": str(platform.data_dir),
                   "TITANIUM_AUTH_URL": platform.service_url("auth"), "TITANIUM_USERS_URL": platform.service_url("users")}
    blog = ServiceProcess("blog", replica_env, platform.data_dir / "blog-replica.log")
    auth = ServiceProcess("auth", replica_env, platform.data_dir / "auth-replica.log")
    yield platform, blog, auth
    blog.stop()
    auth.stop()


def titles(url: str, category: str) -> list[str]:
    return [p["title"] for p in httpx.get(f"{url}/blog/api/posts", params={"category": category}).json()]


def test_a_post_written_through_one_blog_process_is_read_through_another(production_like):
    platform, replica, _ = production_like
    person = Client(platform.url).signed_up()
    category = unique("shared")
    assert person.create_post(title="first", category_name=category).status_code == 201
    assert titles(replica.url, category) == ["first"]  # read, and now cached, by the replica

    assert person.create_post(title="second", category_name=category).status_code == 201
    shows(replica.url, category, ["second", "first"], "the write invalidated the replica's cache")

    post_id = httpx.get(f"{replica.url}/blog/api/posts", params={"category": category}).json()[0]["id"]
    renamed = httpx.patch(f"{replica.url}/blog/api/posts/{post_id}", json={"title": "renamed"}, headers=person.auth)
    assert renamed.status_code == 200
    shows(platform.url, category, ["renamed", "first"], "the rename invalidated the first process's cache")


def shows(url: str, category: str, expected: list[str], what: str) -> None:
    """At once while the shared cache answers in time; when a busy machine made the writer's Redis call too
    slow, its cache bump is owed and paid once the cache is back (a 5 s pause): within seconds, not the
    minute a cached list lives, which a write that invalidated nothing would take."""
    wait_until(lambda: titles(url, category) == expected, timeout=15, what=what)


def test_the_platform_reports_postgres_and_redis_in_use(production_like):
    platform, _, _ = production_like
    # The dashboard's last round: on a busy machine one may have found a process slow to answer (no checks then).
    stats = wait_until(lambda: _all_online(platform.stats()), what="every service online in a round")
    assert stats["blog"]["cache_backend"] == "redis"
    assert stats["blog"]["checks"] == {"database": "ok", "cache": "ok"}
    assert stats["auth"]["checks"] == {"rate_limit_store": "ok"}


def _all_online(stats: dict) -> dict | None:
    return stats if all(entry["service_status"] == "online" for entry in stats.values()) else None


def test_two_auth_processes_share_one_login_budget(production_like):
    platform, _, replica = production_like
    victim = Client(platform.url)
    assert victim.register().status_code == 201
    wrong = {"username": victim.username, "password": "wrong password"}
    # The budget is per username and address: the replica is called as the gateway would call it for the victim.
    as_forwarded = {"x-forwarded-for": victim.address}
    through_gateway = [victim.http.post("/api/login", json=wrong).status_code for _ in range(3)]
    direct = [httpx.post(f"{replica.url}/auth/login", json=wrong, headers=as_forwarded).status_code for _ in range(2)]
    assert through_gateway + direct == [401] * 5
    assert httpx.post(f"{replica.url}/auth/login", json=wrong, headers=as_forwarded).status_code == 429
    assert victim.http.post("/api/login", json=wrong).status_code == 429
