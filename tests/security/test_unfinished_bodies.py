"""Requests whose bodies never finish cost their sender a connection each, never the slots everyone else needs.

A request counts as in flight only once the whole of it has arrived
(core/middleware.py). Before, the gateway counted one the moment its head
arrived and streamed its body upstream: 130 connections from one address,
each sending a head with `Content-Length: 100000` and one byte of body,
held all 128 slots, and every other client got 503 (issue 16, item 1).
"""

from __future__ import annotations

import socket
import statistics
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.platform.harness import Platform, loopback_address

# The defaults that matter here (128 in flight, 256 connections an address), and a budget k6-like tests do not hit.
ENV = {"TITANIUM_RATE_LIMIT_PER_ADDRESS": "100000/minute"}
HEAD = (b"POST /blog/api/posts HTTP/1.1\r\nHost: titanium\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n{")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(tmp_path_factory.mktemp("bodies"), ENV).start()
    yield running
    assert running.stop() == 0, running.output()


def unfinished_bodies(platform: Platform, addresses: list[str], each: int) -> list[socket.socket]:
    """`each` connections from every address, each with a head and one byte of its 100,000-byte body."""
    held = []
    for address in addresses:
        for _ in range(each):
            sock = socket.create_connection(("127.0.0.1", platform.base_port), timeout=10, source_address=(address, 0))
            sock.sendall(HEAD)
            held.append(sock)
    return held


def others_are_served(platform: Platform, requests: int = 5) -> list[float]:
    """Another address's reads, each answered 200; how long each took (ms), for the record."""
    timings = []
    transport = httpx.HTTPTransport(local_address=loopback_address())
    with httpx.Client(base_url=platform.url, transport=transport, timeout=15) as client:
        for _ in range(requests):
            started = time.perf_counter()
            answer = client.get("/blog/api/posts")
            timings.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, answer.text
    return timings


def _close(held: list[socket.socket]) -> None:
    for sock in held:
        sock.close()


@pytest.mark.parametrize(("addresses", "each"), [(1, 130), (20, 50)], ids=["130-from-one-address", "1000-from-20"])
def test_unfinished_bodies_hold_no_slot_another_client_needs(gateway, addresses, each):
    usual = others_are_served(gateway)
    held = unfinished_bodies(gateway, [loopback_address() for _ in range(addresses)], each)
    try:
        time.sleep(0.5)  # every head is in: were they counted, the slots would be full now
        during = others_are_served(gateway, requests=20)
    finally:
        _close(held)
    print(f"\n{addresses * each} unfinished bodies: another client's reads took median "
          f"{statistics.median(during):.1f} ms (usual {statistics.median(usual):.1f} ms)")
    others_are_served(gateway)
