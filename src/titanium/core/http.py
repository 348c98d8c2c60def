"""The HTTP client every service uses to call another: pooled, with short timeouts.

A service run as several processes (`titanium up --replicas`) is named by
a comma-separated list of base URLs; the client then sends each request to
the next process in turn, by the same rules as the gateway
(core/replicas.py): one that cannot be reached is left out until its
readiness probe answers, and a request goes on to the next process when it
never reached the first, or when the connection broke and sending it twice
changes nothing.
"""

from __future__ import annotations

import httpx
from starlette.requests import Request

from titanium.core.middleware import request_id_of
from titanium.core.registry import replica_urls
from titanium.core.replicas import PROBE_TIMEOUT_SECONDS, Failure, ReadyCheck, ReplicaSet, may_send_again
from titanium.core.tracing import trace_httpx, untraced

# The errors that prove the request never left, and those of a connection that broke with the request in it.
_FAILURES: tuple[tuple[tuple[type[Exception], ...], Failure], ...] = (
    ((httpx.ConnectError, httpx.ConnectTimeout), Failure.NOT_SENT),
    ((httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError), Failure.BROKEN),
    ((httpx.TimeoutException,), Failure.TIMEOUT),
)
# A request extension that says a POST is safe to send twice (a credential check, say).
SAFE_TO_RESEND = "titanium.safe_to_resend"


def _failure_of(exc: Exception) -> Failure | None:
    return next((failure for kinds, failure in _FAILURES if isinstance(exc, kinds)), None)


class ReplicaTransport(httpx.AsyncBaseTransport):
    """Sends each request to one of a service's processes, chosen by core/replicas.py.

    Requests for a host that is none of the replicas pass through unchanged.
    """

    def __init__(self, service: str, replicas: list[str], transport: httpx.AsyncBaseTransport) -> None:
        self._transport = transport
        self._set = ReplicaSet(service, replicas, self._readiness_check())
        self._origins = {replica.url: httpx.URL(replica.url) for replica in self._set.replicas}
        self._keys = {_origin_key(origin) for origin in self._origins.values()}
        self._watching = False

    def _readiness_check(self) -> ReadyCheck:
        async def is_ready(url: str) -> bool:
            probe = httpx.Request("GET", url, extensions={"timeout": httpx.Timeout(PROBE_TIMEOUT_SECONDS).as_dict()})
            with untraced():
                try:
                    answer = await self._transport.handle_async_request(probe)
                    await answer.aclose()
                except httpx.HTTPError:
                    return False
            return answer.status_code == 200

        return is_ready

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if _origin_key(request.url) not in self._keys:
            return await self._transport.handle_async_request(request)
        if not self._watching:  # from the first request, when there is an event loop to watch from
            self._watching = True
            self._set.watch()
        candidates = self._set.candidates()
        marked_safe = bool(request.extensions.get(SAFE_TO_RESEND))
        for attempt, replica in enumerate(candidates):
            _send_to(request, self._origins[replica.url])
            try:
                return await self._transport.handle_async_request(request)
            except httpx.TransportError as exc:
                failure = _failure_of(exc)
                if failure is not None and failure is not Failure.BROKEN:
                    self._set.take_out(replica, type(exc).__name__)
                last = attempt == len(candidates) - 1
                if last or failure is None or not may_send_again(failure, request.method, marked_safe=marked_safe):
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def aclose(self) -> None:
        await self._set.close()
        await self._transport.aclose()


def _origin_key(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _send_to(request: httpx.Request, origin: httpx.URL) -> None:
    request.url = request.url.copy_with(scheme=origin.scheme, host=origin.host, port=origin.port)
    request.headers["Host"] = origin.netloc.decode("ascii")


def http_client(connect_timeout: float, read_timeout: float, *, max_connections: int = 200,
                base_url: str = "", service: str = "") -> httpx.AsyncClient:
    """The pooled client; `base_url` names the one service it calls (`service`), as TITANIUM_<SERVICE>_URL
    does: one URL, or one per process, comma-separated (requests then go to each in turn)."""
    replicas = replica_urls(base_url)
    pooled = httpx.AsyncHTTPTransport(
        # With several processes, a failed connection goes to the next one at
        # once rather than to the same one again after a pause.
        retries=0 if len(replicas) > 1 else 2,
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections // 2),
    )
    transport: httpx.AsyncBaseTransport = (ReplicaTransport(service or base_url, replicas, pooled)
                                           if len(replicas) > 1 else pooled)
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout)
    client = httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False,
                               base_url=replicas[0] if replicas else "")
    trace_httpx(client)  # a client span, and the trace context passed on
    return client


def propagated_headers(request: Request) -> dict[str, str]:
    """What a call made on behalf of `request` carries along: its request id."""
    return {"x-request-id": request_id_of(request.scope)}
