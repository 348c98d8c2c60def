from __future__ import annotations

import pytest

from tests.platform.harness import Client, Platform, Platforms

# Each test person calls from a loopback address of their own, so one
# test's logins never spend another's budget. The logins one address may
# make a minute are few, so that the tests that spend them (each a password
# check, a second of CPU on a busy machine) are short.
LOGINS_PER_ADDRESS = 10
# The gateway waits for a service as long as it does in production (10 s): a
# password change is two argon2 hashes, which on a busy 2-core machine took
# 3.2 s, past the 3 s these platforms once had (a 504 for a change that was
# made). The tests of a frozen service shorten it on their own platforms.
PLATFORM_ENV = {
    "TITANIUM_LOGIN_RATE_LIMIT_PER_ADDRESS": f"{LOGINS_PER_ADDRESS}/minute",
    "TITANIUM_RATE_LIMIT_PER_ADDRESS": "300/minute",
}
# For a platform whose service a test freezes: its 504 comes after 3 s, not 10.
FREEZING_ENV = {**PLATFORM_ENV, "TITANIUM_UPSTREAM_READ_TIMEOUT": "3"}


def postgres_and_redis_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """What a platform of a test's own needs to run on the test PostgreSQL (its own databases) and Redis (its own keys)."""
    databases = request.getfixturevalue("postgres_databases")
    return {
        "TITANIUM_USERS_DATABASE_URL": databases.new("users"),
        "TITANIUM_BLOG_DATABASE_URL": databases.new("blog"),
        "TITANIUM_COMMENTS_DATABASE_URL": databases.new("comments"),
        "TITANIUM_REDIS_URL": request.getfixturevalue("redis_server"),
        "TITANIUM_REDIS_PREFIX": request.getfixturevalue("redis_prefix"),
    }


@pytest.fixture(scope="session")
def platform(platforms: Platforms) -> Platform:
    """The embedded default (SQLite, in-process cache), shared by every test that leaves it as it found it."""
    return platforms.shared(env=PLATFORM_ENV)


@pytest.fixture
def person(platform: Platform) -> Client:
    return Client(platform.url).signed_up()


@pytest.fixture
def anonymous(platform: Platform) -> Client:
    return Client(platform.url)
