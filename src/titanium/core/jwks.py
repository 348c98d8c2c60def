"""Token checks against the auth service's published keys, fetched once and cached.

A write costs no call to auth: the keys are refreshed when they are older
than the cache period, or when a token names a key we have not seen (a key
rotation), at most once every few seconds. When auth cannot be reached, the
keys we hold keep working.

A fetch is made on behalf of the request that found the keys missing or old:
it carries that request's id (and, through the client, its trace), so the
auth service's log line for it is found from the request's.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import structlog

from titanium.core import tokens
from titanium.core.logging import get_logger
from titanium.core.metrics import UPSTREAM_ERRORS, failure_reason

log = get_logger(__name__)

JWKS_PATH = "/auth/jwks"


class KeysUnavailable(Exception):
    """No key is known and the auth service does not answer: tokens cannot be checked now."""


class JWKSVerifier:
    MIN_REFRESH_INTERVAL = 5.0

    def __init__(self, auth_url: str, client: httpx.AsyncClient, issuer: str, audience: str,
                 cache_seconds: float, service: str = "blog") -> None:
        self._service = service  # the caller, as the upstream-error figures name it
        self._url = auth_url.rstrip("/") + JWKS_PATH
        self._client = client
        self._issuer = issuer
        self._audience = audience
        self._cache_seconds = cache_seconds
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> dict[str, Any]:
        if time.monotonic() - self._fetched_at > self._cache_seconds:
            await self._refresh()
        try:
            return tokens.verify(token, self._keys, self._issuer, self._audience)
        except tokens.UnknownKeyError:
            if not await self._refresh(forced=True):
                raise
            return tokens.verify(token, self._keys, self._issuer, self._audience)

    async def _refresh(self, forced: bool = False) -> bool:
        """Fetch the key set; whether new keys were fetched."""
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            if age < (self.MIN_REFRESH_INTERVAL if forced else self._cache_seconds):
                return False  # another request refreshed meanwhile, or too soon to ask again
            try:
                response = await self._client.get(self._url, headers=_request_id_header())
                response.raise_for_status()
                self._keys = tokens.keys_from_jwks(response.json())
                self._fetched_at = time.monotonic()
                return True
            except (httpx.HTTPError, ValueError) as exc:
                UPSTREAM_ERRORS.labels(self._service, "auth", failure_reason(exc)).inc()
                log.warning("token keys could not be fetched", url=self._url, error=repr(exc), keys_held=len(self._keys))
                if not self._keys:
                    raise KeysUnavailable("the auth service's keys cannot be fetched") from exc
                # Keep the keys we hold, and wait a little before asking again.
                self._fetched_at = time.monotonic() - self._cache_seconds + self.MIN_REFRESH_INTERVAL
                return False


def _request_id_header() -> dict[str, str]:
    """The id of the request being served (bound to the log context by the request middleware), to pass on."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    return {"x-request-id": request_id} if request_id else {}
