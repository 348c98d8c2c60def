"""What one client's connections may cost the gateway: silent, slow, oversized and too many are cut off; others are served."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from tests.platform.harness import Platform, Platforms, loopback_address

# Short enough for a test, the same mechanism as the defaults (10 s, 30 s, 32 KiB, 256 at the gateway).
LIMITS = {
    "TITANIUM_HEAD_TIMEOUT": "1.0",
    "TITANIUM_BODY_TIMEOUT": "1.0",
    "TITANIUM_MAX_HEAD_BYTES": "8192",
    "TITANIUM_MAX_CONNECTIONS_PER_CLIENT": "20",
    "TITANIUM_RATE_LIMIT_PER_ADDRESS": "100000/minute",
}
# Well past every limit above: a connection still open after this was never cut off.
WAIT_SECONDS = 15


@pytest.fixture(scope="module")
def gateway(platforms: Platforms) -> Platform:
    return platforms.shared(env=LIMITS)


def connect(platform: Platform, address: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", platform.base_port), timeout=WAIT_SECONDS,
                                    source_address=(address, 0))
    return sock


def answer_then_close(sock: socket.socket) -> bytes:
    """Everything the server sent until it closed the connection (a timeout here fails the test)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def json_refusal(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"content-type: application/json" in head.lower()
    return status, json.loads(body)


def served(platform: Platform, address: str) -> bool:
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(base_url=platform.url, transport=transport, timeout=5) as client:
        return client.get("/blog/api/categories").status_code == 200


def test_a_silent_connection_is_closed_without_an_answer(gateway):
    silent = connect(gateway)
    assert served(gateway, loopback_address())
    assert answer_then_close(silent) == b""


def test_a_head_sent_a_byte_at_a_time_is_cut_off_with_408(gateway):
    slow = connect(gateway)
    slow.sendall(b"GET /blog/api/categories HTTP/1.1\r\nHost: titanium\r\n")
    slow.sendall(b"X-Slow: ")  # and never the rest
    assert served(gateway, loopback_address())
    status, body = json_refusal(answer_then_close(slow))
    assert status == 408 and body["detail"] == "the request did not arrive in time"


def test_a_body_shorter_than_its_content_length_is_cut_off_with_408(gateway):
    short = connect(gateway)
    short.sendall(b"POST /api/login HTTP/1.1\r\nHost: titanium\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{\"username\":")
    assert served(gateway, loopback_address())
    status, _ = json_refusal(answer_then_close(short))
    assert status == 408


def test_an_oversized_head_gets_431_before_it_is_read_whole(gateway):
    big = connect(gateway)
    big.sendall(b"GET /blog/api/categories HTTP/1.1\r\nHost: titanium\r\nX-Big: ")
    sent = 0
    try:
        while sent < 50 * 1024 * 1024:  # 50 MB on offer; the server stops reading long before
            big.sendall(b"a" * 65536)
            sent += 65536
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed on us: the refusal may already be lost with the reset
    else:
        status, body = json_refusal(answer_then_close(big))
        assert status == 431 and "8192 bytes" in body["detail"]
    assert sent < 5 * 1024 * 1024, "the server read far past its limit"
    assert served(gateway, loopback_address())


def test_a_request_that_is_not_http_gets_a_json_400(gateway):
    garbage = connect(gateway)
    garbage.sendall(b"\x16\x03\x01 this is not HTTP\r\n\r\n")
    status, body = json_refusal(answer_then_close(garbage))
    assert status == 400 and body["detail"] == "the request is not valid HTTP/1.1"


def test_one_address_cannot_hold_every_connection(gateway):
    address = loopback_address()
    held = [connect(gateway, address) for _ in range(20)]
    try:
        extra = connect(gateway, address)
        status, body = json_refusal(answer_then_close(extra))
        assert status == 429 and body["detail"] == "too many connections from this address"
        assert served(gateway, loopback_address()), "another address is served"
    finally:
        for sock in held:
            sock.close()
    assert served(gateway, address), "the address is served again once its connections are closed"
