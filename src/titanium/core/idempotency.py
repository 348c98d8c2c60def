"""`Idempotency-Key` on writes (draft-ietf-httpapi-idempotency-key-header): a retry gets the first answer.

A client that sends a write and loses the answer (a gateway that crashed, a
connection cut) cannot know whether it was done; with a key it can send it
again. The first request with a key, per caller, claims it in the service's
store (SET NX) for a short lease that it renews while it works; the answer
it gets is stored under the key (kept 24 h) before it is sent. A retry with
the same key and the same request is answered from the store (with
`Idempotent-Replayed: true`) and does nothing; with another request body it
is 422. A retry that arrives while the first is still being processed waits
for its answer; 409 only if that takes longer than the gateway would wait.
If the process answering the first dies, its lease lapses within seconds and
the retry is done instead: this is what lets the gateway resend a write
with a key to another process when the first died with it (ADR 11).
Only successful answers are kept: a refusal or a failure changed nothing,
so its retry runs again (and may succeed). A route may have a kept answer
checked before it is replayed (`still_there`): the blog answers 410 Gone to a
retried create whose post was deleted since, rather than 201 with a post that
no longer exists.

A process can die after its write committed and before the answer was
stored. For a write that makes something (a create), the route closes that
gap itself: `keyed_request` gives it the request's key and fingerprint to
record in the write's own transaction, so that a retry run again finds what
the first one made and answers with it (`mark_replayed`), or with 422 for
another body (`KeyUsedForAnotherRequest`).

Only the routes declared `idempotent` pass through here, and a request without
the header costs one header lookup: reads never touch this module. A store
that fails (Redis down or slow) is skipped for a few seconds and the write
proceeds without replay protection, logged: never an error for the client.
See docs/adr/0009-idempotency-keys.md for the choice of store.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from titanium.core.breaker import Breaker, DependencyDown
from titanium.core.errors import error_response
from titanium.core.logging import get_logger
from titanium.core.routes import Endpoint, Handler, with_behaviour

if TYPE_CHECKING:
    import redis.asyncio as redis
    from starlette.applications import Starlette

log = get_logger(__name__)

HEADER = b"idempotency-key"
REPLAYED_HEADER = (b"idempotent-replayed", b"true")
# How long a key is remembered: the draft leaves it to the server; a day
# covers any client's retries.
KEY_TTL_SECONDS = 24 * 3600.0
# A claim held by a request being answered lapses this long after its
# process stops renewing it (renewed three times a lease while it works).
LEASE_SECONDS = 3.0
# How long a retry waits for the first request's answer before a 409: less
# than the gateway waits for an answer (TITANIUM_UPSTREAM_READ_TIMEOUT, 10 s).
WAIT_FOR_FIRST_SECONDS = 8.0
POLL_SECONDS = 0.05
MAX_KEY_LENGTH = 255
# Visible ASCII but the quote and the backslash: a UUID, a ULID, base64 all
# fit, and a key is safe to put in a store key and a log line as it is. The
# draft's form is a Structured Field string ("..."); a bare key is taken too,
# as most clients send one.
_KEY_CHARACTERS = rf"[\x21\x23-\x5b\x5d-\x7e]{{1,{MAX_KEY_LENGTH}}}"
_KEY = re.compile(rf'"(?P<quoted>{_KEY_CHARACTERS})"|(?P<bare>{_KEY_CHARACTERS})')
_KEY_RULE = (f"Idempotency-Key must be sent once, as one key of 1 to {MAX_KEY_LENGTH} visible ASCII characters "
             "without quotes or backslashes (a UUID, say)")

KEY_USED_FOR_ANOTHER_REQUEST = ("this Idempotency-Key was used for a different request; "
                                "use a new key for a new request")
_STATE_NAME = "idempotency"  # where a keyed request's `KeyedRequest` is, in the request's state

# Who is asking, from the request: the key space of one caller (their user id,
# their address). None lets the request through unprotected (the route then
# refuses it, e.g. 401 for a token it does not accept).
CallerOf = Callable[[Request], Awaitable[str | None]]
# What a kept answer made may be gone since (a post created, then deleted): given
# the request and the kept answer's body, the route's answer instead of the
# replay (410 Gone), or None to replay it.
StillThere = Callable[[Request, bytes], Awaitable[Response | None]]


@dataclass(frozen=True)
class KeyedRequest:
    """A keyed write as its route may record it: the key (a digest, one caller's) and what the request was."""

    key: str
    fingerprint: str


class KeyUsedForAnotherRequest(Exception):
    """Raised by a route that finds its key recorded for another request: 422, as the store would answer."""


def keyed_request(request: Request) -> KeyedRequest | None:
    """This write's key and fingerprint, when it came with a key (and a caller) that this module took."""
    found: KeyedRequest | None = request.scope.get("state", {}).get(_STATE_NAME)
    return found


def mark_replayed(response: Response) -> None:
    """For a route that answered a keyed write from its own record of the first request."""
    response.headers[REPLAYED_HEADER[0].decode()] = REPLAYED_HEADER[1].decode()


class KeyStore(Protocol):
    """Where keys and answers are kept; every method may raise when the store is unavailable."""

    async def claim(self, key: str, record: bytes, ttl: float) -> bool:
        """Set the key only where it is absent; whether it was set."""
    async def get(self, key: str) -> bytes | None: ...
    async def put(self, key: str, record: bytes, ttl: float) -> None: ...
    async def renew(self, key: str, record: bytes, ttl: float) -> None:
        """Keep the key `ttl` more seconds, only while it still holds `record` (never an answer stored since)."""
    async def release(self, key: str) -> None: ...
    async def close(self) -> None: ...


class MemoryKeyStore:
    """This process's keys, bounded by the bytes they hold (the oldest go first)."""

    def __init__(self, max_bytes: int = 16 * 1024 * 1024) -> None:
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0
        self._max_bytes = max_bytes

    async def claim(self, key: str, record: bytes, ttl: float) -> bool:
        if await self.get(key) is not None:
            return False
        await self.put(key, record, ttl)
        return True

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            await self.release(key)
            return None
        return entry[1]

    async def put(self, key: str, record: bytes, ttl: float) -> None:
        await self.release(key)
        self._entries[key] = (time.monotonic() + ttl, record)
        self._bytes += len(key) + len(record)
        while self._bytes > self._max_bytes:
            oldest, (_, value) = self._entries.popitem(last=False)
            self._bytes -= len(oldest) + len(value)

    async def renew(self, key: str, record: bytes, ttl: float) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry[1] == record:
            self._entries[key] = (time.monotonic() + ttl, record)

    async def release(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(key) + len(entry[1])

    async def close(self) -> None:
        self._entries.clear()
        self._bytes = 0


_RENEW_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class RedisKeyStore:
    """Keys in Redis: shared by every replica, and outliving any process of the platform."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self._prefix}:idempotency:{key}"

    async def claim(self, key: str, record: bytes, ttl: float) -> bool:
        return bool(await self._client.set(self._key(key), record, nx=True, px=int(ttl * 1000)))

    async def get(self, key: str) -> bytes | None:
        value = await self._client.get(self._key(key))
        assert value is None or isinstance(value, bytes)  # the client does not decode
        return value

    async def put(self, key: str, record: bytes, ttl: float) -> None:
        await self._client.set(self._key(key), record, px=int(ttl * 1000))

    async def renew(self, key: str, record: bytes, ttl: float) -> None:
        # Compare and extend in one step: a renewal that arrives after the
        # answer was stored must not cut the answer's 24 hours short.
        await self._client.eval(_RENEW_SCRIPT, 1, self._key(key), record, int(ttl * 1000))

    async def release(self, key: str) -> None:
        await self._client.delete(self._key(key))

    async def close(self) -> None:
        await self._client.aclose()


def build_key_store(redis_url: str | None, prefix: str) -> KeyStore:
    """Redis when it is configured (replicas share it), else this process's memory."""
    if redis_url:
        from titanium.core.cache import redis_client

        return RedisKeyStore(redis_client(redis_url), prefix)
    return MemoryKeyStore()


class GuardedStore:
    """A store behind a breaker (core/breaker.py): its failures and slow calls are `DependencyDown`."""

    # A healthy store answers in a millisecond; a write should not wait on a sick one.
    CALL_DEADLINE_SECONDS = 1.0

    def __init__(self, store: KeyStore) -> None:
        self.store = store
        self.breaker = Breaker("idempotency store", deadline_seconds=self.CALL_DEADLINE_SECONDS)

    async def call(self, operation: str, *args: Any) -> Any:
        return await self.breaker.call(lambda: getattr(self.store, operation)(*args))


class _Record:
    """What the store keeps under a key: the request's fingerprint, and once it is done the answer."""

    def __init__(self, fingerprint: str, status: int | None = None, headers: list[list[str]] | None = None,
                 body: bytes = b"") -> None:
        self.fingerprint = fingerprint
        self.status = status  # None while the first request is being processed
        self.headers = headers or []
        self.body = body

    def encode(self) -> bytes:
        meta = {"fingerprint": self.fingerprint, "status": self.status, "headers": self.headers}
        return orjson.dumps(meta) + b"\n" + self.body

    @classmethod
    def decode(cls, data: bytes) -> _Record:
        meta, _, body = data.partition(b"\n")
        fields = orjson.loads(meta)
        return cls(fields["fingerprint"], fields["status"], fields["headers"], body)


_CLAIMED = _Record("")  # what `_claim` gives the request that now holds its key


class IdempotencyKeys:
    """A service's keys: where they are kept (put in the app's state by `install_idempotency`)."""

    def __init__(self, service: str, store: KeyStore) -> None:
        self.service = service
        self.store = GuardedStore(store)


def install_idempotency(app: Starlette, service: str, store: KeyStore) -> None:
    """Give the app's `idempotent` routes their key store, and the 422 of a key met again with another request."""
    app.state.idempotency_keys = IdempotencyKeys(service, store)
    app.add_exception_handler(KeyUsedForAnotherRequest, _key_used_for_another_request)


def idempotent(caller_of: CallerOf, still_there: StillThere | None = None) -> Callable[[Endpoint], Endpoint]:
    """Declare that the decorated write route honours `Idempotency-Key` (core/routes.py), per caller.

    `caller_of` gives whose keys a request's key is among (None: the route
    will refuse the request anyway, so it passes unprotected). `still_there`,
    for a route whose answer names what it made, is asked before a kept answer
    is replayed: a retry must not be told of something deleted since.
    """

    def behaviour(_route: APIRoute, handler: Handler) -> Handler:
        async def keyed(request: Request) -> Response:
            sent = [value for name, value in request.scope["headers"] if name == HEADER]
            if not sent:
                return await handler(request)
            key = _parse_key(sent)
            if key is None:
                return error_response(400, _KEY_RULE)
            caller = await caller_of(request)
            if caller is None:
                return await handler(request)
            return await _keyed(request, handler, caller, key, still_there)

        return keyed

    return with_behaviour(behaviour)


async def _keyed(request: Request, handler: Handler, caller: str, key: str,
                 still_there: StillThere | None) -> Response:
    keys: IdempotencyKeys = request.app.state.idempotency_keys
    fingerprint = _fingerprint(request.scope, await request.body())  # kept on the request for the handler
    store_key = f"{keys.service}:{caller}:{key}"
    # For the route's own record, made with the write (see the module's text).
    digest = hashlib.sha256(store_key.encode()).hexdigest()
    request.scope.setdefault("state", {})[_STATE_NAME] = KeyedRequest(digest, fingerprint)
    answering = _Answering(handler, keys, store_key, fingerprint)
    try:
        earlier = await answering.claim()
    except DependencyDown as exc:
        log.warning("idempotency store unavailable; the write proceeds with only the route's own record of keys",
                    service=keys.service, error=str(exc))
        return await handler(request)
    if earlier is _CLAIMED:
        return await answering.answer_once(request)
    if still_there is not None and earlier.status is not None and earlier.fingerprint == fingerprint:
        instead = await still_there(request, earlier.body)
        if instead is not None:
            return instead
    return _answer_from(earlier, fingerprint)


class _Answering:
    """One keyed request: its claim on the key, and its answer kept under it."""

    def __init__(self, handler: Handler, keys: IdempotencyKeys, store_key: str, fingerprint: str) -> None:
        self.handler = handler
        self.service = keys.service
        self.store = keys.store
        self.store_key = store_key
        self.fingerprint = fingerprint

    async def claim(self) -> _Record:
        """`_CLAIMED` when this request holds the key now, else what the store holds under it.

        While the same request is being answered under the key, this waits for
        that answer (or for the claim to be let go or to lapse, and takes it).
        """
        deadline = time.monotonic() + WAIT_FOR_FIRST_SECONDS
        while True:
            if await self.store.call("claim", self.store_key, _Record(self.fingerprint).encode(), LEASE_SECONDS):
                return _CLAIMED
            stored = await self.store.call("get", self.store_key)
            if stored is not None:
                earlier = _Record.decode(stored)
                if earlier.status is not None or earlier.fingerprint != self.fingerprint or time.monotonic() >= deadline:
                    return earlier
            await asyncio.sleep(POLL_SECONDS)

    async def _hold(self) -> None:
        """Renew this request's claim while it is answered, so that only a dead process's claim lapses."""
        in_progress = _Record(self.fingerprint).encode()
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            try:
                await self.store.call("renew", self.store_key, in_progress, LEASE_SECONDS)
            except DependencyDown as exc:
                log.warning("idempotency claim could not be renewed", service=self.service, error=str(exc))

    async def answer_once(self, request: Request) -> Response:
        """Run the route; keep a successful answer under the key before it is sent, else let the key go."""
        holding = asyncio.create_task(self._hold())
        try:
            response = await self.handler(request)
        except Exception:
            await self._let_go()  # a refusal (422, 403...) or a failure: nothing was done, a retry may run again
            raise
        finally:
            holding.cancel()
        body = getattr(response, "body", None)
        if not 200 <= response.status_code < 300 or body is None:
            await self._let_go()
            return response
        kept = [[n.decode("latin-1"), v.decode("latin-1")] for n, v in response.raw_headers if n != REPLAYED_HEADER[0]]
        try:
            await self.store.call("put", self.store_key, _Record(self.fingerprint, response.status_code, kept,
                                                                 bytes(body)).encode(), KEY_TTL_SECONDS)
        except DependencyDown as exc:
            # The write is done but its answer is not kept: once the claim lapses (LEASE_SECONDS), a retry
            # with this key is done again. A store that fails here is the one case this cannot cover.
            log.warning("idempotency store unavailable; the answer was not kept", service=self.service, error=str(exc))
        return response

    async def _let_go(self) -> None:
        try:
            await self.store.call("release", self.store_key)
        except DependencyDown as exc:
            log.warning("idempotency key could not be released", service=self.service, error=str(exc))


def _answer_from(earlier: _Record, fingerprint: str) -> Response:
    if earlier.fingerprint != fingerprint:
        return error_response(422, KEY_USED_FOR_ANOTHER_REQUEST)
    if earlier.status is None:
        return error_response(409, "a request with this Idempotency-Key is still being processed", {"Retry-After": "1"})
    replay = Response(earlier.body, status_code=earlier.status)
    replay.raw_headers = [*((n.encode("latin-1"), v.encode("latin-1")) for n, v in earlier.headers), REPLAYED_HEADER]
    return replay


def _parse_key(sent: list[bytes]) -> str | None:
    """The key of a well-formed header (one field, one key), else None."""
    if len(sent) != 1:
        return None
    match = _KEY.fullmatch(sent[0].decode("latin-1").strip())
    return (match["quoted"] or match["bare"]) if match else None


def _fingerprint(scope: Scope, body: bytes) -> str:
    """The request a key stands for: the same key on another route or with another body is another request."""
    digest = hashlib.sha256(f"{scope['method']} {scope['path']}\n".encode())
    digest.update(body)
    return digest.hexdigest()


async def _key_used_for_another_request(_request: Request, _exc: Exception) -> Response:
    return error_response(422, KEY_USED_FOR_ANOTHER_REQUEST)
