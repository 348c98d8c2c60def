"""Who is calling: the one rule every service uses to find a request's client address.

Behind proxies the peer is the last proxy, and each proxy appends the
address it got the request from to X-Forwarded-For. Only the hops a service
trusts may be believed: the client is the address `trusted_hops` entries
from the right of the chain (the peer included). The gateway trusts what
its settings say (the ingress in front of it); every other service trusts
one hop, the gateway, which rewrites the header to the one address it found.
"""

from __future__ import annotations

from starlette.types import Scope

BEHIND_THE_GATEWAY = 1  # the hops a service behind the gateway trusts: the gateway's


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of the request header `name` (lower case), if sent."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def client_address(scope: Scope, trusted_hops: int = BEHIND_THE_GATEWAY) -> str:
    """The caller's address, believing `trusted_hops` proxies' word for it."""
    peer: str = scope["client"][0] if scope.get("client") else "unknown"
    if trusted_hops <= 0:
        return peer
    chain = [hop.strip() for hop in (header(scope, b"x-forwarded-for") or "").split(",") if hop.strip()]
    chain.append(peer)
    return chain[max(0, len(chain) - 1 - trusted_hops)]
