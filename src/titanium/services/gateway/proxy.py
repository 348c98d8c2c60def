"""Forwarding one request to a service: streamed both ways over one pooled client."""

from __future__ import annotations

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from titanium.core.errors import error_response
from titanium.core.logging import get_logger
from titanium.core.metrics import UPSTREAM_ERRORS
from titanium.core.middleware import BodyTooLarge, request_id_of

log = get_logger(__name__)

# Headers that belong to one connection, never forwarded (RFC 9110, 7.6.1),
# and those the gateway sets itself.
_HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
    "x-request-id",
})
_NOT_RETURNED = frozenset({"connection", "keep-alive", "transfer-encoding", "server", "date", "x-request-id"})


def client_address(request: Request, trusted_hops: int) -> str:
    """The caller's address, trusting `trusted_hops` proxies in front of the gateway."""
    peer = request.client.host if request.client else "unknown"
    if trusted_hops <= 0:
        return peer
    chain = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",") if hop.strip()]
    chain.append(peer)
    return chain[max(0, len(chain) - 1 - trusted_hops)]


def _request_headers(request: Request, trusted_hops: int) -> list[tuple[bytes, bytes]]:
    headers = [(name, value) for name, value in request.headers.raw if name.decode("latin-1") not in _HOP_BY_HOP]
    headers += [
        # Rewritten, not appended: the services behind trust this one value.
        (b"x-forwarded-for", client_address(request, trusted_hops).encode()),
        (b"x-forwarded-proto", request.url.scheme.encode()),
        (b"x-forwarded-host", request.headers.get("host", "").encode("latin-1")),
        (b"x-request-id", request_id_of(request.scope).encode()),
    ]
    return headers


_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
# Errors after which no answer came: a kept-alive connection the service
# closed (it restarted, or dropped idle connections) shows as one of these.
_RETRYABLE = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


async def forward(client: httpx.AsyncClient, request: Request, upstream: str, base_url: str, path: str,
                  trusted_hops: int) -> Response:
    """The service's answer to `request`, streamed; a JSON 502/503/504 when it gives none.

    Idempotent requests are tried once more on a fresh connection; others
    never, since they may have been acted on.
    """
    query = request.scope.get("query_string", b"")
    url = httpx.URL(base_url + path, query=query)
    has_body = request.method not in ("GET", "HEAD", "OPTIONS", "DELETE") or "content-length" in request.headers
    attempts = 2 if request.method in _IDEMPOTENT else 1
    for attempt in range(1, attempts + 1):
        outgoing = client.build_request(
            request.method, url, headers=_request_headers(request, trusted_hops),
            content=request.stream() if has_body else None,
        )
        try:
            answer = await client.send(outgoing, stream=True)
            break
        except BodyTooLarge as exc:
            return error_response(413, exc.detail)
        except _RETRYABLE as exc:
            if attempt == attempts:
                return _upstream_failure(upstream, exc)
            log.info("retrying an idempotent request on a fresh connection", upstream=upstream, error=repr(exc))
        except httpx.HTTPError as exc:
            return _upstream_failure(upstream, exc)
    response = StreamingResponse(answer.aiter_raw(), status_code=answer.status_code,
                                 background=BackgroundTask(answer.aclose))
    # Raw pairs, not a dict: a repeated header (Set-Cookie) must stay repeated.
    response.raw_headers.extend(
        (name, value) for name, value in answer.headers.raw if name.decode("latin-1").lower() not in _NOT_RETURNED
    )
    return response


def _upstream_failure(upstream: str, exc: httpx.HTTPError) -> Response:
    reason = type(exc).__name__
    UPSTREAM_ERRORS.labels("gateway", upstream, reason).inc()
    log.warning("upstream failed", upstream=upstream, error=repr(exc))
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return error_response(503, f"the {upstream} service is unavailable", {"Retry-After": "1"})
    if isinstance(exc, httpx.TimeoutException):
        return error_response(504, f"the {upstream} service did not answer in time")
    return error_response(502, f"the {upstream} service gave no valid answer")
