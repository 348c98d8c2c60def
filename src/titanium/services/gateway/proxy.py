"""Forwarding one request to a service over one pooled client, as plain ASGI.

The gateway is on the path of every request, so this speaks ASGI directly:
no request or response objects, the answer sent as the two messages it is
(or streamed when it is large or of unknown length), the headers passed as
the raw pairs they arrive in.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
from collections.abc import Awaitable

import aiohttp
from multidict import CIMultiDict
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from yarl import URL

from titanium.core.client_address import header
from titanium.core.errors import error_response
from titanium.core.logging import get_logger
from titanium.core.metrics import UPSTREAM_ERRORS, failure_reason
from titanium.core.middleware import ROUTE_HEADER, RouteLabel, request_id_of
from titanium.core.replicas import PROBE_TIMEOUT_SECONDS, Failure, ReadyCheck, Replica, ReplicaSet, may_send_again
from titanium.core.tracing import aiohttp_trace_configs, inject_context, untraced

log = get_logger(__name__)

# Headers that belong to one connection, never forwarded (RFC 9110, 7.6.1),
# and those the gateway sets itself.
_HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te", b"trailer",
    b"transfer-encoding", b"upgrade", b"host", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host",
    b"x-request-id",
})
_NOT_RETURNED = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"server", b"date", b"x-request-id",
                           b"x-trace-id", ROUTE_HEADER})
# Answers up to this size (most JSON) are read whole and sent at once; larger
# ones, and those of unknown length, are streamed through.
BUFFERED_ANSWER_BYTES = 256 * 1024
IDEMPOTENCY_KEY = b"idempotency-key"
# Errors after which no answer came: a kept-alive connection the service
# closed (it restarted, or dropped idle connections) shows as one of these,
# by when the close was seen (the write finding the transport closing, a
# reset, or the end of the stream before an answer).
_BROKEN_CONNECTION = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientConnectionResetError)
# Errors before the request left: no connection was made.
_NEVER_REACHED = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)


class RouteLabels:
    """The labels of one public route's figures: the templates its service names on its answers.

    The service that owns a route declares it, once: each of its answers
    carries the route's template (core/middleware.py ROUTE_HEADER), taken
    here as the label. They are as few as the service's routes; should a
    service ever send more than MAX_LABELS, the others get the public
    route's own label, so a bug there cannot flood the figures.
    """

    MAX_LABELS = 200

    def __init__(self, fallback: str) -> None:
        self.fallback = RouteLabel(fallback)
        self._labels: dict[bytes, RouteLabel] = {}

    def of(self, template: bytes | None) -> RouteLabel:
        if template is None:
            return self.fallback
        label = self._labels.get(template)
        if label is None:
            if len(self._labels) >= self.MAX_LABELS:
                return self.fallback
            label = self._labels[template] = RouteLabel(template.decode("latin-1"))
        return label


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


async def forward(session: aiohttp.ClientSession, scope: Scope, receive: Receive, send: Send, upstream: ReplicaSet,
                  path_and_query: str, client: str, labels: RouteLabels, *, safe_to_resend: bool = False,
                  honours_idempotency_key: bool = False) -> None:
    """Send the answer of one of `upstream`'s processes at `path_and_query` (encoded) to the request from `client`.

    `safe_to_resend`: the route's writes change nothing when answered twice;
    `honours_idempotency_key`: the service does a write with a key once.
    The request's figures are labelled with the service's own route (`labels`).

    A JSON 502, 503 or 504 when the service gives none.
    """
    body = await _whole_body(receive)  # read already, within its limit, by the request middleware
    keyed = honours_idempotency_key and header(scope, IDEMPOTENCY_KEY) is not None
    try:
        answer = await _send(session, scope["method"], upstream, path_and_query, _request_headers(scope, client), body,
                             marked_safe=safe_to_resend, keyed=keyed)
    except (aiohttp.ClientError, TimeoutError) as exc:
        await _upstream_failure(scope, upstream.service, exc)(scope, receive, send)
        return
    try:
        # Raw pairs, not a dict: a repeated header (Set-Cookie) must stay repeated.
        headers, route = [], None
        for name, value in answer.raw_headers:
            lowered = name.lower()
            if lowered == ROUTE_HEADER:
                route = value
            elif lowered not in _NOT_RETURNED:
                headers.append((lowered, value))
        scope["route"] = labels.of(route)
        if answer.content_length is not None and answer.content_length <= BUFFERED_ANSWER_BYTES:
            await _send_whole(answer, upstream.service, headers, scope, receive, send)
        else:
            await _stream(answer, upstream.service, headers, send)
    finally:
        answer.release()


async def _send(session: aiohttp.ClientSession, method: str, upstream: ReplicaSet, path_and_query: str,
                headers: CIMultiDict[str], body: bytes | None, *, marked_safe: bool,
                keyed: bool) -> aiohttp.ClientResponse:
    """Send to one process of the service, and to another when core/replicas.py's rule allows.

    A process that refuses the connection or does not answer in time is
    taken out of service. While a request that may be sent again waits on a
    process that leaves the service meanwhile (its readiness probe failed:
    frozen, overloaded), it is sent to another instead of waiting out the
    read time-out.
    """
    candidates = upstream.candidates()
    attempt, resent_after_break = 0, False
    while True:
        replica = candidates[attempt % len(candidates)]
        url = URL(replica.url + path_and_query, encoded=True)
        try:
            if (replica.in_service and attempt + 1 < len(candidates)
                    and may_send_again(Failure.BROKEN, method, marked_safe=marked_safe, keyed=keyed)):
                answer = await _unless_it_leaves(session.request(method, url, headers=headers, allow_redirects=False,
                                                                 data=body), replica)
                if answer is not None:
                    return answer
                log.info("sending again: the process left the service", upstream=upstream.service)
                attempt += 1
                continue
            return await session.request(method, url, headers=headers, allow_redirects=False, data=body)
        except (*_NEVER_REACHED, *_BROKEN_CONNECTION, TimeoutError) as exc:
            failure = _failure_of(exc)
            if not may_send_again(failure, method, marked_safe=marked_safe, keyed=keyed):
                if failure is Failure.TIMEOUT:
                    upstream.take_out(replica, "timeout")
                raise
            if failure is Failure.NOT_SENT:
                upstream.take_out(replica, type(exc).__name__)
                if attempt + 1 >= len(candidates):
                    raise
            elif resent_after_break:  # broken twice: not a closed kept-alive connection
                raise
            else:
                # A kept-alive connection the process closed (it restarted): once more, to the next in turn.
                resent_after_break = True
            attempt += 1
            log.info("sending again", upstream=upstream.service, error=repr(exc))


async def _unless_it_leaves(request: Awaitable[aiohttp.ClientResponse],
                            replica: Replica) -> aiohttp.ClientResponse | None:
    """The answer, or None when the process leaves the service before it answers (the request is cancelled)."""
    sending = asyncio.ensure_future(request)
    leaving = asyncio.ensure_future(replica.left_service.wait())
    try:
        await asyncio.wait((sending, leaving), return_when=asyncio.FIRST_COMPLETED)
    finally:
        leaving.cancel()
    if sending.done():
        return sending.result()
    sending.cancel()
    return None


def _failure_of(exc: BaseException) -> Failure:
    if isinstance(exc, _NEVER_REACHED):
        return Failure.NOT_SENT
    if isinstance(exc, _BROKEN_CONNECTION):
        return Failure.BROKEN
    return Failure.TIMEOUT


def readiness_check(session: aiohttp.ClientSession) -> ReadyCheck:
    """Whether a process answers its readiness probe with a 200 in time (an untraced call)."""
    timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT_SECONDS)

    async def is_ready(url: str) -> bool:
        with untraced():
            try:
                async with session.get(url, timeout=timeout) as answer:
                    return answer.status == 200
            except (aiohttp.ClientError, TimeoutError):
                return False

    return is_ready


async def _whole_body(receive: Receive) -> bytes | None:
    """The request's body as the request middleware replays it: in one message (None when there is none)."""
    message = await receive()
    return message.get("body") or None if message["type"] == "http.request" else None


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
        UPSTREAM_ERRORS.labels("gateway", upstream, failure_reason(exc)).inc()
        log.warning("upstream failed mid-answer", upstream=upstream, error=repr(exc))
        raise
    await send({"type": "http.response.body", "body": b""})


def _upstream_failure(scope: Scope, upstream: str, exc: Exception) -> Response:
    """The 503, 504 or 502 for a service that gave no answer: a page for a browser's page request, else JSON."""
    UPSTREAM_ERRORS.labels("gateway", upstream, failure_reason(exc)).inc()
    log.warning("upstream failed", upstream=upstream, error=repr(exc))
    if isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)):
        status, detail, headers = 503, f"the {upstream} service is unavailable", {"Retry-After": "1"}
    elif isinstance(exc, (TimeoutError, aiohttp.ServerTimeoutError)):
        status, detail, headers = 504, f"the {upstream} service did not answer in time", {}
    else:
        status, detail, headers = 502, f"the {upstream} service gave no valid answer", {}
    if _wants_a_page(scope):
        return _failure_page(scope, upstream, status, detail, headers)
    return error_response(status, detail, headers)


def _failure_page(scope: Scope, upstream: str, status: int, detail: str, headers: dict[str, str]) -> Response:
    body = _FAILURE_PAGE.format(
        style=_FAILURE_STYLE, detail=html.escape(detail.capitalize()), name=html.escape(upstream),
        detail_ko=_FAILURE_WORDS[status], again=html.escape(_path_and_query(scope), quote=True), status=status)
    return HTMLResponse(body, status_code=status,
                        headers={**headers, "Cache-Control": "no-store", "Content-Security-Policy": _FAILURE_CSP})


def _wants_a_page(scope: Scope) -> bool:
    """A browser asking for a page (it accepts HTML), not a script or client calling an API."""
    return (scope["method"] in ("GET", "HEAD") and "/api/" not in scope["path"]
            and "text/html" in (header(scope, b"accept") or ""))


def _path_and_query(scope: Scope) -> str:
    query = scope.get("query_string", b"").decode("latin-1")
    return scope["path"] + (f"?{query}" if query else "")


# Nothing from the service that is down, and no script: plain, readable, with
# the way back, in English and in Korean (the blog's two languages; the
# gateway does not know which one the reader chose). Its one style block is
# allowed by its hash in the page's own Content-Security-Policy, which
# allows nothing else.
_FAILURE_STYLE = """
:root { color-scheme: light dark; --page: #f8fafc; --card: #ffffff; --text: #1e293b; --muted: #475569;
  --link: #1d4ed8; --border: #e2e8f0; --accent: #b45309; }
@media (prefers-color-scheme: dark) {
  :root { --page: #0b1120; --card: #162033; --text: #e2e8f0; --muted: #a3b1c6; --link: #93c5fd; --border: #2c3a52;
    --accent: #fbbf24; }
}
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: grid; place-items: center; padding: 1rem; background: var(--page);
  color: var(--text); line-height: 1.55;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Apple SD Gothic Neo", "Noto Sans KR", "NanumGothic", sans-serif; }
main { max-width: 36rem; width: 100%; background: var(--card); border: 1px solid var(--border);
  border-top: 4px solid var(--accent); border-radius: .5rem; padding: 1.2rem 1.5rem; }
h1 { font-size: 1.5rem; line-height: 1.25; margin: 0 0 .8rem; }
h2 { font-size: 1.15rem; line-height: 1.3; margin: 0 0 .5rem; }
section { border-top: 1px solid var(--border); margin-top: 1.2rem; padding-top: 1rem; }
section:lang(ko) { word-break: keep-all; }
p { margin: .5rem 0; }
.status { color: var(--muted); font-size: .95rem; }
a { color: var(--link); text-underline-offset: .15em; }
a:focus-visible { outline: 3px solid var(--link); outline-offset: 2px; }
"""
_FAILURE_CSP = ("default-src 'none'; style-src 'sha256-"
                + base64.b64encode(hashlib.sha256(_FAILURE_STYLE.encode()).digest()).decode()
                + "'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
_FAILURE_WORDS = {  # the Korean of each detail
    503: "서비스가 잠시 응답할 수 없습니다",
    504: "서비스가 제시간에 응답하지 않았습니다",
    502: "서비스가 올바른 응답을 주지 않았습니다",
}
_FAILURE_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Temporarily unavailable · 잠시 이용할 수 없음</title>
<style>{style}</style>
</head>
<body>
<main>
<h1>This page is unavailable for a moment</h1>
<p>{detail}. Nothing you did caused it, and nothing was lost.</p>
<p><a href="{again}">Try again</a> in a few seconds, or see the <a href="/">platform status</a>.</p>
<section lang="ko">
<h2>이 페이지를 잠시 열 수 없습니다</h2>
<p>{name} {detail_ko}. 여러분 때문에 생긴 일이 아니며, 잃어버린 것은 없습니다.</p>
<p>몇 초 뒤 <a href="{again}">다시 시도</a>하거나 <a href="/">플랫폼 상태</a>를 확인하세요.</p>
</section>
<p class="status">HTTP {status}</p>
</main>
</body>
</html>
"""
