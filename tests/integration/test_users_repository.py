import asyncio

import pytest

from titanium.core.passwords import hash_password, verify_password
from titanium.services.users.repository import AccountTaken, UserRepository


@pytest.fixture
def users(users_engine):
    return UserRepository(users_engine)


async def test_an_account_is_stored_with_an_argon2id_hash(users):
    password_hash = await hash_password("correct horse")
    created = await users.create("alice", "alice@example.com", password_hash)
    found = await users.by_username("alice")
    assert found == created
    assert found.password_hash.startswith("$argon2id$")
    assert await verify_password(found.password_hash, "correct horse")
    assert not await verify_password(found.password_hash, "wrong horse")
    assert not await verify_password(None, "correct horse")


async def test_usernames_and_emails_are_unique_whatever_their_case(users):
    await users.create("alice", "alice@example.com", "h")
    with pytest.raises(AccountTaken):
        await users.create("ALICE", "other@example.com", "h")
    with pytest.raises(AccountTaken):
        await users.create("bob", "Alice@Example.com", "h")
    assert (await users.by_username("Alice")).username == "alice"
    assert await users.count() == 1


async def test_simultaneous_registrations_of_one_name_let_exactly_one_through(users):
    results = await asyncio.gather(
        *(users.create("carol", f"carol{i}@example.com", "h") for i in range(8)), return_exceptions=True
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, AccountTaken) for r in results if isinstance(r, Exception))
