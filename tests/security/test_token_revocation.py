"""Tokens that can be revoked: refresh rotation, reuse, sign-out, password change, deletion, unknown users.

Every request goes through the gateway of a platform started by `titanium
up`. A revocation must reach the blog within its stated bound (one second,
docs/adr/0010-revocable-tokens.md); the tests poll for it with a generous
deadline and assert the outcome, never the time.
"""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from tests.platform.conftest import PLATFORM_ENV
from tests.platform.harness import PASSWORD, Client, Platform, Platforms, wait_until
from titanium.core import tokens


class Writer(Client):
    """A person who keeps both tokens of a login."""

    refresh_token: str | None = None

    def login(self, password: str = PASSWORD):
        answer = super().login(password)
        if answer.status_code == 200:
            self.refresh_token = answer.json()["refresh_token"]
        return answer

    def refresh(self, refresh_token: str | None = None):
        answer = self.http.post("/api/refresh", json={"refresh_token": refresh_token or self.refresh_token})
        if answer.status_code == 200:
            self.token, self.refresh_token = answer.json()["token"], answer.json()["refresh_token"]
        return answer

    def verify(self, token: str) -> int:
        return self.http.get("/api/verify", headers={"Authorization": f"Bearer {token}"}).status_code

    def write_with(self, token: str) -> int:
        body = {"title": "A title", "content": "Some content", "category_name": "Notes"}
        return self.http.post("/blog/api/posts", json=body, headers={"Authorization": f"Bearer {token}"}).status_code


def refused_within_bound(writer: Writer, token: str) -> None:
    """The token stops writing (polled: the bound is a second; the deadline generous)."""
    wait_until(lambda: writer.write_with(token) == 401, timeout=10, interval=0.25, what="the token refused by the blog")
    assert writer.write_with(token) == 401, "refused for good, not once"


def forged(platform: Platform, user_id: int, username: str) -> str:
    """A token that auth never issued, signed with the platform's real key (the embedded key file)."""
    key = tokens.load_private_key((platform.data_dir / "keys" / "jwt-ed25519.pem").read_bytes())
    issuer = tokens.TokenIssuer(key, "titanium-auth", "titanium", 600)
    now = int(time.time())
    claims = {"sub": str(user_id), "user_id": user_id, "username": username, "iss": "titanium-auth",
              "aud": "titanium", "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": issuer.jwk["kid"]})


@pytest.fixture(scope="module")
def platform(platforms: Platforms) -> Platform:
    """The shared platform of tests/platform: revoking one person's tokens leaves everyone else's alone."""
    return platforms.shared(env=PLATFORM_ENV)


@pytest.fixture
def writer(platform: Platform) -> Writer:
    person = Writer(platform.url)
    assert person.register().status_code == 201
    assert person.login().status_code == 200
    return person


def test_login_gives_a_short_lived_token_and_a_refresh_token(writer):
    answer = writer.login().json()
    assert answer["status"] == "success" and answer["token"] and answer["refresh_token"]
    assert answer["expires_in"] == 900
    claims = jwt.decode(answer["token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == pytest.approx(900, abs=1)


def test_a_refreshed_session_keeps_writing(writer):
    first_token, first_refresh = writer.token, writer.refresh_token
    for _ in range(3):
        assert writer.refresh().status_code == 200
        assert writer.create_post().status_code == 201
    assert writer.token != first_token and writer.refresh_token != first_refresh
    assert writer.verify(writer.token) == 200


def test_a_replayed_refresh_token_ends_the_whole_family(writer):
    stolen = writer.refresh_token
    assert writer.refresh().status_code == 200  # the owner renews: `stolen` is spent
    newer_refresh, newer_access = writer.refresh_token, writer.token

    replay = writer.http.post("/api/refresh", json={"refresh_token": stolen})
    assert replay.status_code == 401 and "already used" in replay.json()["detail"]
    assert writer.refresh(newer_refresh).status_code == 401, "the newer refresh token of the family is void too"
    refused_within_bound(writer, newer_access)
    assert writer.verify(newer_access) == 401
    # A new login is a new family, untouched.
    assert writer.login().status_code == 200 and writer.create_post().status_code == 201


def test_an_unknown_refresh_token_is_refused(anyone):
    assert anyone.http.post("/api/refresh", json={"refresh_token": "not-a-token"}).status_code == 401
    assert anyone.http.post("/api/refresh", json={}).status_code == 422
    assert anyone.http.post("/api/refresh", content=b"{", headers={"content-type": "application/json"}).status_code == 422


def test_after_logout_the_access_token_cannot_write_nor_verify(writer):
    assert writer.create_post().status_code == 201
    token, refresh_token = writer.token, writer.refresh_token
    answer = writer.http.post("/api/logout", json={"refresh_token": refresh_token}, headers=writer.auth)
    assert answer.status_code == 200 and answer.json()["status"] == "success"
    assert writer.verify(token) == 401
    refused_within_bound(writer, token)
    assert writer.refresh(refresh_token).status_code == 401
    assert writer.http.post("/api/logout", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    assert writer.http.post("/api/logout").status_code == 401, "no token: 401, as at every route but /api/verify"


def test_logout_ends_only_that_session(writer, platform):
    other_device = Writer(platform.url)
    other_device.username = writer.username
    assert other_device.login().status_code == 200
    assert writer.http.post("/api/logout", headers=writer.auth).status_code == 200
    refused_within_bound(writer, writer.token)
    assert other_device.create_post().status_code == 201
    assert other_device.refresh().status_code == 200


def test_after_a_password_change_every_earlier_token_is_void(writer, platform):
    other_device = Writer(platform.url)
    other_device.username = writer.username
    assert other_device.login().status_code == 200
    old_token, old_refresh = writer.token, writer.refresh_token

    wrong = writer.http.put("/api/users/me/password", headers=writer.auth,
                            json={"current_password": "not my password", "new_password": "a new passphrase"})
    assert wrong.status_code == 403
    weak = writer.http.put("/api/users/me/password", headers=writer.auth,
                           json={"current_password": PASSWORD, "new_password": "        "})
    assert weak.status_code == 422
    changed = writer.http.put("/api/users/me/password", headers=writer.auth,
                              json={"current_password": PASSWORD, "new_password": "a new passphrase"})
    assert changed.status_code == 200
    writer.token, writer.refresh_token = changed.json()["token"], changed.json()["refresh_token"]

    for token in (old_token, other_device.token):
        refused_within_bound(writer, token)
    assert writer.refresh(old_refresh).status_code == 401
    assert other_device.refresh().status_code == 401
    assert writer.create_post().status_code == 201, "the session that changed it goes on with its new tokens"
    # (From the other device: password attempts from one address for one username are few a minute.)
    assert other_device.login(PASSWORD).status_code == 401
    assert other_device.login("a new passphrase").status_code == 200


def test_after_account_deletion_its_tokens_cannot_write(writer):
    token, refresh_token = writer.token, writer.refresh_token
    assert writer.create_post().status_code == 201
    refused = writer.http.request("DELETE", "/api/users/me", headers=writer.auth, json={"password": "wrong one"})
    assert refused.status_code == 403
    assert writer.http.request("DELETE", "/api/users/me", headers=writer.auth, json={}).status_code == 422
    deleted = writer.http.request("DELETE", "/api/users/me", headers=writer.auth, json={"password": PASSWORD})
    assert deleted.status_code == 204
    refused_within_bound(writer, token)
    assert writer.verify(token) == 401
    assert writer.refresh(refresh_token).status_code == 401
    assert writer.http.get(f"/api/users/{writer.username}").status_code == 404
    assert writer.login().status_code == 401


def test_a_deleted_users_freshly_signed_token_cannot_write(writer, platform):
    """Even a token issued after the deletion (which auth would never do): the user is gone."""
    user_id = jwt.decode(writer.token, options={"verify_signature": False})["user_id"]
    assert writer.http.request("DELETE", "/api/users/me", headers=writer.auth,
                               json={"password": PASSWORD}).status_code == 204
    time.sleep(1.1)  # a token issued strictly after the deletion
    refused_within_bound(writer, forged(platform, user_id, writer.username))


def test_a_token_for_a_user_that_never_existed_cannot_write(writer, platform):
    ghost = forged(platform, 999_999, "ghost")
    assert writer.write_with(ghost) == 401
    assert writer.verify(ghost) == 401
    # The same key, the same shape, for a real user: accepted (so it is the user that is refused, not the token).
    real = forged(platform, jwt.decode(writer.token, options={"verify_signature": False})["user_id"], writer.username)
    assert writer.write_with(real) == 201


def test_a_new_user_can_write_at_once(platform):
    """The blog's copy of the list may predate the user: it learns of the user then, not a second later."""
    for _ in range(3):
        person = Writer(platform.url)
        assert person.register().status_code == 201 and person.login().status_code == 200
        assert person.create_post().status_code == 201


def test_claims_of_the_wrong_type_are_refused(writer, platform):
    key = tokens.load_private_key((platform.data_dir / "keys" / "jwt-ed25519.pem").read_bytes())
    kid = tokens.TokenIssuer(key, "titanium-auth", "titanium", 600).jwk["kid"]
    now = int(time.time())
    good = {"sub": "1", "user_id": 1, "username": "x", "iss": "titanium-auth", "aud": "titanium",
            "iat": now, "exp": now + 600, "jti": "j"}
    for wrong in ({"user_id": "1"}, {"user_id": True}, {"username": 7}, {"iat": "now"}, {"sub": "2"},
                  {"sid": 5}, {"jti": 5}):
        token = jwt.encode({**good, **wrong}, key, algorithm="EdDSA", headers={"kid": kid})
        assert writer.write_with(token) == 401, wrong
        assert writer.verify(token) == 401, wrong


@pytest.fixture
def anyone(platform: Platform) -> Writer:
    return Writer(platform.url)


def test_on_postgresql_and_redis_logout_and_replay_are_honoured(platforms: Platforms):
    production_like = platforms.shared(postgres=True, redis=True, env=PLATFORM_ENV)
    writer = Writer(production_like.url)
    assert writer.register().status_code == 201 and writer.login().status_code == 200
    stolen = writer.refresh_token
    assert writer.refresh().status_code == 200 and writer.create_post().status_code == 201
    assert writer.refresh(stolen).status_code == 401
    refused_within_bound(writer, writer.token)

    assert writer.login().status_code == 200 and writer.create_post().status_code == 201
    token = writer.token
    assert writer.http.post("/api/logout", headers=writer.auth).status_code == 200
    refused_within_bound(writer, token)

    assert writer.login().status_code == 200
    token = writer.token
    assert writer.http.request("DELETE", "/api/users/me", headers=writer.auth,
                               json={"password": PASSWORD}).status_code == 204
    refused_within_bound(writer, token)
    assert writer.write_with(forged(production_like, 999_999, "ghost")) == 401
