"""The gateway's resend rule applied to the errors aiohttp raises for a kept-alive connection the process closed.

A killed process leaves the gateway's pooled connections to it dead. Whichever
of these errors a request meets on one (the peer's close seen before the write,
during it, or as a reset), it is the same failure: no answer came, and the
request may have left. A read goes to the next process; a plain write does
not (core/replicas.py decides); none of them is a 502 for a read.
"""

from __future__ import annotations

import aiohttp
import pytest
from multidict import CIMultiDict

from titanium.core.replicas import ReplicaSet
from titanium.services.gateway.proxy import _send

BROKEN_CONNECTIONS = [
    aiohttp.ServerDisconnectedError(),
    aiohttp.ClientOSError(104, "Connection reset by peer"),
    # Seen in CI when a blog process was killed under load: the write found the transport closing.
    aiohttp.ClientConnectionResetError("Cannot write to closing transport"),
]


class FirstRequestBreaks:
    """A session whose first request fails with `error`; the others are answered by the process they went to."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.sent_to: list[str] = []

    def request(self, method: str, url, **_options):
        self.sent_to.append(url.host)

        async def answer() -> str:
            if len(self.sent_to) == 1:
                raise self.error
            return f"{method} answered by {url.host}"

        return answer()


async def always_ready(_url: str) -> bool:
    return True


async def send(session: FirstRequestBreaks, method: str) -> str:
    upstream = ReplicaSet("blog", ["http://a", "http://b"], always_ready)
    try:
        return await _send(session, method, upstream, "/blog/api/posts", CIMultiDict(), None,  # type: ignore[arg-type]
                           marked_safe=False, keyed=False)
    finally:
        await upstream.close()


@pytest.mark.parametrize("error", BROKEN_CONNECTIONS, ids=lambda error: type(error).__name__)
async def test_a_read_on_a_connection_the_process_closed_is_answered_by_the_next_process(error):
    session = FirstRequestBreaks(error)
    assert await send(session, "GET") == "GET answered by b"
    assert session.sent_to == ["a", "b"]


@pytest.mark.parametrize("error", BROKEN_CONNECTIONS, ids=lambda error: type(error).__name__)
async def test_a_plain_write_on_a_connection_the_process_closed_is_not_sent_again(error):
    session = FirstRequestBreaks(error)
    with pytest.raises(type(error)):
        await send(session, "POST")
    assert session.sent_to == ["a"], "it may have been done: the client decides (its Idempotency-Key)"
