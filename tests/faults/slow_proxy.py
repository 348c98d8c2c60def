"""A TCP proxy of the test's own in front of a real server, delaying every reply by as long as the test says."""

from __future__ import annotations

import asyncio
import threading

from tests.platform.harness import free_port_block


class SlowProxy:
    """Forwards 127.0.0.1:`port` to `upstream`; each chunk the server sends waits `delay` seconds first."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port_block(1)
        self.delay = 0.0
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> SlowProxy:
        self._thread.start()
        self._started.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(asyncio.start_server(self._connection, "127.0.0.1", self.port))
        self._started.set()
        self._loop.run_forever()

    async def _connection(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        await asyncio.gather(self._pipe(client_reader, server_writer, slow=False),
                             self._pipe(server_reader, client_writer, slow=True), return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, slow: bool) -> None:
        try:
            while chunk := await reader.read(65536):
                if slow and self.delay:
                    await asyncio.sleep(self.delay)
                writer.write(chunk)
                await writer.drain()
        finally:
            writer.close()
