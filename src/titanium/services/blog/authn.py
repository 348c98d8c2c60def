"""Who is writing: the caller's access token, checked here, with no call per request.

The signature against auth's public keys (cached, core/jwks.py), then the
revocation list (core/revocation.py): a copy at most a second old, asked of
auth only when a write finds it older. Reads check no token at all.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import HTTPException, Request

from titanium.core import tokens
from titanium.core.jwks import JWKSVerifier, KeysUnavailable
from titanium.core.revocation import Fetch, RevocationList, RevocationsUnavailable

REVOCATIONS_PATH = "/auth/revocations"
UNAVAILABLE = "tokens cannot be checked right now; try again shortly"


class TokenChecker:
    """A token's signature and claims, then whether it was revoked: its claims if it is good."""

    def __init__(self, keys: JWKSVerifier, revocations: RevocationList) -> None:
        self.keys = keys
        self.revocations = revocations

    async def verify(self, token: str) -> dict[str, Any]:
        claims = await self.keys.verify(token)
        await self.revocations.check(claims)
        return claims


def revocations_from_auth(client: httpx.AsyncClient, auth_url: str) -> Fetch:
    url = auth_url.rstrip("/") + REVOCATIONS_PATH

    async def fetch(after: int) -> dict[str, Any]:
        answer = await client.get(url, params={"after": after})
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    return fetch


async def claims_of(request: Request, checker: TokenChecker) -> dict[str, Any]:
    """The claims of the caller's token; 401 when it has none we accept, 503 when that cannot be known now."""
    token = tokens.bearer_token(request.headers.get("authorization"))
    challenge = {"WWW-Authenticate": "Bearer"}
    if token is None:
        raise HTTPException(401, "a bearer token is required (POST /api/login gives one)", challenge)
    try:
        return await checker.verify(token)
    except (KeysUnavailable, RevocationsUnavailable):
        raise HTTPException(503, UNAVAILABLE, {"Retry-After": "1"}) from None
    except tokens.TokenError as exc:
        raise HTTPException(401, str(exc), challenge) from None
