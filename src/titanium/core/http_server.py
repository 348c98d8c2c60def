"""uvicorn's HTTP protocol, with a response's writes sent in one piece and limits on what a connection may cost.

uvicorn writes a response's status line and headers as soon as the app sends
them, and its body a moment later: two sends, and on loopback each costs
the sender the delivery of a packet. They were a third of the gateway's
time. Here the writes made in one turn of the event loop are joined and
sent together at the end of that turn, so a whole answer leaves in one send.

uvicorn also waits forever for a request that does not come (a silent
connection, a head sent a byte at a time, a body shorter than its
Content-Length), takes a head of any size, and answers protocol errors in
plain text. `GuardedHttpToolsProtocol` bounds each of those (`ConnectionLimits`)
and answers in JSON like every other refusal.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

# Past this much waiting, writes go out at once: a body streamed in a loop
# that never yields must not pile up here (nor dodge the transport's flow control).
FLUSH_AT_BYTES = 64 * 1024


class CoalescingTransport:
    """A transport whose writes within one turn of the event loop go out as one."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= FLUSH_AT_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._pending_bytes = 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        # Everything else (is_closing, pause_reading, get_extra_info, ...) is the transport's own.
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a CoalescingTransport (pass it as uvicorn's `http`)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]


@dataclass(frozen=True)
class ConnectionLimits:
    """What one connection may cost a server; 0 turns a limit off."""

    max_head_bytes: int = 32 * 1024  # request line and headers
    head_timeout: float = 10.0  # seconds from the connection (or a request's first byte) to its whole head
    body_timeout: float = 30.0  # seconds from the head to the end of its body
    max_connections_per_client: int = 0  # open connections from one address


class GuardedHttpToolsProtocol(CoalescingHttpToolsProtocol):
    """The coalescing protocol within `limits` (a subclass per server: `guarded_protocol(limits)`)."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()
    # Open connections by client address, shared by every connection of this server.
    open_by_address: ClassVar[Counter[str]] = Counter()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._address = self.client[0] if self.client else ""
        self._deadline: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._reading_head = True
        self._counted = False
        limit = self.limits.max_connections_per_client
        if limit and self.open_by_address[self._address] >= limit:
            self._refuse(429, "too many connections from this address", {b"retry-after": b"1"})
            return
        self.open_by_address[self._address] += 1
        self._counted = True
        self._arm(self.limits.head_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._counted:
            self._counted = False
            self.open_by_address[self._address] -= 1
            if self.open_by_address[self._address] <= 0:
                del self.open_by_address[self._address]
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()  # as uvicorn's own: the connection is in use again
        if self._reading_head:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            return  # no WebSocket here: the request goes on as plain HTTP, as in uvicorn
        except httptools.HttpParserError:
            self._refuse(400, "the request is not valid HTTP/1.1")
            return
        limit = self.limits.max_head_bytes
        # Counted before parsing, so bytes of a body that came with its head
        # count too; a head still incomplete past the limit is too large.
        if self._reading_head and limit and self._head_bytes > limit:
            self._refuse(431, f"the request's line and headers are larger than {limit} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:
            self._arm(self.limits.head_timeout)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        super().on_headers_complete()
        self._arm(self.limits.body_timeout)  # until on_message_complete, at once for a request without a body

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()
        self._reading_head = True
        self._head_bytes = 0

    def _arm(self, seconds: float) -> None:
        self._disarm()
        if seconds:
            self._deadline = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        # Between requests, uvicorn's own keep-alive timeout runs instead.
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._reading_head and not self._head_bytes:
            self.transport.close()  # a connection that never sent a byte gets no answer
            return
        if self.cycle is not None and not self._reading_head:
            if self.cycle.response_started:  # the app answered before the body came: just stop
                self.transport.close()
                return
            self.cycle.disconnected = True  # the app reading the body sees the client gone
            self.cycle.message_event.set()
        self._refuse(408, "the request did not arrive in time")

    def _refuse(self, status: int, detail: str, headers: dict[bytes, bytes] | None = None) -> None:
        """Answer with a JSON refusal and close the connection."""
        body = orjson.dumps({"detail": detail})
        head = [STATUS_LINE[status], b"content-type: application/json\r\n",
                b"content-length: " + str(len(body)).encode() + b"\r\n", b"connection: close\r\n"]
        head += [name + b": " + value + b"\r\n" for name, value in (headers or {}).items()]
        self.transport.write(b"".join([*head, b"\r\n", body]))
        self.transport.close()


def guarded_protocol(limits: ConnectionLimits) -> type[GuardedHttpToolsProtocol]:
    """A protocol class for one server, with its limits and its own count of connections by address."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,),
                {"limits": limits, "open_by_address": Counter()})
