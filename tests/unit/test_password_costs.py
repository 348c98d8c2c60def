"""argon2id's costs come from the users service's settings; a hash of other costs still verifies, then is replaced."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from titanium.core import passwords
from titanium.core.settings import UsersSettings

PASSWORD = "correct horse battery"


@pytest.fixture
def restore_costs() -> Iterator[None]:
    yield
    defaults = UsersSettings(data_dir="/nonexistent")
    passwords.use_hash_cost(defaults.password_hash_time_cost, defaults.password_hash_memory_kib)


def test_the_defaults_are_the_libraries_recommendation_three_passes_over_64_mib():
    settings = UsersSettings(data_dir="/nonexistent")
    assert (settings.password_hash_time_cost, settings.password_hash_memory_kib) == (3, 65536)


async def test_new_hashes_carry_the_configured_costs(restore_costs):
    passwords.use_hash_cost(1, 1024)
    assert "$m=1024,t=1," in await passwords.hash_password(PASSWORD)


async def test_a_hash_of_other_costs_verifies_and_is_replaced_at_its_next_sign_in(restore_costs):
    passwords.use_hash_cost(1, 1024)
    cheap = await passwords.hash_password(PASSWORD)
    passwords.use_hash_cost(2, 2048)
    assert await passwords.verify_password(cheap, PASSWORD)
    assert not await passwords.verify_password(cheap, PASSWORD + "!")
    assert passwords.needs_rehash(cheap)
    assert not passwords.needs_rehash(await passwords.hash_password(PASSWORD))


async def test_an_unknown_user_is_refused_after_the_costs_change(restore_costs):
    passwords.use_hash_cost(1, 1024)
    assert not await passwords.verify_password(None, PASSWORD)


@pytest.mark.parametrize("setting", ["TITANIUM_PASSWORD_HASH_TIME_COST=0", "TITANIUM_PASSWORD_HASH_MEMORY_KIB=8"])
def test_costs_too_low_for_argon2id_are_refused_at_start(monkeypatch, setting):
    name, value = setting.split("=")
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name.removeprefix("TITANIUM_").lower()):
        UsersSettings(data_dir="/nonexistent")
