import asyncio
import time

import pytest

from titanium.core.idempotency import KeyedRequest, KeyUsedForAnotherRequest
from titanium.core.passwords import hash_password, verify_password
from titanium.services.users.profiles import Followed, FollowingOneself, ProfileRepository
from titanium.services.users.repository import RETIRED, AccountTaken, UserRepository
from titanium.services.users.sessions import SessionRefused, SessionRepository


@pytest.fixture
def users(users_engine):
    return UserRepository(users_engine)


async def test_an_account_is_stored_with_an_argon2id_hash(users):
    password_hash = await hash_password("correct horse")
    created = await users.create("alice", "alice@example.com", password_hash)
    found = await users.by_username("alice")
    assert found == created.user
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
    account = (await users.create("dora", "dora@example.com", "h")).user
    sessions = SessionRepository(users_engine)
    first = await sessions.start(account.id, "a" * 64, time.time() + 3600)
    assert first is not None
    assert await sessions.start(account.id, "a" * 64, time.time() + 3600) == first
    renewal = await sessions.renew("a" * 64, "b" * 64, time.time() + 3600, time.time() + 600)
    assert renewal.family_id == first
    # Once used, the token starts nothing again: presenting it is a reuse.
    with pytest.raises(SessionRefused):
        await sessions.start(account.id, "a" * 64, time.time() + 3600)
    other = (await users.create("erin", "erin@example.com", "h")).user
    with pytest.raises(SessionRefused):
        await sessions.start(other.id, "b" * 64, time.time() + 3600)


async def test_a_deleted_accounts_name_is_never_given_again_whatever_its_case(users):
    account = await users.create("frank", "frank@example.com", "h")
    assert await users.delete(account.user.id, time.time() + 600)
    for name in ("frank", "FRANK", "Frank"):
        with pytest.raises(AccountTaken) as refused:
            await users.create(name, "new-frank@example.com", "h")
        assert refused.value.detail == RETIRED
    assert await users.refusal("fRaNk", "other@example.com") == RETIRED
    # The address is the person's, not the name's: it may be used again.
    assert (await users.create("frank2", "frank@example.com", "h")).user.email == "frank@example.com"


async def test_a_name_deleted_while_registered_again_is_not_given(users):
    # The deletion and the registration race: whichever commits first, the new account never gets the name.
    account = await users.create("gina", "gina@example.com", "h")
    results = await asyncio.gather(users.delete(account.user.id, time.time() + 600),
                                   users.create("GINA", "gina2@example.com", "h"), return_exceptions=True)
    assert results[0] is True
    assert isinstance(results[1], AccountTaken)
    assert await users.by_username("gina") is None


async def test_a_keyed_registration_made_once_is_found_again_and_refused_for_another_body(users):
    keyed = KeyedRequest("k" * 64, "f" * 64)
    first = await users.create("hana", "hana@example.com", "h", keyed)
    assert not first.replayed
    again = await users.create("hana", "hana@example.com", "h", keyed)
    assert again.replayed and again.user == first.user
    assert await users.made_by(keyed) == again
    with pytest.raises(KeyUsedForAnotherRequest):
        await users.create("ivan", "ivan@example.com", "h", KeyedRequest("k" * 64, "e" * 64))
    assert await users.by_username("ivan") is None


@pytest.fixture
def profiles(users_engine):
    return ProfileRepository(users_engine)


async def test_eight_follows_at_once_leave_one(users, profiles):
    reader = (await users.create("reader", "reader@example.com", "h")).user
    author = (await users.create("author", "author@example.com", "h")).user
    answers = await asyncio.gather(*(profiles.follow(reader.id, "Author") for _ in range(8)))
    assert all(answer is not None and answer.followed for answer in answers)
    seen = await profiles.by_username("author", viewer_id=reader.id)
    assert (seen.followers, seen.following, seen.followed) == (1, 0, True)
    assert (await profiles.by_id(reader.id)).following == 1
    assert await profiles.following(reader.id) == [Followed(author.id, "author")]
    assert await profiles.followed_among(reader.id, ["AUTHOR", "reader", "nobody"]) == {"author"}
    unfollowed = await profiles.unfollow(reader.id, "author")
    assert (unfollowed.followers, unfollowed.followed) == (0, False)
    assert await profiles.unfollow(reader.id, "author") is not None, "unfollowing twice is no error"
    assert await profiles.following(reader.id) == []


async def test_nobody_follows_themselves_or_an_unknown_user(users, profiles):
    reader = (await users.create("narcissus", "n@example.com", "h")).user
    with pytest.raises(FollowingOneself):
        await profiles.follow(reader.id, "NARCISSUS")
    assert await profiles.follow(reader.id, "nobody-here") is None
    assert await profiles.unfollow(reader.id, "nobody-here") is None
    assert (await profiles.by_id(reader.id)).following == 0


async def test_a_deleted_accounts_follows_go_with_it_both_ways(users, profiles):
    kept = (await users.create("kept", "kept@example.com", "h")).user
    gone = (await users.create("gone", "gone@example.com", "h")).user
    await profiles.follow(kept.id, "gone")
    await profiles.follow(gone.id, "kept")
    assert (await profiles.by_id(kept.id)).followers == 1
    assert await users.delete(gone.id, time.time() + 600)
    left = await profiles.by_id(kept.id)
    assert (left.followers, left.following) == (0, 0)
    assert await profiles.following(kept.id) == []


async def test_a_profile_changes_only_what_is_sent(users, profiles):
    account = (await users.create("olga", "olga@example.com", "h")).user
    changed = await profiles.update(account.id, {"bio": "Writes about\nrivers.", "image": "https://example.com/o.png"})
    assert (changed.bio, changed.image, changed.email) == ("Writes about\nrivers.", "https://example.com/o.png",
                                                          "olga@example.com")
    kept = await profiles.update(account.id, {"image": None})
    assert (kept.bio, kept.image) == ("Writes about\nrivers.", None)
    assert await profiles.update(987_654, {"bio": "x"}) is None
