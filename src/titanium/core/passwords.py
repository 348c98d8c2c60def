"""Password hashing with argon2id.

Hashing is deliberately slow, so it runs in a worker thread: one login must
not stall every other request of the event loop. It is deliberately greedy
for memory too (64 MiB a hash), so only a few run at once: 40 at once took
the users service to 1.9 GB. The others wait their turn, but not past
MAX_WAIT_SECONDS: a caller's own timeout (the gateway's is 10 s) would end
the request while its account was still being made, so it is refused with
a 503 before anything is done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from anyio import CapacityLimiter, move_on_after, to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.exceptions import HTTPException

T = TypeVar("T")

_hasher = PasswordHasher()  # argon2id, the library's current recommended parameters
# Verified against when the user does not exist, so that an unknown username
# takes as long to refuse as a wrong password.
_DUMMY_HASH = _hasher.hash("titanium-timing-equaliser")
HASH_MEMORY_BYTES = _hasher.memory_cost * 1024
_at_once = CapacityLimiter(2)
MAX_WAIT_SECONDS = 5.0


class HashersBusy(HTTPException):
    def __init__(self) -> None:
        super().__init__(503, "too many sign-ins and sign-ups at once; try again in a moment", {"Retry-After": "1"})


def limit_concurrent_hashes(count: int) -> None:
    """At most `count` hashes (or verifications) at once: `count` x 64 MiB at the worst."""
    _at_once.total_tokens = count


async def hash_password(password: str) -> str:
    return await _in_turn(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    return await _in_turn(_verify, password_hash, password)


async def _in_turn(work: Callable[..., T], *args: object) -> T:
    """`work` in a worker thread once a hasher is free; HashersBusy when none is within MAX_WAIT_SECONDS."""
    with move_on_after(MAX_WAIT_SECONDS) as waiting:
        await _at_once.acquire()
    if waiting.cancelled_caught:
        raise HashersBusy
    try:
        return await to_thread.run_sync(work, *args)
    finally:
        _at_once.release()


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
