"""`Idempotency-Key` in-process (src/titanium/core/idempotency.py): claim, replay, 422 for another body, a retry
waiting for the first, a claim whose holder died, and a store that is down. Keys live in this process's memory and
in the real test Redis (tests/security/test_idempotency.py sends the same through a whole platform)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import orjson
import pytest
from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.unit.service_app import Gate, serving
from titanium.core import idempotency
from titanium.core.app import create_app
from titanium.core.cache import redis_client
from titanium.core.idempotency import KeyStore, MemoryKeyStore, RedisKeyStore, idempotent, install_idempotency
from titanium.core.routes import TitaniumRoute, add_routes
from titanium.core.settings import ServiceSettings

REPLAYED = "idempotent-replayed"


class Things:
    """A service that makes things: POST /things makes one (201); the body's `refuse` makes it answer 422,
    `fail` raise, `hold` wait at the gate. The caller is the X-Caller header (none: unprotected)."""

    def __init__(self, store: KeyStore) -> None:
        self.made: list[dict] = []
        self.deleted: set[int] = set()  # ids of things made, then deleted
        self.gate = Gate()
        self.app = create_app("things", ServiceSettings(), app_class=FastAPI)
        install_idempotency(self.app, "things", store)
        router = APIRouter(route_class=TitaniumRoute)

        @router.post("/things")
        @idempotent(self._caller, self._still_there)
        async def make(request: Request) -> Response:
            return await self.make(request)

        add_routes(self.app, router)

    @staticmethod
    async def _caller(request: Request) -> str | None:
        return request.headers.get("x-caller")

    async def _still_there(self, _request: Request, kept: bytes) -> Response | None:
        made = orjson.loads(kept)["id"]
        return JSONResponse({"detail": "deleted since"}, status_code=410) if made in self.deleted else None

    async def make(self, request: Request) -> Response:
        body = await request.json()
        if body.get("refuse"):
            return JSONResponse({"detail": "refused"}, status_code=422)
        if body.get("fail"):
            raise RuntimeError("the route failed")
        if body.get("hold"):
            await self.gate.pass_through()
        self.made.append(body)
        return JSONResponse({"id": len(self.made), **body}, status_code=201, headers={"location": f"/things/{len(self.made)}"})


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[KeyStore]:
    if request.param == "memory":
        yield MemoryKeyStore()
        return
    server, prefix = request.getfixturevalue("redis_server"), request.getfixturevalue("redis_prefix")
    kept = RedisKeyStore(redis_client(server), f"{prefix}-{uuid.uuid4().hex[:8]}")
    yield kept
    await kept.close()


@asynccontextmanager
async def things_service(store: KeyStore) -> AsyncIterator[tuple[Things, httpx.AsyncClient]]:
    things = Things(store)
    async with serving(things.app) as client:
        yield things, client


def keyed(key: str | None, caller: str | None = "alice") -> dict[str, str]:
    return {**({"Idempotency-Key": key} if key is not None else {}), **({"X-Caller": caller} if caller else {})}


def new_key() -> str:
    return str(uuid.uuid4())


async def held_first(things: Things, client: httpx.AsyncClient, key: str) -> asyncio.Task[httpx.Response]:
    """The first request with `key`, held inside the route: its claim taken, its answer not given yet."""
    first = asyncio.create_task(client.post("/things", json={"hold": True}, headers=keyed(key)))
    await things.gate.holding(1)
    return first


async def test_a_retry_gets_the_first_answer_and_nothing_is_done_twice(store):
    async with things_service(store) as (things, client):
        key = new_key()
        first = await client.post("/things", json={"name": "one"}, headers=keyed(key))
        retried = await client.post("/things", json={"name": "one"}, headers=keyed(key))
        quoted = await client.post("/things", json={"name": "one"}, headers=keyed(f'"{key}"'))
    assert first.status_code == 201 and REPLAYED not in first.headers
    for again in (retried, quoted):  # the draft's Structured Field string names the same key
        assert again.status_code == 201 and again.headers[REPLAYED] == "true"
        assert again.json() == first.json() and again.headers["location"] == first.headers["location"]
    assert len(things.made) == 1


async def test_a_kept_answer_whose_thing_was_deleted_since_is_not_replayed(store):
    async with things_service(store) as (things, client):
        key = new_key()
        first = await client.post("/things", json={"name": "one"}, headers=keyed(key))
        things.deleted.add(first.json()["id"])
        retried = await client.post("/things", json={"name": "one"}, headers=keyed(key))
        other_body = await client.post("/things", json={"name": "two"}, headers=keyed(key))
    assert retried.status_code == 410 and retried.json() == {"detail": "deleted since"}
    assert REPLAYED not in retried.headers
    assert other_body.status_code == 422, "another request under the key is still 422"
    assert len(things.made) == 1


async def test_without_a_key_or_a_caller_a_write_is_what_it_always_was(store):
    async with things_service(store) as (things, client):
        for headers in (keyed(None), keyed(None), keyed(key := new_key(), caller=None), keyed(key, caller=None)):
            answer = await client.post("/things", json={"name": "plain"}, headers=headers)
            assert answer.status_code == 201 and REPLAYED not in answer.headers
    assert len(things.made) == 4


async def test_the_same_key_with_another_body_or_path_is_422_and_the_key_keeps_its_own_request(store):
    async with things_service(store) as (things, client):
        key = new_key()
        first = await client.post("/things", json={"name": "one"}, headers=keyed(key))
        other = await client.post("/things", json={"name": "two"}, headers=keyed(key))
        assert other.status_code == 422
        assert other.json() == {"detail": idempotency.KEY_USED_FOR_ANOTHER_REQUEST}
        assert (await client.post("/things", json={"name": "one"}, headers=keyed(key))).json() == first.json()
    assert things.made == [{"name": "one"}]


async def test_keys_are_each_callers_own(store):
    async with things_service(store) as (things, client):
        key = new_key()
        mine = await client.post("/things", json={"name": "same"}, headers=keyed(key, caller="alice"))
        theirs = await client.post("/things", json={"name": "same"}, headers=keyed(key, caller="bob"))
    assert mine.status_code == theirs.status_code == 201 and REPLAYED not in theirs.headers
    assert len(things.made) == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "two words", "caf\u00e9", 'half"quoted', '"unclosed', "back\\slash"])
async def test_a_malformed_key_is_400_and_nothing_is_done(key):
    async with things_service(MemoryKeyStore()) as (things, client):
        answer = await client.post("/things", json={"name": "x"}, headers={"Idempotency-Key": key.encode(), "X-Caller": "a"})
    assert answer.status_code == 400 and "Idempotency-Key must be sent once" in answer.json()["detail"]
    assert things.made == []


async def test_two_keys_are_400_and_255_characters_is_the_limit():
    async with things_service(MemoryKeyStore()) as (things, client):
        two = [("Idempotency-Key", new_key()), ("Idempotency-Key", new_key()), ("X-Caller", "a")]
        assert (await client.post("/things", json={"name": "x"}, headers=two)).status_code == 400
        assert (await client.post("/things", json={"name": "x"}, headers=keyed("k" * 255))).status_code == 201
    assert len(things.made) == 1


async def test_only_a_success_is_kept_so_a_refused_or_failed_write_can_be_sent_again(store):
    async with things_service(store) as (things, client):
        key = new_key()
        assert (await client.post("/things", json={"refuse": True}, headers=keyed(key))).status_code == 422
        assert (await client.post("/things", json={"fail": True}, headers=keyed(key))).status_code == 500
        # Another body under the same key: nothing was kept for it, so it is not "another request" either.
        corrected = await client.post("/things", json={"name": "fixed"}, headers=keyed(key))
    assert corrected.status_code == 201 and REPLAYED not in corrected.headers
    assert things.made == [{"name": "fixed"}]


async def test_a_retry_sent_while_the_first_runs_waits_for_its_answer(store):
    async with things_service(store) as (things, client):
        key = new_key()
        first = await held_first(things, client, key)
        retries = [asyncio.create_task(client.post("/things", json={"hold": True}, headers=keyed(key))) for _ in range(3)]
        await asyncio.sleep(0.2)  # the retries are waiting, not answered: nothing to read yet
        assert not any(retry.done() for retry in retries)
        things.gate.opened.set()
        answers = [await first, *await asyncio.gather(*retries)]
    assert [answer.status_code for answer in answers] == [201] * 4
    assert [answer.headers.get(REPLAYED) for answer in answers] == [None, "true", "true", "true"]
    assert len({answer.text for answer in answers}) == 1 and len(things.made) == 1


async def test_a_retry_that_waited_too_long_is_409_with_retry_after(store, monkeypatch):
    monkeypatch.setattr(idempotency, "WAIT_FOR_FIRST_SECONDS", 0.2)
    async with things_service(store) as (things, client):
        key = new_key()
        first = await held_first(things, client, key)
        late = await client.post("/things", json={"hold": True}, headers=keyed(key))
        things.gate.opened.set()
        assert (await first).status_code == 201
    assert late.status_code == 409 and late.headers["retry-after"] == "1"
    assert late.json()["detail"] == "a request with this Idempotency-Key is still being processed"


async def test_the_claim_of_a_request_that_died_lapses_and_its_retry_is_done(store, monkeypatch):
    monkeypatch.setattr(idempotency, "LEASE_SECONDS", 0.3)
    async with things_service(store) as (things, client):
        key = new_key()
        first = await held_first(things, client, key)
        first.cancel()  # as its process dying: its claim is neither answered nor renewed any more
        await things.gate.holding(0)
        things.gate.opened.set()
        retried = await client.post("/things", json={"hold": True}, headers=keyed(key))
    assert retried.status_code == 201 and REPLAYED not in retried.headers
    assert things.made == [{"hold": True}]


async def test_a_claim_held_by_a_live_request_outlasts_its_lease(store, monkeypatch):
    # Renewed every third of a lease, a claim lapses only if its process is not scheduled for two thirds of
    # one: 0.3 s leases lapsed on a machine at load 12 (both requests made the thing). 2 s is a stall no
    # live process of a loaded machine has; the production lease is 3 s.
    monkeypatch.setattr(idempotency, "LEASE_SECONDS", 2.0)
    async with things_service(store) as (things, client):
        key = new_key()
        first = await held_first(things, client, key)
        retry = asyncio.create_task(client.post("/things", json={"hold": True}, headers=keyed(key)))
        await asyncio.sleep(3.0)  # a lease and a half: renewed all along, the claim is still the first's
        things.gate.opened.set()
        answers = [await first, await retry]
    assert [answer.headers.get(REPLAYED) for answer in answers] == [None, "true"]
    assert len(things.made) == 1


async def test_a_store_that_is_down_lets_writes_through_unprotected_and_logged(capfd):
    nowhere = RedisKeyStore(redis_client("redis://127.0.0.1:1/0"), "nowhere")  # nothing listens on port 1
    async with things_service(nowhere) as (things, client):
        key = new_key()
        answers = [await client.post("/things", json={"name": "one"}, headers=keyed(key)) for _ in range(2)]
    assert [answer.status_code for answer in answers] == [201, 201], "made, never an error for the client"
    assert all(REPLAYED not in answer.headers for answer in answers) and len(things.made) == 2
    assert "the write proceeds with only the route's own record of keys" in capfd.readouterr().out
