"""Login throttling that slows guessing without letting guesses from elsewhere lock the owner out."""

from __future__ import annotations

import pytest

from tests.platform.harness import PASSWORD, Client, Platform, Platforms

# The defaults are 20/minute, 5/minute and 50/hour; smaller here so that a test can spend them.
ENV = {
    "TITANIUM_LOGIN_RATE_LIMIT_PER_ADDRESS": "20/minute",
    "TITANIUM_LOGIN_RATE_LIMIT_PER_USERNAME_AND_ADDRESS": "5/minute",
    "TITANIUM_LOGIN_RATE_LIMIT_PER_USERNAME": "12/hour",
}


@pytest.fixture(scope="module")
def platform(platforms: Platforms) -> Platform:
    return platforms.shared(env=ENV)


def guess(client: Client, username: str) -> int:
    return client.http.post("/api/login", json={"username": username, "password": "wrong guess 123"}).status_code


def test_one_address_gets_five_guesses_at_a_username_then_429(platform):
    owner = Client(platform.url).signed_up()
    guesser = Client(platform.url)
    assert [guess(guesser, owner.username) for _ in range(6)] == [401] * 5 + [429]
    refused = guesser.http.post("/api/login", json={"username": owner.username, "password": PASSWORD})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert owner.login().status_code == 200, "the owner, from their own address, is not held up"


def test_guesses_from_many_addresses_cannot_lock_the_owner_out(platform):
    owner = Client(platform.url).signed_up()
    assert owner.login().status_code == 200  # the owner's address is now known for this account
    statuses = [guess(Client(platform.url), owner.username) for _ in range(15)]  # 15 addresses, one guess each
    assert statuses[:12] == [401] * 12
    assert statuses[12:] == [429] * 3, "past the account's failure budget, unknown addresses are refused"
    refused = Client(platform.url).http.post("/api/login", json={"username": owner.username, "password": PASSWORD})
    assert refused.json()["message"].startswith("too many failed logins for this account")
    assert owner.login().status_code == 200, "the owner's known address still gets in"
