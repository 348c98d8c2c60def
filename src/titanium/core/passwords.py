"""Password hashing with argon2id.

Hashing is deliberately slow, so it runs in a worker thread: one login must
not stall every other request of the event loop. It is deliberately greedy
for memory too (64 MiB a hash), so only a few run at once: 40 at once took
the users service to 1.9 GB. The others wait their turn, but not past
MAX_WAIT_SECONDS: a caller's own timeout (the gateway's is 10 s) would end
the request while its account was still being made, so it is refused with
a 503 before anything is done.

Sign-ups get a share of the hashers, not all of them: every hasher but one
(one, when there is only one). A flood of registrations once held both and
made every login wait behind it, past 5 s (issue 16); now a login waits at
most for other logins, and, with a single hasher, for the one sign-up that
may be hashing. A hash takes every core it can (argon2id runs its lanes in
threads of its own), so a sign-up's also runs at a lower CPU priority: a
login hashing beside it gets the cores first.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from anyio import CancelScope, CapacityLimiter, move_on_after, to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.exceptions import HTTPException

T = TypeVar("T")

_hasher = PasswordHasher()  # argon2id, the library's current recommended parameters (3 passes over 64 MiB)
_dummy_hash: str | None = None  # made by the hasher in use on first need: see _verify
_at_once = CapacityLimiter(2)  # every hash and verification
_sign_ups_at_once = CapacityLimiter(1)  # the hashes of new accounts' passwords, within _at_once
MAX_WAIT_SECONDS = 5.0
# How much less CPU priority a sign-up's hash has (nice, 0 to 19).
SIGN_UP_NICENESS = 5


def _lower_priority() -> None:
    # Linux keeps a niceness for each thread, and the threads argon2 starts for a hash's lanes inherit it.
    # Best effort: where a thread's niceness cannot be set, sign-ups still hold only their share.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), SIGN_UP_NICENESS)


_sign_up_workers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sign-up-hash", initializer=_lower_priority)


class HashersBusy(HTTPException):
    def __init__(self) -> None:
        super().__init__(503, "too many sign-ins and sign-ups at once; try again in a moment", {"Retry-After": "1"})


def limit_concurrent_hashes(count: int) -> None:
    """At most `count` hashes (or verifications) at once: `count` x 64 MiB at the worst; sign-ups `count` - 1 of them."""
    global _sign_up_workers
    _at_once.total_tokens = count
    _sign_ups_at_once.total_tokens = max(1, count - 1)
    _sign_up_workers.shutdown(wait=False)
    _sign_up_workers = ThreadPoolExecutor(max_workers=max(1, count - 1), thread_name_prefix="sign-up-hash",
                                          initializer=_lower_priority)


def use_hash_cost(time_cost: int, memory_kib: int) -> None:
    """Hash new passwords with these argon2id costs (passes, memory); a stored hash of other costs still verifies,
    and is replaced at its next sign-in (`needs_rehash`)."""
    global _hasher, _dummy_hash
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
    _dummy_hash = None


async def hash_password(password: str, *, sign_up: bool = False) -> str:
    """The password's hash; `sign_up` for a new account's, which waits for the sign-ups' share of the hashers."""
    if sign_up:
        return await _in_turn((_sign_ups_at_once, _at_once), _in_sign_up_worker, _hasher.hash, password)
    return await _in_turn((_at_once,), to_thread.run_sync, _hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    return await _in_turn((_at_once,), to_thread.run_sync, _verify, password_hash, password)


async def _in_sign_up_worker(work: Callable[..., T], *args: object) -> T:
    """`work` in a thread of the sign-ups' own, at their lower priority; finished even if the caller leaves."""
    with CancelScope(shield=True):  # as to_thread does: the hasher is held until the hash is done
        result = await asyncio.get_running_loop().run_in_executor(_sign_up_workers, work, *args)
    return result


async def _in_turn(shares: tuple[CapacityLimiter, ...], run: Callable[..., Awaitable[T]],
                   work: Callable[..., T], *args: object) -> T:
    """`run(work, *args)` once a place in each share is free; HashersBusy when not within MAX_WAIT_SECONDS."""
    held: list[CapacityLimiter] = []
    try:
        with move_on_after(MAX_WAIT_SECONDS):
            for share in shares:
                await share.acquire()
                held.append(share)
        if len(held) < len(shares):
            raise HashersBusy
        return await run(work, *args)
    finally:
        for share in reversed(held):
            share.release()


def _verify(password_hash: str | None, password: str) -> bool:
    if password_hash is not None and password_hash.startswith(SEED_HASH_PREFIX):
        return _verify_seed_hash(password_hash, password)
    try:
        return _hasher.verify(password_hash or _equaliser_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def _equaliser_hash() -> str:
    """Verified against when the user does not exist, so that an unknown username takes as long to refuse as a
    wrong password: made with the costs in use, once (not at import: a hash is a second of start-up on a busy machine)."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("titanium-timing-equaliser")
    return _dummy_hash


SEED_HASH_PREFIX = "pbkdf2:"
# The digests werkzeug offers for pbkdf2, and a bound on the work one stored hash may ask for.
_SEED_DIGESTS = frozenset({"sha1", "sha256", "sha512"})
_SEED_MAX_ITERATIONS = 2_000_000


def _verify_seed_hash(password_hash: str, password: str) -> bool:
    """Whether `password` is the one of a seed account's werkzeug hash; False for a hash of any other shape."""
    try:
        method, salt, digest = password_hash.split("$", 2)
        _, digest_name, iterations_text = method.split(":")
        iterations = int(iterations_text)
    except ValueError:
        return False
    if digest_name not in _SEED_DIGESTS or not 0 < iterations <= _SEED_MAX_ITERATIONS:
        return False
    computed = hashlib.pbkdf2_hmac(digest_name, password.encode(), salt.encode(), iterations).hex()
    return hmac.compare_digest(computed, digest)


def needs_rehash(password_hash: str) -> bool:
    return password_hash.startswith(SEED_HASH_PREFIX) or _hasher.check_needs_rehash(password_hash)
