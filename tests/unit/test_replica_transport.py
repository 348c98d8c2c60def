"""The internal client given several processes of a service: each request to the next in turn, and to
another when one cannot be reached, against real HTTP servers on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter

import httpx
import pytest

from titanium.core.http import SAFE_TO_RESEND, http_client


class TinyServer:
    """An HTTP/1.1 server on a free loopback port that answers every request with its name,
    or (`hang_up`) reads the request and closes the connection without an answer."""

    def __init__(self, name: str, *, hang_up: bool = False) -> None:
        self.name = name
        self.hang_up = hang_up
        self.received: list[tuple[str, str, bytes, str]] = []  # method, path, body, Host header
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> TinyServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """As a process that dies: the listener and every open connection closed."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._connections):
            writer.close()
            await writer.wait_closed()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, path, _ = request_line.split(" ")
                headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.received.append((method, path, body, headers.get("host", "")))
                if self.hang_up:
                    break
                answer = self.name.encode()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n"
                             b"content-length: %d\r\n\r\n%s" % (len(answer), answer))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._connections.discard(writer)
            writer.close()


def _unused_port() -> int:
    """A loopback port where nothing listens (bound, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
async def two_servers():
    servers = [await TinyServer("one").start(), await TinyServer("two").start()]
    yield servers
    for server in servers:
        if server._server is not None and server._server.is_serving():
            await server.stop()


async def test_requests_go_to_each_process_in_turn(two_servers):
    one, two = two_servers
    async with http_client(1.0, 2.0, base_url=f"{one.url}, {two.url}") as client:
        answers = [(await client.get("/status")).text for _ in range(10)]
    assert Counter(answers) == {"one": 5, "two": 5}
    assert [path for _, path, _, _ in one.received + two.received] == ["/status"] * 10
    # Each process is named as itself in the Host header, not as the first one.
    assert {host for *_, host in two.received} == {f"127.0.0.1:{two.port}"}


async def test_every_request_succeeds_while_one_process_is_down_whatever_its_method(two_servers):
    one, two = two_servers
    async with http_client(1.0, 2.0, base_url=f"{one.url},{two.url}") as client:
        assert {(await client.get("/")).text for _ in range(4)} == {"one", "two"}, "both up: both used"
        await one.stop()
        for number in range(10):
            posted = await client.post("/users", json={"n": number})
            assert posted.status_code == 200 and posted.text == "two"
            assert (await client.delete(f"/users/{number}")).text == "two"
    posted_bodies = [body for method, _, body, _ in two.received if method == "POST"]
    assert posted_bodies == [b'{"n":%d}' % n for n in range(10)], "each write sent once, body intact"


async def test_a_process_that_was_never_there_is_skipped(two_servers):
    _, two = two_servers
    async with http_client(1.0, 2.0, base_url=f"http://127.0.0.1:{_unused_port()},{two.url}") as client:
        assert [(await client.put("/x", content=b"data")).text for _ in range(6)] == ["two"] * 6


async def test_when_no_process_can_be_reached_the_connection_error_is_the_callers():
    ports = [_unused_port(), _unused_port()]
    async with http_client(1.0, 2.0, base_url=",".join(f"http://127.0.0.1:{p}" for p in ports)) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/status")


async def test_a_request_that_reached_a_process_is_not_sent_again():
    silent, other = await TinyServer("silent", hang_up=True).start(), await TinyServer("other").start()
    try:
        async with http_client(1.0, 2.0, base_url=f"{silent.url},{other.url}") as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post("/blog/api/posts", json={"title": "once"})
        assert len(silent.received) == 1 and other.received == [], "the write was not repeated elsewhere"
    finally:
        await silent.stop()
        await other.stop()


async def test_a_request_safe_to_send_twice_goes_to_another_process_when_the_first_hangs_up():
    silent, other = await TinyServer("silent", hang_up=True).start(), await TinyServer("other").start()
    try:
        async with http_client(1.0, 2.0, base_url=f"{silent.url},{other.url}") as client:
            for _ in range(2):  # one of the two starts with the silent process
                assert (await client.get("/status")).text == "other"
                check = await client.post("/internal/credentials/verify", json={"u": 1},
                                          extensions={SAFE_TO_RESEND: True})
                assert check.text == "other"
        assert [method for method, *_ in other.received] == ["GET", "POST"] * 2
    finally:
        await silent.stop()
        await other.stop()


async def test_other_hosts_pass_through_untouched(two_servers):
    one, two = two_servers
    outsider = await TinyServer("outsider").start()
    try:
        async with http_client(1.0, 2.0, base_url=f"{one.url},{two.url}") as client:
            assert [(await client.get(f"{outsider.url}/x")).text for _ in range(3)] == ["outsider"] * 3
    finally:
        await outsider.stop()


async def test_one_url_is_the_plain_pooled_client(two_servers):
    one, _ = two_servers
    async with http_client(1.0, 2.0, base_url=one.url) as client:
        assert [(await client.get("/a")).text for _ in range(3)] == ["one"] * 3
