import asyncio

from titanium.core.http_server import FLUSH_AT_BYTES, CoalescingTransport


class RecordingTransport(asyncio.Transport):
    """What reached the socket, one entry a send."""

    def __init__(self) -> None:
        super().__init__()
        self.sends: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sends.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name, default=None):
        return ("127.0.0.1", 8000) if name == "peername" else default


async def test_the_writes_of_one_turn_leave_in_one_send():
    recording = RecordingTransport()
    transport = CoalescingTransport(recording, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    transport.write(b"ok")
    assert recording.sends == [], "nothing is sent before the turn ends"
    await asyncio.sleep(0)
    assert recording.sends == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]
    transport.write(b"next")
    await asyncio.sleep(0)
    assert recording.sends[1:] == [b"next"]


async def test_closing_sends_what_is_pending_first():
    recording = RecordingTransport()
    transport = CoalescingTransport(recording, asyncio.get_running_loop())
    transport.write(b"last words")
    transport.close()
    assert recording.sends == [b"last words"] and recording.closed
    await asyncio.sleep(0)
    assert recording.sends == [b"last words"], "and nothing twice"


async def test_nothing_is_written_to_a_closed_connection_and_the_rest_is_the_transports():
    recording = RecordingTransport()
    transport = CoalescingTransport(recording, asyncio.get_running_loop())
    transport.write(b"too late")
    recording.closed = True  # the client went away meanwhile
    await asyncio.sleep(0)
    assert recording.sends == []
    assert transport.get_extra_info("peername") == ("127.0.0.1", 8000)


async def test_a_large_body_is_not_held_back():
    recording = RecordingTransport()
    transport = CoalescingTransport(recording, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    for _ in range(4):
        transport.write(b"x" * (FLUSH_AT_BYTES // 2))
    assert len(recording.sends) == 2, "sent as the chunks come, before the turn ends"
    assert sum(map(len, recording.sends)) == len(b"HTTP/1.1 200 OK\r\n\r\n") + 2 * FLUSH_AT_BYTES


async def slow_or_fast(scope, receive, send):
    """A bare ASGI app: /slow answers after 1.5 s, anything else at once."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":
        await asyncio.sleep(1.5)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def test_a_request_on_a_kept_alive_connection_is_not_cut_by_the_idle_timeout():
    import uvicorn

    from titanium.core.http_server import ConnectionLimits, guarded_protocol

    config = uvicorn.Config(slow_or_fast, host="127.0.0.1", port=0, http=guarded_protocol(ConnectionLimits()),
                            timeout_keep_alive=1, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn gives no event to wait on
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /fast HTTP/1.1\r\nHost: t\r\n\r\n")
        assert (await reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200")
        # The idle timeout (1 s) started with that answer; this request outlives it while being answered.
        writer.write(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        assert (await asyncio.wait_for(reader.readuntil(b"ok"), 10)).startswith(b"HTTP/1.1 200")
    finally:
        writer.close()
        server.should_exit = True
        await serving
