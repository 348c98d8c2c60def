"""The metrics every service exports: exemplars and the format that carries them, zero series, the
reasons of failed calls, business outcomes, the database pool and the cache's availability.

Real sockets, a real PostgreSQL and a real Redis; nothing mocked. Each test uses a service name
of its own, since the registry is the process's."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
import httpx
from prometheus_client import REGISTRY
from starlette.requests import Request

from titanium.core.cache import CachedNamespace, MemoryCache, RedisCache, SafeCache, redis_client
from titanium.core.database import create_engine, warm_pool
from titanium.core.metrics import UPSTREAM_REASONS, RequestMetrics, declare_service, failure_reason, metrics_endpoint
from titanium.services.auth.app import OUTCOMES as AUTH_OUTCOMES
from titanium.services.users.app import OUTCOMES as USERS_OUTCOMES

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def scrape(accept: str | None) -> tuple[str, str]:
    headers = [(b"accept", accept.encode())] if accept else []
    answer = await metrics_endpoint(Request({"type": "http", "method": "GET", "path": "/metrics", "headers": headers}))
    return answer.headers["content-type"], bytes(answer.body).decode()


async def test_the_latency_carries_the_trace_id_as_an_exemplar_in_openmetrics_only():
    RequestMetrics("unit-exemplar").observe("GET", "/things", 200, 0.02, TRACE_ID)
    RequestMetrics("unit-exemplar").observe("GET", "/untraced", 200, 0.02)

    content_type, text = await scrape("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
    assert content_type.startswith("application/openmetrics-text")
    buckets = [line for line in text.splitlines() if line.startswith("http_request_duration_seconds_bucket{")
               and 'service="unit-exemplar"' in line]
    traced = [line for line in buckets if 'route="/things"' in line and 'le="0.025"' in line]
    assert len(traced) == 1 and f'# {{trace_id="{TRACE_ID}"}} 0.02' in traced[0]
    assert not any("# {" in line for line in buckets if 'route="/untraced"' in line)
    assert text.rstrip().endswith("# EOF")

    for accept in (None, "*/*", "text/plain;version=0.0.4"):
        content_type, text = await scrape(accept)
        assert content_type.startswith("text/plain"), accept
        assert 'service="unit-exemplar"' in text and TRACE_ID not in text


def test_declared_series_exist_before_anything_happens():
    # The registry is this test process's, shared with other unit tests that
    # may have counted auth's failures already: the series must exist (a
    # fresh platform's are at 0: tests/platform/test_metrics.py).
    declare_service("auth", [("POST", "/auth/login"), ("GET", "/auth/jwks")], AUTH_OUTCOMES)
    assert sample("http_requests_total", service="auth", method="POST", route="/auth/login", status="500") is not None
    assert sample("http_requests_total", service="auth", method="GET", route="/auth/jwks", status="500") is not None
    for reason in UPSTREAM_REASONS:
        assert sample("upstream_errors_total", service="auth", upstream="users", reason=reason) is not None
    for result in ("success", "failed", "throttled"):
        assert sample("auth_logins_total", service="auth", result=result) is not None
    assert sample("users_registrations_total", service="auth", result="created") is None, "only its own outcomes"


def test_business_outcomes_are_counted_from_the_answers_of_their_routes():
    def registrations(result: str) -> float:
        return sample("users_registrations_total", service="users", result=result) or 0.0

    before = {result: registrations(result) for result in ("created", "taken", "invalid")}
    metrics = RequestMetrics("users", USERS_OUTCOMES)
    for status in (201, 422, 422, 409, 500):
        metrics.observe("POST", "/users", status, 0.1)
    metrics.observe("GET", "/users/{username}", 404, 0.01)
    assert {result: registrations(result) - before[result] for result in before} == \
        {"created": 1, "taken": 1, "invalid": 2}


# --- why a call failed: real servers misbehaving ------------------------------------------------

Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def server(behaviour: Behaviour) -> AsyncIterator[str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await behaviour(reader, writer)
        finally:
            writer.close()

    listening = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        listening.close()


async def never_answers(reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    await asyncio.sleep(5)


async def hangs_up(reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")


async def fails(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n")
    await writer.drain()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/"


async def httpx_failure(url: str) -> BaseException:
    async with httpx.AsyncClient(timeout=httpx.Timeout(0.3)) as client:
        try:
            (await client.get(url)).raise_for_status()
        except httpx.HTTPError as exc:
            return exc
    raise AssertionError("the call succeeded")


async def aiohttp_failure(url: str) -> BaseException:
    timeout = aiohttp.ClientTimeout(sock_connect=0.3, sock_read=0.3)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        try:
            async with session.get(url) as answer:
                await answer.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return exc
    raise AssertionError("the call succeeded")


async def test_failed_calls_get_one_of_a_few_reasons_whichever_client_made_them():
    assert failure_reason(await httpx_failure(closed_port_url())) == "unavailable"
    assert failure_reason(await aiohttp_failure(closed_port_url())) == "unavailable"
    async with server(never_answers) as url:
        assert failure_reason(await httpx_failure(url)) == "timeout"
        assert failure_reason(await aiohttp_failure(url)) == "timeout"
    async with server(hangs_up) as url:
        assert failure_reason(await httpx_failure(url)) == "bad_answer"
        assert failure_reason(await aiohttp_failure(url)) == "bad_answer"
    async with server(fails) as url:
        assert failure_reason(await httpx_failure(url)) == "bad_status"
    assert failure_reason(ValueError("not JSON")) == "bad_answer"


# --- figures read when scraped ------------------------------------------------------------------

def pool_figures() -> tuple[float, float, float]:
    """(in use, idle, at most) over every pool of this process (other tests' engines included)."""
    return (sample("db_pool_connections", service="unit-pool", state="in_use") or 0.0,
            sample("db_pool_connections", service="unit-pool", state="idle") or 0.0,
            sample("db_pool_max_connections", service="unit-pool") or 0.0)


async def test_the_pool_figures_follow_the_connections_in_use(postgres_server):
    declare_service("unit-pool", [])
    _, _, most_before = pool_figures()
    engine = create_engine(postgres_server.rstrip("/") + "/postgres", pool_size=3)
    try:
        await warm_pool(engine)
        in_use, idle, most = pool_figures()
        assert most - most_before == 3
        async with engine.connect():
            assert pool_figures()[:2] == (in_use + 1, idle - 1)
        assert pool_figures()[:2] == (in_use, idle)
    finally:
        await engine.dispose()


async def test_the_cache_is_reported_unavailable_while_it_is_skipped_after_a_failure(redis_server, redis_prefix):
    dead = SafeCache(RedisCache(redis_client(closed_port_url().replace("http", "redis")), redis_prefix),
                     fallback=MemoryCache())
    dead_namespace = CachedNamespace(dead, "unit", 60, "unit-dead-cache")
    alive = CachedNamespace(SafeCache(RedisCache(redis_client(redis_server), redis_prefix)), "unit", 60,
                            "unit-live-cache")

    async def load() -> dict[str, int]:
        return {"answer": 42}

    try:
        assert sample("cache_available", service="unit-dead-cache") == 1, "not skipped until it fails"
        assert await dead_namespace.get_or_load("f", "k", load) == b'{"answer":42}'
        assert sample("cache_available", service="unit-dead-cache") == 0
        assert await alive.get_or_load("f", "k", load) == b'{"answer":42}'
        assert sample("cache_available", service="unit-live-cache") == 1
    finally:
        await dead.close()
        await alive.cache.close()
