import asyncio
import time

import pytest

from titanium.core.passwords import hash_password, verify_password
from titanium.services.users.repository import AccountTaken, UserRepository
from titanium.services.users.sessions import SessionRefused, SessionRepository


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


async def test_a_session_start_sent_twice_starts_one_session(users, users_engine):
    # Auth resends it to another users process when the first died with it inside.
    account = await users.create("dora", "dora@example.com", "h")
    sessions = SessionRepository(users_engine)
    first = await sessions.start(account.id, "a" * 64, time.time() + 3600)
    assert first is not None
    assert await sessions.start(account.id, "a" * 64, time.time() + 3600) == first
    renewal = await sessions.renew("a" * 64, "b" * 64, time.time() + 3600, time.time() + 600)
    assert renewal.family_id == first
    # Once used, the token starts nothing again: presenting it is a reuse.
    with pytest.raises(SessionRefused):
        await sessions.start(account.id, "a" * 64, time.time() + 3600)
    other = await users.create("erin", "erin@example.com", "h")
    with pytest.raises(SessionRefused):
        await sessions.start(other.id, "b" * 64, time.time() + 3600)
