"""Login throttling that slows guessing without letting guesses from elsewhere lock the owner out."""

from __future__ import annotations

import itertools

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


def change_password(client: Client, current: str, new: str):
    answer = client.http.put("/api/users/me/password", headers=client.auth,
                             json={"current_password": current, "new_password": new})
    if answer.status_code == 200:
        client.token = answer.json()["token"]
    return answer


def test_password_changes_spend_none_of_the_login_budget(platform):
    owner = Client(platform.url).signed_up()
    passwords = [PASSWORD, *(f"{PASSWORD} number {turn}" for turn in range(1, 8))]
    # Seven changes in a row from one address, past the 5 attempts a minute a login gets.
    statuses = [change_password(owner, current, new).status_code for current, new in itertools.pairwise(passwords)]
    assert statuses == [200] * 7
    assert owner.login(passwords[-1]).status_code == 200, "and the owner may still log in from there"


def test_a_wrong_current_password_counts_as_a_failed_login(platform):
    owner = Client(platform.url).signed_up()  # one login: one of the five attempts a minute from this address
    assert [change_password(owner, "wrong guess 123", "a brand new phrase").status_code for _ in range(4)] == [403] * 4
    assert change_password(owner, PASSWORD, "a brand new phrase").status_code == 429, "five attempts a minute, then 429"
    assert owner.login().status_code == 429, "the guesses spent the login budget of this address for the account"
