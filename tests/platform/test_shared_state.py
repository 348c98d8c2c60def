"""Replicas on PostgreSQL and Redis share everything: posts, cache invalidation, login budgets."""

import subprocess
import sys

import httpx
import pytest

from tests.platform.conftest import PLATFORM_ENV
from tests.platform.harness import Client, Platform, free_port_block, unique, wait_until


class Replica:
    """One more process of a service, beside the platform's own (as a second pod would be)."""

    def __init__(self, service: str, env: dict[str, str], log_path) -> None:
        self.port = free_port_block(1)
        self.url = f"http://127.0.0.1:{self.port}"
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "titanium", "serve", service, "--port", str(self.port)],
                                            env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: httpx.get(f"{self.url}/health/ready").status_code == 200, what=f"{service} replica ready")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


@pytest.fixture(scope="module")
def production_like(tmp_path_factory, postgres_databases, redis_server, redis_prefix):
    data_dir = tmp_path_factory.mktemp("production-like")
    env = {
        **PLATFORM_ENV,
        "TITANIUM_USERS_DATABASE_URL": postgres_databases.new("users"),
        "TITANIUM_BLOG_DATABASE_URL": postgres_databases.new("blog"),
        "TITANIUM_REDIS_URL": redis_server,
        "TITANIUM_REDIS_PREFIX": redis_prefix,
    }
    platform = Platform(data_dir, env).start()
    replica_env = {**platform.env, "TITANIUM_DATA_DIR": str(data_dir),
                   "TITANIUM_AUTH_URL": platform.service_url("auth"), "TITANIUM_USERS_URL": platform.service_url("users")}
    blog = Replica("blog", replica_env, data_dir / "blog-replica.log")
    auth = Replica("auth", replica_env, data_dir / "auth-replica.log")
    yield platform, blog, auth
    blog.stop()
    auth.stop()
    assert platform.stop() == 0, platform.output()


def titles(url: str, category: str) -> list[str]:
    return [p["title"] for p in httpx.get(f"{url}/blog/api/posts", params={"category": category}).json()]


def test_a_post_written_through_one_blog_process_is_read_through_another(production_like):
    platform, replica, _ = production_like
    person = Client(platform.url).signed_up()
    category = unique("shared")
    assert person.create_post(title="first", category_name=category).status_code == 201
    assert titles(replica.url, category) == ["first"]  # read, and now cached, by the replica

    assert person.create_post(title="second", category_name=category).status_code == 201
    assert titles(replica.url, category) == ["second", "first"], "the write invalidated the replica's cache"

    post_id = httpx.get(f"{replica.url}/blog/api/posts", params={"category": category}).json()[0]["id"]
    renamed = httpx.patch(f"{replica.url}/blog/api/posts/{post_id}", json={"title": "renamed"}, headers=person.auth)
    assert renamed.status_code == 200
    assert titles(platform.url, category) == ["renamed", "first"]


def test_the_platform_reports_postgres_and_redis_in_use(production_like):
    platform, _, _ = production_like
    stats = platform.stats()
    assert stats["blog"]["cache_backend"] == "redis"
    assert stats["blog"]["checks"] == {"database": "ok", "cache": "ok"}
    assert stats["auth"]["checks"] == {"rate_limit_store": "ok"}
    assert all(entry["service_status"] == "online" for entry in stats.values())


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
