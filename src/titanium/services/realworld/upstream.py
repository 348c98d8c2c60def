"""The platform's own APIs, as the RealWorld adapter calls them: over HTTP, on behalf of the RealWorld client.

The adapter holds no accounts, tokens or posts. Each call carries what the
client sent that the platform acts on: its token (RealWorld's
`Authorization: Token <jwt>`, passed on as `Bearer <jwt>`), its address
(X-Forwarded-For, as the gateway set it, so per-address limits are the
client's), its Idempotency-Key and its request id. The service called
checks the token, the revocation list, the limits and the key itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import HTTPException, Request

from titanium.core.http import http_client, propagated_headers
from titanium.core.logging import get_logger
from titanium.core.metrics import UPSTREAM_ERRORS, failure_reason
from titanium.core.settings import RealworldSettings

log = get_logger(__name__)

# What a call passes on from the RealWorld client's request, besides its token.
_PASSED_ON = ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "idempotency-key", "accept-language")
UNAVAILABLE = "a service this request needs is unavailable; try again shortly"


def bearer_of(request: Request) -> str | None:
    """The caller's token as the platform takes it: RealWorld's `Token <jwt>` (or `Bearer <jwt>`) as `Bearer <jwt>`."""
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() not in ("token", "bearer") or not token.strip():
        return None
    return f"Bearer {token.strip()}"


def token_of(request: Request) -> str | None:
    bearer = bearer_of(request)
    return bearer.removeprefix("Bearer ") if bearer else None


@dataclass
class Upstreams:
    """One pooled client a service the adapter calls (the registry's `calls` of "realworld")."""

    clients: dict[str, httpx.AsyncClient]

    @classmethod
    def from_settings(cls, settings: RealworldSettings) -> Upstreams:
        return cls({name: http_client(settings.upstream_connect_timeout, settings.upstream_read_timeout,
                                      base_url=getattr(settings, f"{name}_url"), service=name)
                    for name in ("users", "auth", "blog", "comments")})

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()

    async def call(self, request: Request, service: str, method: str, path: str, *, json: Any = None,
                   params: Any = None, token: str | bool | None = True) -> httpx.Response:
        """The answer of `service` to `method path`, on behalf of `request`'s client.

        `token`: True passes the client's own (if any), a string passes that token, False none. A service
        that cannot be reached is a 503 for the client, counted as the platform counts a failed call.
        """
        headers = {**propagated_headers(request),
                   **{name: value for name in _PASSED_ON if (value := request.headers.get(name)) is not None}}
        bearer = bearer_of(request) if token is True else f"Bearer {token}" if token else None
        if bearer:
            headers["authorization"] = bearer
        try:
            return await self.clients[service].request(method, path, json=json, params=params, headers=headers)
        except httpx.HTTPError as exc:
            UPSTREAM_ERRORS.labels("realworld", service, failure_reason(exc)).inc()
            log.error("upstream unreachable", service=service, path=path, error=repr(exc))
            raise HTTPException(503, UNAVAILABLE, {"Retry-After": "1"}) from None


def upstreams(request: Request) -> Upstreams:
    found: Upstreams = request.app.state.upstreams
    return found
