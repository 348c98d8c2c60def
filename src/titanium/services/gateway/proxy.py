"""Forwarding one request to a service: streamed both ways over one pooled client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from multidict import CIMultiDict
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from yarl import URL

from titanium.core.errors import error_response
from titanium.core.logging import get_logger
from titanium.core.metrics import UPSTREAM_ERRORS
from titanium.core.middleware import BodyTooLarge, request_id_of
from titanium.core.tracing import aiohttp_trace_configs, inject_context

log = get_logger(__name__)

# Headers that belong to one connection, never forwarded (RFC 9110, 7.6.1),
# and those the gateway sets itself.
_HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
    "x-request-id",
})
_NOT_RETURNED = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"server", b"date", b"x-request-id"})
# Answers up to this size (most JSON) are read whole and sent at once; larger
# ones, and those of unknown length, are streamed through.
BUFFERED_ANSWER_BYTES = 256 * 1024


def client_address(request: Request, trusted_hops: int) -> str:
    """The caller's address, trusting `trusted_hops` proxies in front of the gateway."""
    peer = request.client.host if request.client else "unknown"
    if trusted_hops <= 0:
        return peer
    chain = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",") if hop.strip()]
    chain.append(peer)
    return chain[max(0, len(chain) - 1 - trusted_hops)]


def _request_headers(request: Request, client: str) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict(
        (name, value) for name, value in request.headers.items() if name not in _HOP_BY_HOP
    )
    # Rewritten, not appended: the services behind trust this one value.
    headers["x-forwarded-for"] = client
    headers["x-forwarded-proto"] = request.url.scheme
    headers["x-forwarded-host"] = request.headers.get("host", "")
    headers["x-request-id"] = request_id_of(request.scope)
    inject_context(headers)
    return headers


_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
# Errors after which no answer came: a kept-alive connection the service
# closed (it restarted, or dropped idle connections) shows as one of these.
_RETRYABLE = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


def upstream_session(connect_timeout: float, read_timeout: float, max_connections: int) -> aiohttp.ClientSession:
    """One pooled session for every forwarded request."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=max_connections, limit_per_host=max_connections, ttl_dns_cache=60),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout, sock_read=read_timeout),
        auto_decompress=False,
        # Cookies belong to the clients, not to the gateway: a jar would keep
        # one client's Set-Cookie and send it along with other clients' requests.
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        trace_configs=aiohttp_trace_configs(),
    )


async def forward(session: aiohttp.ClientSession, request: Request, upstream: str, base_url: str, path: str,
                  client: str) -> Response:
    """The service's answer to `request` from `client` (an address), streamed.

    A JSON 413, 502, 503 or 504 when the service gives none.
    """
    query = request.scope.get("query_string", b"").decode("latin-1")
    url = URL(base_url + path + (f"?{query}" if query else ""), encoded=True)
    headers = _request_headers(request, client)
    body = _LimitedBody(request)
    try:
        answer = await _send(session, request.method, url, headers, body, upstream)
    except (aiohttp.ClientError, TimeoutError, BodyTooLarge) as exc:
        if body.too_large is not None:  # the client's fault, however the sending failed
            return error_response(413, body.too_large.detail)
        return _upstream_failure(upstream, exc)
    # Raw pairs, not a dict: a repeated header (Set-Cookie) must stay repeated.
    answer_headers = [(name, value) for name, value in answer.raw_headers if name.lower() not in _NOT_RETURNED]
    if answer.content_length is not None and answer.content_length <= BUFFERED_ANSWER_BYTES:
        return await _buffered(answer, upstream, answer_headers)
    response = StreamingResponse(_body(answer, upstream), status_code=answer.status,
                                 background=BackgroundTask(_release, answer))
    response.raw_headers.extend(answer_headers)
    return response


async def _buffered(answer: aiohttp.ClientResponse, upstream: str, headers: list[tuple[bytes, bytes]]) -> Response:
    """A small answer read whole and sent in one piece: no streaming task, no chunk loop."""
    try:
        body = await answer.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return _upstream_failure(upstream, exc)
    finally:
        answer.release()
    response = Response(body, status_code=answer.status)
    response.raw_headers = headers  # the service's own, Content-Length included
    return response


async def _send(session: aiohttp.ClientSession, method: str, url: URL, headers: CIMultiDict[str],
                body: _LimitedBody, upstream: str) -> aiohttp.ClientResponse:
    """Send once; an idempotent request once more when a kept-alive connection turns out dead.

    A request that may have been acted on (POST, PATCH, DELETE) is never sent twice.
    """
    attempts = 2 if method in _IDEMPOTENT else 1
    for attempt in range(1, attempts + 1):
        try:
            return await session.request(method, url, headers=headers, allow_redirects=False,
                                         data=body.stream() if body.present else None)
        except _RETRYABLE as exc:
            if isinstance(exc, aiohttp.ClientConnectorError) or attempt == attempts:
                raise
            log.info("retrying an idempotent request on a fresh connection", upstream=upstream, error=repr(exc))
    raise AssertionError("unreachable")


class _LimitedBody:
    """The request body, streamed; remembers when it was refused for its size.

    aiohttp sends the body from a task of its own and reports a failure there
    as a connection error, so the refusal is kept here to be told apart.
    """

    def __init__(self, request: Request) -> None:
        self._request = request
        self.present = request.method not in ("GET", "HEAD", "OPTIONS", "DELETE") or "content-length" in request.headers
        self.too_large: BodyTooLarge | None = None

    async def stream(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._request.stream():
                yield chunk
        except BodyTooLarge as exc:
            self.too_large = exc
            raise


async def _body(answer: aiohttp.ClientResponse, upstream: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in answer.content.iter_any():
            yield chunk
    except (aiohttp.ClientError, TimeoutError) as exc:
        # The status line is gone already; all that is left is to cut the answer short.
        UPSTREAM_ERRORS.labels("gateway", upstream, type(exc).__name__).inc()
        log.warning("upstream failed mid-answer", upstream=upstream, error=repr(exc))
        raise


async def _release(answer: aiohttp.ClientResponse) -> None:
    # async: Starlette runs a plain function as a background task in a worker thread.
    answer.release()


def _upstream_failure(upstream: str, exc: Exception) -> Response:
    reason = type(exc).__name__
    UPSTREAM_ERRORS.labels("gateway", upstream, reason).inc()
    log.warning("upstream failed", upstream=upstream, error=repr(exc))
    if isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)):
        return error_response(503, f"the {upstream} service is unavailable", {"Retry-After": "1"})
    if isinstance(exc, (TimeoutError, aiohttp.ServerTimeoutError)):
        return error_response(504, f"the {upstream} service did not answer in time")
    return error_response(502, f"the {upstream} service gave no valid answer")
