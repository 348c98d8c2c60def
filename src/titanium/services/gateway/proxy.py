"""Forwarding one request to a service over one pooled client, as plain ASGI.

The gateway is on the path of every request, so this speaks ASGI directly:
no request or response objects, the answer sent as the two messages it is
(or streamed when it is large or of unknown length), the headers passed as
the raw pairs they arrive in.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator

import aiohttp
from multidict import CIMultiDict
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
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
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te", b"trailer",
    b"transfer-encoding", b"upgrade", b"host", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host",
    b"x-request-id",
})
_NOT_RETURNED = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"server", b"date", b"x-request-id"})
# Answers up to this size (most JSON) are read whole and sent at once; larger
# ones, and those of unknown length, are streamed through.
BUFFERED_ANSWER_BYTES = 256 * 1024
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
_WITHOUT_BODY = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
# Errors after which no answer came: a kept-alive connection the service
# closed (it restarted, or dropped idle connections) shows as one of these.
_RETRYABLE = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of the request header `name` (lower case), if sent."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def client_address(scope: Scope, trusted_hops: int) -> str:
    """The caller's address, trusting `trusted_hops` proxies in front of the gateway."""
    peer = scope["client"][0] if scope.get("client") else "unknown"
    if trusted_hops <= 0:
        return peer
    chain = [hop.strip() for hop in (header(scope, b"x-forwarded-for") or "").split(",") if hop.strip()]
    chain.append(peer)
    return chain[max(0, len(chain) - 1 - trusted_hops)]


def _request_headers(scope: Scope, client: str) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict(
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"] if name not in _HOP_BY_HOP
    )
    # Rewritten, not appended: the services behind trust this one value.
    headers["x-forwarded-for"] = client
    headers["x-forwarded-proto"] = scope["scheme"]
    headers["x-forwarded-host"] = header(scope, b"host") or ""
    headers["x-request-id"] = request_id_of(scope)
    inject_context(headers)
    return headers


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


async def forward(session: aiohttp.ClientSession, scope: Scope, receive: Receive, send: Send, upstream: str,
                  url: str, client: str) -> None:
    """Send the service's answer at `url` (path and query, encoded) to the request from `client`.

    A JSON 413, 502, 503 or 504 when the service gives none.
    """
    body = _LimitedBody(scope, receive)
    try:
        answer = await _send(session, scope["method"], URL(url, encoded=True), _request_headers(scope, client), body,
                             upstream)
    except (aiohttp.ClientError, TimeoutError, BodyTooLarge) as exc:
        if body.too_large is not None:  # the client's fault, however the sending failed
            await error_response(413, body.too_large.detail)(scope, receive, send)
        else:
            await _upstream_failure(scope, upstream, exc)(scope, receive, send)
        return
    try:
        # Raw pairs, not a dict: a repeated header (Set-Cookie) must stay repeated.
        headers = [(name.lower(), value) for name, value in answer.raw_headers if name.lower() not in _NOT_RETURNED]
        if answer.content_length is not None and answer.content_length <= BUFFERED_ANSWER_BYTES:
            await _send_whole(answer, upstream, headers, scope, receive, send)
        else:
            await _stream(answer, upstream, headers, send)
    finally:
        answer.release()


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

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self._receive = receive
        self.present = scope["method"] not in _WITHOUT_BODY or header(scope, b"content-length") is not None
        self.too_large: BodyTooLarge | None = None

    async def stream(self) -> AsyncIterator[bytes]:
        try:
            while True:
                message = await self._receive()
                if message["type"] == "http.disconnect":
                    return
                if chunk := message.get("body", b""):
                    yield chunk
                if not message.get("more_body", False):
                    return
        except BodyTooLarge as exc:
            self.too_large = exc
            raise


async def _send_whole(answer: aiohttp.ClientResponse, upstream: str, headers: list[tuple[bytes, bytes]],
                      scope: Scope, receive: Receive, send: Send) -> None:
    """A small answer read whole and sent in one piece: no chunk loop."""
    try:
        body = await answer.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        await _upstream_failure(scope, upstream, exc)(scope, receive, send)
        return
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _stream(answer: aiohttp.ClientResponse, upstream: str, headers: list[tuple[bytes, bytes]], send: Send) -> None:
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    try:
        async for chunk in answer.content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except (aiohttp.ClientError, TimeoutError) as exc:
        # The status line is gone already; all that is left is to cut the answer short.
        UPSTREAM_ERRORS.labels("gateway", upstream, type(exc).__name__).inc()
        log.warning("upstream failed mid-answer", upstream=upstream, error=repr(exc))
        raise
    await send({"type": "http.response.body", "body": b""})


def _upstream_failure(scope: Scope, upstream: str, exc: Exception) -> Response:
    """The 503, 504 or 502 for a service that gave no answer: a page for a browser's page request, else JSON."""
    reason = type(exc).__name__
    UPSTREAM_ERRORS.labels("gateway", upstream, reason).inc()
    log.warning("upstream failed", upstream=upstream, error=repr(exc))
    if isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)):
        status, detail, headers = 503, f"the {upstream} service is unavailable", {"Retry-After": "1"}
    elif isinstance(exc, (TimeoutError, aiohttp.ServerTimeoutError)):
        status, detail, headers = 504, f"the {upstream} service did not answer in time", {}
    else:
        status, detail, headers = 502, f"the {upstream} service gave no valid answer", {}
    if _wants_a_page(scope):
        return HTMLResponse(_FAILURE_PAGE.format(detail=html.escape(detail.capitalize()),
                                                 again=html.escape(_path_and_query(scope), quote=True)),
                            status_code=status, headers={**headers, "Cache-Control": "no-store"})
    return error_response(status, detail, headers)


def _wants_a_page(scope: Scope) -> bool:
    """A browser asking for a page (it accepts HTML), not a script or client calling an API."""
    return (scope["method"] in ("GET", "HEAD") and "/api/" not in scope["path"]
            and "text/html" in (header(scope, b"accept") or ""))


def _path_and_query(scope: Scope) -> str:
    query = scope.get("query_string", b"").decode("latin-1")
    return scope["path"] + (f"?{query}" if query else "")


# No style or script of its own (the CSP allows neither inline), nothing from
# the service that is down: plain, readable, with the way back.
_FAILURE_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Titanium: temporarily unavailable</title></head>
<body>
<main>
<h1>This page is unavailable for a moment</h1>
<p>{detail}. Nothing you did caused it, and nothing was lost.</p>
<p><a href="{again}">Try again</a> in a few seconds, or see the <a href="/">platform status</a>.</p>
</main>
</body>
</html>
"""
