"""The revocation list's copy: what it voids, how often it asks its source, and what it does when the source fails."""

from __future__ import annotations

import asyncio
import time

import pytest

from titanium.core.revocation import RevocationList, RevocationsUnavailable, TokenRevoked


class Source:
    """The list as the users service keeps it: a log whose largest id is the version."""

    def __init__(self, max_user_id: int = 10) -> None:
        self.entries: list[dict] = []
        self.max_user_id = max_user_id
        self.asked: list[int] = []
        self.down = False

    def add(self, kind: str, subject: str, issued_before: float | None = None, expires_at: float | None = None) -> None:
        self.entries.append({"kind": kind, "subject": subject, "issued_before": issued_before,
                             "expires_at": expires_at if expires_at is not None or kind == "deleted"
                             else time.time() + 900})

    async def fetch(self, after: int) -> dict:
        self.asked.append(after)
        if self.down:
            raise ConnectionError("source down")
        return {"version": len(self.entries), "max_user_id": self.max_user_id, "entries": self.entries[after:]}


def claims(user_id: int = 1, jti: str = "t1", sid: str | None = "s1", iat: float | None = None) -> dict:
    token = {"user_id": user_id, "jti": jti, "iat": time.time() - 1 if iat is None else iat}
    return {**token, "sid": sid} if sid else token


def check(revocations: RevocationList, token: dict) -> None:
    asyncio.run(revocations.check(token))


@pytest.mark.parametrize(("kind", "subject", "token"), [
    ("token", "t1", claims()),
    ("session", "s1", claims(jti="other")),
    ("deleted", "1", claims(jti="other", sid=None)),
])
def test_a_revoked_token_session_or_deleted_user_is_void(kind, subject, token):
    source = Source()
    source.add(kind, subject)
    with pytest.raises(TokenRevoked):
        check(RevocationList(source.fetch), token)
    check(RevocationList(source.fetch), claims(user_id=2, jti="t2", sid="s2"))


def test_a_password_change_voids_the_tokens_issued_before_it_only():
    source = Source()
    changed_at = time.time()
    source.add("user", "1", issued_before=changed_at)
    revocations = RevocationList(source.fetch)
    with pytest.raises(TokenRevoked, match="password"):
        check(revocations, claims(iat=changed_at - 0.001))
    check(revocations, claims(iat=changed_at + 0.001))


def test_a_user_above_the_largest_id_given_is_unknown_even_after_asking_again():
    source = Source(max_user_id=10)
    revocations = RevocationList(source.fetch, max_age=60)
    check(revocations, claims())
    with pytest.raises(TokenRevoked, match="unknown user"):
        check(revocations, claims(user_id=999_999))
    assert len(source.asked) == 2, "asked once more, in case the user registered since"


def test_a_user_registered_since_the_copy_is_known_at_once():
    source = Source(max_user_id=10)
    revocations = RevocationList(source.fetch, max_age=60)
    check(revocations, claims(user_id=10))
    source.max_user_id = 11
    check(revocations, claims(user_id=11))


def test_the_source_is_asked_once_a_period_and_only_for_what_is_new():
    source = Source()
    revocations = RevocationList(source.fetch, max_age=60)

    async def many_checks() -> None:
        await asyncio.gather(*(revocations.check(claims(jti=f"t{n}")) for n in range(50)))

    asyncio.run(many_checks())
    assert source.asked == [0], "one fetch shared by 50 concurrent checks"
    source.add("token", "t1")
    revocations.expire()
    with pytest.raises(TokenRevoked):
        check(revocations, claims(jti="t1"))
    assert source.asked == [0, 0]
    source.add("token", "t2")
    revocations.expire()
    with pytest.raises(TokenRevoked):
        check(revocations, claims(jti="t2"))
    assert source.asked == [0, 0, 1], "only the entries after the version held"


def test_a_revocation_is_seen_once_the_copy_is_older_than_its_bound():
    source = Source()
    revocations = RevocationList(source.fetch, max_age=0.2)
    check(revocations, claims())
    source.add("token", "t1")
    time.sleep(0.25)
    with pytest.raises(TokenRevoked):
        check(revocations, claims())


def test_a_failing_source_keeps_the_copy_held_and_without_one_checks_are_unavailable():
    source = Source()
    source.add("token", "t1")
    source.down = True
    with pytest.raises(RevocationsUnavailable):
        check(RevocationList(source.fetch), claims(jti="t2"))

    source.down = False
    revocations = RevocationList(source.fetch, max_age=0.05)
    check(revocations, claims(jti="t2"))
    source.down = True
    time.sleep(0.1)
    with pytest.raises(TokenRevoked):
        check(revocations, claims(jti="t1"))
    check(revocations, claims(jti="t2"))


def test_expired_entries_are_forgotten():
    source = Source()
    source.add("token", "t1", expires_at=time.time() - 1)
    check(RevocationList(source.fetch), claims(jti="t1"))
