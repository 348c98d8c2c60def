"""Account hygiene, as an attacker would probe it (issue 16, items 5, 8 and 9).

Before: a deleted user's name could be registered again, and the new account
inherited the old author page; `password` and `12345678` were accepted;
names such as `admin`, `root` and `titanium` could be registered; anybody
could read every author's email address at `/api/users/{name}`; and, with two
users processes, a registration key reused with another body reached the
process that had not seen it (409, or another account made).

On the embedded platform, and on PostgreSQL and Redis with two processes of
users and auth.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.platform.conftest import PLATFORM_ENV, postgres_and_redis_env
from tests.platform.harness import PASSWORD, Client, Platform, unique
from tests.platform.test_refusals import assert_error


@pytest.fixture(scope="module", params=["sqlite", "postgres-and-redis-two-processes"])
def platform(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    env = dict(PLATFORM_ENV)
    if request.param == "postgres-and-redis-two-processes":
        env |= postgres_and_redis_env(request) | {"TITANIUM_DATABASE_POOL_SIZE": "4", "TITANIUM_REPLICAS": "users=2,auth=2"}
    running = Platform(tmp_path_factory.mktemp(f"hygiene-{request.param}"), env).start()
    yield running
    assert running.stop() == 0, running.output()


def register(client: Client, username: str, password: str = PASSWORD, email: str | None = None,
             headers: dict[str, str] | None = None) -> httpx.Response:
    return client.http.post("/api/register", headers=headers or {}, json={
        "username": username, "email": email or f"{unique('mail')}@example.com", "password": password})


def test_a_deleted_users_name_is_never_registered_again(platform):
    author = Client(platform.url).signed_up()
    assert author.create_post(title="Mine").status_code == 201
    deleted = author.http.request("DELETE", "/api/users/me", headers=author.auth, json={"password": PASSWORD})
    assert deleted.status_code == 204
    impostor = Client(platform.url)
    for name in (author.username, author.username.upper(), author.username.capitalize()):
        detail = assert_error(register(impostor, name), 409)["detail"]
        assert "deleted" in detail
    assert impostor.http.get(f"/api/users/{author.username}").status_code == 404
    # The old author's page keeps showing the old posts, under a name nobody else holds.
    assert "Mine" in impostor.http.get(f"/blog/authors/{author.username}").text


@pytest.mark.parametrize("password", ["password", "12345678", "Password1", "qwertyuiop", "iloveyou1", "  password  ",
                                      "aaaaaaaa", "abcdefgh", "98765432", "abababab", "titanium", "titanium2024"])
def test_common_repetitive_and_contextual_passwords_are_refused(platform, password):
    name = unique()
    assert_error(register(Client(platform.url), name, password), 422)
    assert Client(platform.url).http.get(f"/api/users/{name}").status_code == 404


def test_a_password_made_from_the_username_or_email_is_refused_and_a_passphrase_is_not(platform):
    client, name = Client(platform.url), unique("river")
    for password in (name, f"{name}2024!", f"{name.upper()} 1", "bridge keeper 1"):
        email = "bridgekeeper1@example.com" if password.startswith("bridge") else None
        assert_error(register(client, name, password, email=email), 422)
    assert register(client, name, "rivers under old bridges").status_code == 201


def test_a_new_password_is_held_to_the_same_rules(platform):
    person = Client(platform.url).signed_up()
    for weak in ("password", "12345678", f"{person.username}!!", "titanium1"):
        answer = person.http.put("/api/users/me/password", headers=person.auth,
                                 json={"current_password": PASSWORD, "new_password": weak})
        assert_error(answer, 422)
    assert person.login().status_code == 200, "the password is unchanged"


@pytest.mark.parametrize("name", ["admin", "Admin", "ADMINISTRATOR", "root", "titanium", "support", "api", "www",
                                  "security", "postmaster", "noreply", "no-reply", "ad_min", "r.o.o.t", "anonymous",
                                  "null"])
def test_reserved_names_are_refused(platform, name):
    detail = assert_error(register(Client(platform.url), name), 422)["detail"]
    assert "reserved" in str(detail)
    assert Client(platform.url).http.get(f"/api/users/{name}").status_code == 404


def test_an_email_address_is_shown_to_its_owner_alone(platform):
    author, reader = Client(platform.url).signed_up(), Client(platform.url).signed_up()
    for client, headers in ((Client(platform.url), {}), (reader, reader.auth),
                            (reader, {"Authorization": "Bearer forged.token.here"})):
        seen = client.http.get(f"/api/users/{author.username}", headers=headers)
        assert seen.status_code == 200 and seen.json()["username"] == author.username
        assert "email" not in seen.json() and "@example.com" not in seen.text
    own = author.http.get(f"/api/users/{author.username}", headers=author.auth)
    assert own.json()["email"] == f"{author.username}@example.com"


def test_a_registration_key_reused_with_another_body_is_422_whichever_process_answers(platform):
    client, key = Client(platform.url), "reused-key-" + unique()
    first_name = unique()
    first = register(client, first_name, email=f"{first_name}@example.com", headers={"Idempotency-Key": key})
    assert first.status_code == 201
    others = [unique() for _ in range(4)]  # the gateway sends them to each users process in turn
    answers = [register(client, name, headers={"Idempotency-Key": key}) for name in others]
    assert [answer.status_code for answer in answers] == [422] * 4, [answer.text for answer in answers]
    assert all(client.http.get(f"/api/users/{name}").status_code == 404 for name in others)
    replayed = [register(client, first_name, email=f"{first_name}@example.com", headers={"Idempotency-Key": key})
                for _ in range(2)]
    assert all(answer.status_code == 201 and answer.json() == first.json() for answer in replayed)


def test_an_address_has_one_registration_budget_whichever_process_counts_it(platform):
    client = Client(platform.url)  # one address; with two users processes, the gateway alternates between them
    statuses = [register(client, unique()).status_code for _ in range(11)]
    assert statuses == [201] * 10 + [429], "10 an hour (the default), shared through Redis by the processes"
    refused = register(client, unique())
    assert "accounts registered from this address" in assert_error(refused, 429)["detail"]
    assert int(refused.headers["retry-after"]) >= 1
    assert register(Client(platform.url), unique()).status_code == 201, "another address has its own budget"
