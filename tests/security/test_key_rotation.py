"""The token signing key changes without a signed-in writer noticing (deploy/README.md, "Changing the token signing key").

As in Kubernetes, the keys are files that auth reads when it starts, and only
auth is restarted at each step; the blog keeps running with the keys it
cached, and learns the new one from auth's JWKS when a token names it.
Step 1 publishes the next key B beside A; step 2 signs with B and keeps A
for verification only; step 3 drops A. Every request goes through the gateway.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from tests.platform.conftest import PLATFORM_ENV
from tests.platform.harness import Client, Platform, wait_until
from titanium.core import tokens


class Keys:
    """The two files auth reads its keys from, and the keys the test writes into them."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.signing, self.verification = directory / "signing.pem", directory / "verification.pem"
        self.a, self.b = tokens.generate_private_key_pem(), tokens.generate_private_key_pem()

    @staticmethod
    def kid(private_pem: bytes) -> str:
        return tokens.public_jwk(tokens.load_private_key(private_pem).public_key())["kid"]

    @staticmethod
    def public(private_pem: bytes) -> bytes:
        return tokens.load_private_key(private_pem).public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def use(self, signing: bytes, *verifying: bytes) -> None:
        self.signing.write_bytes(signing)
        self.verification.write_bytes(b"".join(self.public(key) for key in verifying))


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Iterator[Platform]:
    keys.use(keys.a)
    env = {**PLATFORM_ENV, "TITANIUM_JWT_PRIVATE_KEY_FILE": str(keys.signing),
           "TITANIUM_JWT_VERIFICATION_KEYS_FILE": str(keys.verification),
           # The blog asks auth for its keys again after 2 s, not 5 minutes, so that a dropped key
           # leaves its cache within the test.
           "TITANIUM_JWKS_CACHE_SECONDS": "2"}
    running = Platform(tmp_path_factory.mktemp("rotation"), env).start()
    yield running
    assert running.stop() == 0, running.output()


def restart_auth(platform: Platform, person: Client, published: list[bytes]) -> None:
    """What `kubectl rollout restart deployment/auth` does: auth stops, starts again and reads its key files anew.

    Done when the JWKS, through the gateway, publishes the keys `published` (private PEMs), in that order.
    """
    old_pid = platform.pid_of("auth")
    os.kill(old_pid, signal.SIGTERM)

    def back() -> bool:
        auth = platform.stats()["auth"]
        return auth["service_status"] == "online" and auth.get("pid") not in (None, old_pid)

    wait_until(back, timeout=60, what="auth back online")
    expected = [Keys.kid(key) for key in published]
    wait_until(lambda: published_kids(person) == expected, timeout=20, what=f"the JWKS publishing {expected}")


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def published_kids(person: Client) -> list[str] | None:
    answer = person.http.get("/.well-known/jwks.json")
    return [key["kid"] for key in answer.json()["keys"]] if answer.status_code == 200 else None


def writes(person: Client, token: str) -> int:
    body = {"title": "Written across a key change", "content": "Some content", "category_name": "Notes"}
    return person.http.post("/blog/api/posts", json=body, headers={"Authorization": f"Bearer {token}"}).status_code


def verifies(person: Client, token: str) -> int:
    return person.http.get("/api/verify", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_token_signed_before_the_key_change_keeps_working_until_the_old_key_is_dropped(platform, keys):
    person = Client(platform.url).signed_up()
    before = person.token
    assert kid_of(before) == keys.kid(keys.a) and published_kids(person) == [keys.kid(keys.a)]
    assert writes(person, before) == 201

    # 1. The next key is published beside the signing key; tokens are still signed with A.
    keys.use(keys.a, keys.b)
    restart_auth(platform, person, [keys.a, keys.b])
    assert person.login().status_code == 200 and kid_of(person.token) == keys.kid(keys.a)

    # 2. B signs; A only verifies. The token from before still writes and verifies; a new login's is B's.
    keys.use(keys.b, keys.a)
    restart_auth(platform, person, [keys.b, keys.a])
    assert writes(person, before) == 201
    assert verifies(person, before) == 200
    assert person.login().status_code == 200
    after = person.token
    assert kid_of(after) == keys.kid(keys.b)
    assert writes(person, after) == 201 and verifies(person, after) == 200

    # 3. A is dropped: its tokens are refused by auth at once, and by the blog once its cached keys are renewed.
    keys.use(keys.b)
    restart_auth(platform, person, [keys.b])
    assert verifies(person, before) == 401
    wait_until(lambda: writes(person, before) == 401, timeout=20, what="the blog refusing the old key's token")
    assert writes(person, after) == 201 and verifies(person, after) == 200

