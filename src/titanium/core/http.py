"""The HTTP client every service uses to call another: pooled, with short timeouts.

httpx's transport retries only failed connection attempts (the request was
never sent), which is safe for any method; nothing is re-sent after it left.

A service run as several processes (`titanium up --replicas`) is named by
a comma-separated list of base URLs; the client then sends each request to
the next process in turn, and one that cannot be reached to the one after.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence

import httpx
from starlette.requests import Request

from titanium.core.middleware import request_id_of
from titanium.core.topology import replica_urls
from titanium.core.tracing import trace_httpx

# The errors that prove the request never left: it is safe to send it to another process, whatever its method.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
# The errors of a connection that broke with the request in it (the process
# died): safe to send again only when answering it twice changes nothing.
BROKEN = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
# A request extension that says so of a POST (a credential check, say).
SAFE_TO_RESEND = "titanium.safe_to_resend"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ReplicaTransport(httpx.AsyncBaseTransport):
    """Sends each request to the next of a service's processes (round robin), and on to the
    following one when the connection cannot be made, or when it broke and the request is
    safe to send twice (GET, HEAD, OPTIONS, or marked `SAFE_TO_RESEND`); any other error is
    the caller's.

    Requests for a host that is none of the replicas pass through unchanged. A
    process that refused a connection is tried last for `rest_seconds`, so a
    dead one does not cost every other request a failed attempt.
    """

    def __init__(self, replicas: Sequence[str], transport: httpx.AsyncBaseTransport, *,
                 rest_seconds: float = 2.0) -> None:
        if not replicas:
            raise ValueError("a replica transport needs at least one replica")
        self._origins = [httpx.URL(url) for url in replicas]
        self._keys = {_origin_key(url) for url in self._origins}
        self._transport = transport
        self._rest_seconds = rest_seconds
        self._turn = itertools.count()
        self._resting_until = [0.0] * len(self._origins)

    def _order(self) -> list[int]:
        """The replicas to try, this request's turn first; resting ones after the others."""
        count = len(self._origins)
        start = next(self._turn) % count
        turns = [(start + step) % count for step in range(count)]
        now = time.monotonic()
        return sorted(turns, key=lambda index: self._resting_until[index] > now)  # stable: keeps the turn order

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if _origin_key(request.url) not in self._keys:
            return await self._transport.handle_async_request(request)
        order = self._order()
        resendable = request.method in _SAFE_METHODS or bool(request.extensions.get(SAFE_TO_RESEND))
        for attempt, index in enumerate(order):
            _send_to(request, self._origins[index])
            try:
                return await self._transport.handle_async_request(request)
            except NOT_SENT:
                self._resting_until[index] = time.monotonic() + self._rest_seconds
                if attempt == len(order) - 1:
                    raise
            except BROKEN:
                if not resendable or attempt == len(order) - 1:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def aclose(self) -> None:
        await self._transport.aclose()


def _origin_key(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _send_to(request: httpx.Request, origin: httpx.URL) -> None:
    request.url = request.url.copy_with(scheme=origin.scheme, host=origin.host, port=origin.port)
    request.headers["Host"] = origin.netloc.decode("ascii")


def http_client(connect_timeout: float, read_timeout: float, *, max_connections: int = 200,
                base_url: str = "") -> httpx.AsyncClient:
    """The pooled client; `base_url` names the one service it calls, as TITANIUM_<SERVICE>_URL
    does: one URL, or one per process, comma-separated (requests then go to each in turn)."""
    replicas = replica_urls(base_url)
    pooled = httpx.AsyncHTTPTransport(
        # With several processes, a failed connection goes to the next one at
        # once rather than to the same one again after a pause.
        retries=0 if len(replicas) > 1 else 2,
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections // 2),
    )
    transport: httpx.AsyncBaseTransport = ReplicaTransport(replicas, pooled) if len(replicas) > 1 else pooled
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout)
    client = httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False,
                               base_url=replicas[0] if replicas else "")
    trace_httpx(client)  # a client span, and the trace context passed on
    return client


def caller_address(request: Request) -> str:
    """The address of the client a request came from: the hop the gateway added, or the peer itself.

    The gateway rewrites X-Forwarded-For to the one address it believes
    (proxy.py), so behind it the last hop is the client's.
    """
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.rsplit(",", 1)[-1].strip()
    return request.client.host if request.client else "unknown"


def propagated_headers(request: Request) -> dict[str, str]:
    """What a call made on behalf of `request` carries along: its request id."""
    return {"x-request-id": request_id_of(request.scope)}
