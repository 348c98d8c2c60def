from __future__ import annotations

import pytest

from tests.platform.harness import Client, Platform

# Each test person calls from a loopback address of their own, so one
# test's logins never spend another's budget.
PLATFORM_ENV = {
    "TITANIUM_LOGIN_RATE_LIMIT_PER_ADDRESS": "30/minute",
    "TITANIUM_RATE_LIMIT_PER_ADDRESS": "300/minute",
    "TITANIUM_UPSTREAM_READ_TIMEOUT": "3",
}


def postgres_and_redis_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """What a platform of a test's own needs to run on the test PostgreSQL (its own databases) and Redis (its own keys)."""
    databases = request.getfixturevalue("postgres_databases")
    return {
        "TITANIUM_USERS_DATABASE_URL": databases.new("users"),
        "TITANIUM_BLOG_DATABASE_URL": databases.new("blog"),
        "TITANIUM_REDIS_URL": request.getfixturevalue("redis_server"),
        "TITANIUM_REDIS_PREFIX": request.getfixturevalue("redis_prefix"),
    }


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory):
    """The embedded default (SQLite, in-process cache), shared by the tests that leave it as they found it."""
    running = Platform(tmp_path_factory.mktemp("platform"), PLATFORM_ENV).start()
    yield running
    assert running.stop() == 0, running.output()


@pytest.fixture
def person(platform: Platform) -> Client:
    return Client(platform.url).signed_up()


@pytest.fixture
def anonymous(platform: Platform) -> Client:
    return Client(platform.url)
