"""The ASGI middleware every service runs: request and trace ids, body limit, load shedding, metrics, access log.

Written as plain ASGI so that the FastAPI services and the Starlette gateway
share it, and so that response bodies stream through untouched.

A request counts as in flight once the whole of it has arrived: its body is
read here first (within the body limit and the connection's body timeout,
core/http_server.py), so a client that sends a body slowly, or never
finishes it, holds only its own connection, never one of the slots every
other client needs. It leaves the count when its answer is complete on our
side, not when a slow client has read it.

Each answer of a service carries the template of the route that took it
(`x-titanium-route`): the gateway labels its own figures for a forwarded
request with it, so a route template is written once, in its service.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from titanium.core import tracing
from titanium.core.accesslog import AccessLog
from titanium.core.metrics import Outcome, RequestMetrics, declare_service
from titanium.core.paths import LARGE_BODY_PATHS, OPERATIONAL_PATHS

REQUEST_ID_HEADER = "x-request-id"
# The request's trace id on every answer, so that whoever holds an answer can
# find its trace, its log lines and its exemplars. At the gateway it is the
# gateway's, which every service behind shares.
TRACE_ID_HEADER = b"x-trace-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Sent with every answer that does not set its own: pages load nothing but
# their own assets (no CDN, no inline script), and are never framed.
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy",
     b"default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
)
RETRY_AFTER_SECONDS = b"1"
# The template of the route that took a request, on its answer (see above).
ROUTE_HEADER = b"x-titanium-route"
_BODY_HEADERS = frozenset({b"content-length", b"transfer-encoding"})


def _access_level(operational: bool, status: int) -> int:
    """Failures stand out (a 5xx is an error); probes and scrapes stay out of the way (debug)."""
    if status >= 500:
        return logging.ERROR
    return logging.DEBUG if operational else logging.INFO


def request_id_of(scope: Scope) -> str:
    return scope.get("state", {}).get("request_id", "")


def _incoming_request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _VALID_REQUEST_ID.match(candidate):
                return candidate
    return uuid.uuid4().hex


class RouteLabel:
    """What the metrics, span names and access lines call a request's route, when no router route says it.

    Put in `scope["route"]`, as a router puts its route (the label is its `path`).
    """

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


SHED_ROUTE = RouteLabel("shed")  # a request refused for load: it never reached routing


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if path is not None else "unmatched"


def _route_labels(routes: Iterable[Any]) -> Iterator[tuple[str, str]]:
    """The (method, route label) pairs an app's routes answer on, for the zero series.

    An endpoint that labels its requests itself (the gateway's forwarder to
    the blog) lists its labels as `route_labels`; a mount (static files)
    answers GET and HEAD under its path.
    """
    for route in routes:
        own_labels = getattr(getattr(route, "endpoint", None), "route_labels", None)
        if own_labels is not None:
            yield from own_labels
            continue
        path = getattr(route, "path", None)
        if path is None or path in OPERATIONAL_PATHS:
            continue
        for method in getattr(route, "methods", None) or ("GET", "HEAD"):
            yield method, path


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, service: str, max_body_bytes: int, max_in_flight: int,
                 access_log: AccessLog, outcomes: Iterable[Outcome] = (), label_answers: bool = True) -> None:
        self.app = app
        self.service = service
        self.max_body_bytes = max_body_bytes
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.access_log = access_log
        self.outcomes = tuple(outcomes)
        self.metrics = RequestMetrics(service, self.outcomes)
        self.label_answers = label_answers  # every service but the gateway, whose answers are the public's
        self._route_headers: dict[str, bytes] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":  # once, when every route has been added
                declare_service(self.service, _route_labels(scope["app"].routes), self.outcomes)
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)

        status = 500
        started = time.perf_counter()
        trace_id = tracing.current_trace_id()
        operational = scope["path"] in OPERATIONAL_PATHS
        if _has_body(scope):
            try:
                body = await self._whole_body(scope, receive)
            except BodyTooLarge as refusal:
                await self._refuse(scope, send, request_id, trace_id, started, 413, refusal.detail)
                return
            if body is None:  # the client left before its request was whole: nobody to answer
                return
            receive = replayed_body(body, receive)
        counted = not operational
        if counted:
            if self.in_flight >= self.max_in_flight:
                await self._refuse(scope, send, request_id, trace_id, started, 503,
                                   "the service is at capacity; retry shortly", SHED_ROUTE)
                return
            self.in_flight += 1
            self.metrics.in_flight.inc()

        def leave_in_flight() -> None:
            nonlocal counted
            if counted:
                counted = False
                self.in_flight -= 1
                self.metrics.in_flight.dec()

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                route = _route_template(scope)
                # Now, while the span is open: it ends with the last body chunk.
                tracing.name_server_span(scope["method"], route, request_id)
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [header for header in SECURITY_HEADERS if header[0] not in present]
                headers.append((b"x-request-id", request_id.encode()))
                if trace_id is not None:
                    headers.append((TRACE_ID_HEADER, trace_id.encode()))
                if self.label_answers:
                    headers.append((ROUTE_HEADER, self._route_header(route)))
                message["headers"] = headers
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                leave_in_flight()  # done on our side; a slow reader holds only its own connection
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            leave_in_flight()
            self._record(scope, operational, status, time.perf_counter() - started, trace_id)

    def _route_header(self, route: str) -> bytes:
        encoded = self._route_headers.get(route)
        if encoded is None:
            encoded = self._route_headers[route] = route.encode("latin-1", "replace")
        return encoded

    async def _whole_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The request's body, read within the size limit (announced or streamed); None if the client left."""
        limit = LARGE_BODY_PATHS.get(scope["path"], self.max_body_bytes)
        declared = next((int(v) for n, v in scope["headers"] if n == b"content-length" and v.isdigit()), 0)
        if declared > limit:
            raise BodyTooLarge(limit)
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                raise BodyTooLarge(limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _refuse(self, scope: Scope, send: Send, request_id: str, trace_id: str | None, started: float,
                      status: int, detail: str, route: RouteLabel | None = None) -> None:
        """Answer at once, before the app: past the in-flight bound (waiting in line would only make every
        answer late), or for a body over the limit."""
        body = orjson.dumps({"detail": detail})
        ids = [(b"x-request-id", request_id.encode())]
        if trace_id is not None:
            ids.append((TRACE_ID_HEADER, trace_id.encode()))
        retry = [(b"retry-after", RETRY_AFTER_SECONDS)] if status == 503 else []
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            *retry, *ids, *SECURITY_HEADERS]})
        await send({"type": "http.response.body", "body": body})
        if route is not None:
            scope["route"] = route
        self._record(scope, False, status, time.perf_counter() - started, trace_id)

    def _record(self, scope: Scope, operational: bool, status: int, seconds: float, trace_id: str | None) -> None:
        route = _route_template(scope)
        if operational:
            self.metrics.observe_probe(route, status)
        else:
            self.metrics.observe(scope["method"], route, status, seconds, trace_id)
        level = _access_level(operational, status)
        self.access_log.write(level, {
            "method": scope["method"],
            "path": scope["path"],
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "client": (scope.get("client") or ("", 0))[0],
            "request_id": request_id_of(scope),
        })


def _has_body(scope: Scope) -> bool:
    """Whether the request announces a body (a length above 0, or chunks)."""
    return any(name in _BODY_HEADERS and value not in (b"0", b"") for name, value in scope["headers"])


def replayed_body(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the app the body read here, then the connection's own messages (a disconnect)."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")
