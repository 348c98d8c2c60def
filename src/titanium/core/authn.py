"""Who is calling: the one check of an access token, for every service that takes one.

The signature and claims against the token keys (auth holds its own; any
other service the public keys it fetched from auth, core/jwks.py), then the
revocation list (core/revocation.py): a copy at most a second old, fetched
over HTTP from the service that publishes it. A request with no token, or
one we do not accept, is a 401 with `WWW-Authenticate: Bearer`; when it
cannot be known now (no keys, no revocation list), a 503.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx
from starlette.exceptions import HTTPException
from starlette.requests import Request

from titanium.core import tokens
from titanium.core.jwks import KeysUnavailable
from titanium.core.revocation import Fetch, RevocationList, RevocationsUnavailable

UNAVAILABLE = "tokens cannot be checked right now; try again shortly"
# Where auth publishes the revocation list for the services that check tokens (never routed from outside).
REVOCATIONS_PATH = "/auth/revocations"
CHALLENGE = {"WWW-Authenticate": "Bearer"}
MISSING = "a bearer token is required (POST /api/login gives one)"


class Keys(Protocol):
    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims if one of the keys signed it and it is current; tokens.TokenError otherwise."""


class LocalKeys:
    """The keys of the service that signs (auth): no fetch."""

    def __init__(self, keys: dict[str, Any], issuer: str, audience: str) -> None:
        self.keys = keys  # kid -> public key
        self.issuer = issuer
        self.audience = audience

    async def verify(self, token: str) -> dict[str, Any]:
        return tokens.verify(token, self.keys, self.issuer, self.audience)


class TokenChecker:
    """A token's signature and claims, then whether it was revoked: its claims if it is good."""

    def __init__(self, keys: Keys, revocations: RevocationList) -> None:
        self.keys = keys
        self.revocations = revocations

    async def verify(self, token: str, *, revoked_ok: bool = False) -> dict[str, Any]:
        claims = await self.keys.verify(token)
        if not revoked_ok:
            await self.revocations.check(claims)
        return claims

    async def claims_of(self, request: Request, *, revoked_ok: bool = False) -> dict[str, Any]:
        """The claims of the caller's token; 401 when it has none we accept, 503 when that cannot be known now.

        `revoked_ok`: a revoked token is still taken (signing out twice is no error).
        """
        token = tokens.bearer_token(request.headers.get("authorization"))
        if token is None:
            raise HTTPException(401, MISSING, CHALLENGE)
        try:
            return await self.verify(token, revoked_ok=revoked_ok)
        except (KeysUnavailable, RevocationsUnavailable):
            raise HTTPException(503, UNAVAILABLE, {"Retry-After": "1"}) from None
        except tokens.TokenError as exc:
            raise HTTPException(401, str(exc), CHALLENGE) from None


def revocations_over_http(client: httpx.AsyncClient, url: str) -> Fetch:
    """Fetch the revocation list's entries after a version from `url` (the one way every service gets it)."""

    async def fetch(after: int) -> dict[str, Any]:
        answer = await client.get(url, params={"after": after})
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    return fetch
