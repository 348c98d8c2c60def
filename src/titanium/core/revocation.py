"""A service's copy of the revocation list: which signed, unexpired tokens are void all the same.

The list is a log kept in the users database (docs/adr/0010-revocable-tokens.md).
Each entry has an id, and the largest id is the list's version: a service
asks for the entries after the version it holds, so an unchanged list costs
one small answer and a changed one only what is new. Nothing is asked per
request: a check uses the copy if it was fetched less than `MAX_AGE`
seconds ago, fetches it first otherwise, and refreshes it in the background
once it is half that old, so a steady writer never waits for it.

A token is void when its `jti` or its session (`sid`, the refresh family)
was revoked, when its user's tokens issued before some moment were voided
(a password change) and it was issued before that, or when its user was
deleted or never existed (a user id above the largest the users database
has given; such a token was not issued by auth).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from titanium.core.logging import get_logger
from titanium.core.tokens import TokenError

log = get_logger(__name__)

# The bound, in seconds, within which a revocation is honoured by every check.
MAX_AGE = 1.0

Fetch = Callable[[int], Awaitable[dict[str, Any]]]


class RevocationsUnavailable(Exception):
    """No copy of the list is held and its source does not answer: tokens cannot be checked now."""


class TokenRevoked(TokenError):
    """A valid signature on a token that was revoked, or for a user who does not exist."""


@dataclass
class _Copy:
    version: int = 0
    max_user_id: int = 0
    tokens: dict[str, float] = field(default_factory=dict)  # jti -> when the entry may be forgotten
    sessions: dict[str, float] = field(default_factory=dict)  # sid -> the same
    issued_before: dict[int, tuple[float, float]] = field(default_factory=dict)  # user -> (cutoff, forget at)
    deleted: set[int] = field(default_factory=set)

    def merge(self, answer: dict[str, Any]) -> None:
        for entry in answer["entries"]:
            kind, subject, until = entry["kind"], entry["subject"], entry["expires_at"] or float("inf")
            if kind == "token":
                self.tokens[subject] = until
            elif kind == "session":
                self.sessions[subject] = until
            elif kind == "user":
                cutoff = max(entry["issued_before"], self.issued_before.get(int(subject), (0.0, 0.0))[0])
                self.issued_before[int(subject)] = (cutoff, until)
            elif kind == "deleted":
                self.deleted.add(int(subject))
        self.version = max(self.version, int(answer["version"]))
        self.max_user_id = max(self.max_user_id, int(answer["max_user_id"]))
        self._forget_expired(time.time())

    def _forget_expired(self, now: float) -> None:
        # Once every token an entry could match has expired, the entry matches nothing.
        for entries in (self.tokens, self.sessions):
            for key in [key for key, until in entries.items() if until < now]:
                del entries[key]
        for user in [user for user, (_, until) in self.issued_before.items() if until < now]:
            del self.issued_before[user]

    def refusal(self, claims: dict[str, Any]) -> str | None:
        """Why the token is void, or None."""
        user_id = claims["user_id"]
        if user_id in self.deleted:
            return "the account no longer exists"
        if user_id > self.max_user_id:
            return "unknown user"
        if claims["jti"] in self.tokens or claims.get("sid", "") in self.sessions:
            return "token revoked (signed out)"
        voided = self.issued_before.get(user_id)
        if voided is not None and claims["iat"] < voided[0]:
            return "token revoked (the password was changed)"
        return None


class RevocationList:
    def __init__(self, fetch: Fetch, max_age: float = MAX_AGE) -> None:
        self._fetch = fetch
        self._max_age = max_age
        self._copy: _Copy | None = None
        self._fetched_from = float("-inf")  # monotonic time the held copy's fetch started
        self._fetch_failed = False
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None

    async def check(self, claims: dict[str, Any]) -> None:
        """Raise TokenRevoked if the (verified) token is void; RevocationsUnavailable if that cannot be known."""
        arrived = time.monotonic()
        age = arrived - self._fetched_from
        if age >= self._max_age:
            await self._refresh(since=arrived - self._max_age)
        elif age >= self._max_age / 2:
            self._refresh_in_background()
        reason = self._held().refusal(claims)
        if reason == "unknown user":
            # Perhaps a user who registered since our copy: a copy fetched after the token arrived knows.
            await self._refresh(since=arrived)
            if self._fetch_failed:
                raise RevocationsUnavailable("the revocation list cannot be fetched")
            reason = self._held().refusal(claims)
        if reason is not None:
            raise TokenRevoked(reason)

    def expire(self) -> None:
        """Make the next check fetch first: this process just revoked something."""
        self._fetched_from = float("-inf")

    def _held(self) -> _Copy:
        if self._copy is None:
            raise RevocationsUnavailable("the revocation list cannot be fetched")
        return self._copy

    def _refresh_in_background(self) -> None:
        if self._background is None or self._background.done():
            self._background = asyncio.create_task(self._refresh(since=time.monotonic() - self._max_age / 2))

    async def _refresh(self, since: float) -> None:
        """Make the copy one whose fetch started at `since` or later (one fetch at a time, shared by the waiters)."""
        async with self._lock:
            if self._fetched_from >= since:
                return
            started = time.monotonic()
            copy = self._copy or _Copy()
            try:
                copy.merge(await self._fetch(copy.version))
            except Exception as exc:  # any failure of the source leaves the copy we hold
                # Keep the copy we hold (the revocations it has still apply) and
                # ask again after another period instead of on every request.
                log.warning("revocation list could not be fetched", error=repr(exc), version=copy.version,
                            held=self._copy is not None)
                self._fetch_failed = True
                self._fetched_from = started
                return
            self._copy, self._fetched_from, self._fetch_failed = copy, started, False
