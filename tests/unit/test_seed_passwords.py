"""The seed's password hashes (werkzeug's pbkdf2, as `titanium import-seed` keeps them): checked, then replaced."""

from __future__ import annotations

import pytest
from werkzeug.security import generate_password_hash

from titanium.core.passwords import hash_password, needs_rehash, verify_password

PASSWORD = "seed-era password 7"


@pytest.mark.parametrize("method", ["pbkdf2:sha256:100000", "pbkdf2:sha256", "pbkdf2:sha512:1000"])
async def test_a_seed_hash_verifies_its_password_and_no_other(method):
    seed_hash = generate_password_hash(PASSWORD, method=method)
    assert await verify_password(seed_hash, PASSWORD)
    assert not await verify_password(seed_hash, PASSWORD + " ")
    assert not await verify_password(seed_hash, "")


async def test_a_seed_hash_is_replaced_at_the_next_sign_in_and_an_argon2_hash_is_not():
    assert needs_rehash(generate_password_hash(PASSWORD, method="pbkdf2:sha256:100000"))
    assert not needs_rehash(await hash_password(PASSWORD))


@pytest.mark.parametrize("broken", [
    "pbkdf2:sha256:100000$salt",  # no digest
    "pbkdf2:sha256:lots$salt$00",  # iterations not a number
    "pbkdf2:md5:1000$salt$00",  # a digest werkzeug never used for passwords
    "pbkdf2:sha256:999999999$salt$00",  # more work than any seed hash asked for
    "pbkdf2:sha256:0$salt$00",
])
async def test_a_hash_of_another_shape_verifies_nothing(broken):
    assert not await verify_password(broken, PASSWORD)
