"""Signing in by email address (for RealWorld clients, issue 18): the same check, budgets and tokens as by username."""

from __future__ import annotations

from tests.platform.conftest import LOGINS_PER_ADDRESS
from tests.platform.harness import PASSWORD, Client


def test_a_user_signs_in_with_their_email_address_in_any_case(person, anonymous):
    answer = anonymous.http.post("/api/login", json={"email": f"{person.username.upper()}@EXAMPLE.com",
                                                     "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    me = anonymous.http.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == person.username


def test_a_wrong_password_or_an_unknown_address_is_one_refusal(person, anonymous):
    wrong = anonymous.http.post("/api/login", json={"email": f"{person.username}@example.com", "password": "nope nope"})
    unknown = anonymous.http.post("/api/login", json={"email": "nobody-at-all@example.com", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() and wrong.json()["detail"] == "invalid email or password"


def test_a_login_names_the_account_once(person, anonymous):
    both = {"username": person.username, "email": f"{person.username}@example.com", "password": PASSWORD}
    for body in (both, {"password": PASSWORD}):
        answer = anonymous.http.post("/api/login", json=body)
        assert answer.status_code == 422, answer.text
        assert "not both" in answer.text


def test_logins_by_address_spend_the_addresss_budget(platform):
    client = Client(platform.url)
    answers = [client.http.post("/api/login", json={"email": "someone@example.com", "password": "wrong password"})
               for _ in range(LOGINS_PER_ADDRESS + 1)]
    assert [answer.status_code for answer in answers][-1] == 429
    assert "Retry-After" in answers[-1].headers
