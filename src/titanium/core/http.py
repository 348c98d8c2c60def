"""The HTTP client every service uses to call another: pooled, with short timeouts.

httpx's transport retries only failed connection attempts (the request was
never sent), which is safe for any method; nothing is re-sent after it left.
"""

from __future__ import annotations

import httpx
from starlette.requests import Request

from titanium.core.middleware import request_id_of
from titanium.core.tracing import trace_httpx


def http_client(connect_timeout: float, read_timeout: float, *, max_connections: int = 200) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(
        retries=2,
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections // 2),
    )
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout)
    client = httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False)
    trace_httpx(client)  # a client span, and the trace context passed on
    return client


def propagated_headers(request: Request) -> dict[str, str]:
    """What a call made on behalf of `request` carries along: its request id."""
    return {"x-request-id": request_id_of(request.scope)}
