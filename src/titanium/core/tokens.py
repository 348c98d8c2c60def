"""Access tokens: Ed25519-signed JWTs, and the public keys as a JWKS; refresh tokens.

The auth service signs with the private key; any service verifies with the
public key it fetched (and cached) from the auth service's JWKS, so checking
a token costs no call to auth. An access token lives minutes; the refresh
token that renews it is an opaque random string, stored only as its hash
(docs/adr/0010-revocable-tokens.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm
from jwt.utils import base64url_encode

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "jti", "sub"]


class TokenError(Exception):
    """The token is not one we accept; the message says why, for the client."""


def generate_private_key_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key(pem: str | bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the token signing key must be an Ed25519 private key (PEM, PKCS#8)")
    return key


def load_or_create_key_file(path: Path) -> Ed25519PrivateKey:
    """The embedded default: a key generated once and kept in the data directory.

    Several auth processes may start at once (`titanium up --replicas auth=2`):
    each writes its key to a file of its own and links it into place, which
    only the first can do, so none reads a key half-written and all use that one.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(generate_private_key_pem())
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process's key is in place: it is the one
        finally:
            draft.unlink()
    return load_private_key(path.read_bytes())


# One PEM block: its label (PRIVATE KEY, PUBLIC KEY) and the whole block.
PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----\s.*?-----END \1-----", re.DOTALL)


def load_public_keys(pem_text: str) -> list[Ed25519PublicKey]:
    """Every Ed25519 key in `pem_text`, as its public half: public keys as they are, private keys' public halves.

    Blank text holds no key; text that is not blank but holds no PEM block, or
    a block that is not an Ed25519 key, is an error (a key pasted wrongly must
    stop auth at start-up, not silently refuse the tokens it signed).
    """
    blocks = list(PEM_BLOCK.finditer(pem_text))
    if pem_text.strip() and not blocks:
        raise ValueError("no PEM block in the verification keys (each starts with -----BEGIN PUBLIC KEY-----)")
    keys = []
    for block in blocks:
        if block.group(1) == "PUBLIC KEY":
            key = serialization.load_pem_public_key(block.group(0).encode())
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("a verification key is not an Ed25519 public key")
            keys.append(key)
        else:
            keys.append(load_private_key(block.group(0)).public_key())
    return keys


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, Any]:
    jwk = json.loads(OKPAlgorithm.to_jwk(public_key))
    jwk.update(kid=key_id(jwk), use="sig", alg=ALGORITHM)
    return jwk


def key_id(jwk: dict[str, Any]) -> str:
    """The RFC 7638 thumbprint: the same key always has the same id."""
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x")}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64url_encode(digest).decode()


@dataclass(frozen=True)
class TokenIssuer:
    private_key: Ed25519PrivateKey
    issuer: str
    audience: str
    ttl_seconds: int

    @cached_property
    def jwk(self) -> dict[str, Any]:
        return public_jwk(self.private_key.public_key())

    def issue(self, user_id: int, username: str, session_id: str | None = None) -> str:
        now = time.time()
        claims: dict[str, Any] = {
            "sub": str(user_id),
            "user_id": user_id,
            "username": username,
            "iss": self.issuer,
            "aud": self.audience,
            # To the millisecond: "tokens issued before a password change are
            # void" must not take in a token issued just after it, in the same second.
            "iat": round(now, 3),
            "exp": int(now) + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        if session_id is not None:
            claims["sid"] = session_id  # the refresh family: logging out ends it
        return jwt.encode(claims, self.private_key, algorithm=ALGORITHM, headers={"kid": self.jwk["kid"]})


def verify(token: str, keys: dict[str, Any], issuer: str, audience: str) -> dict[str, Any]:
    """The token's claims, if it is signed by one of `keys` (kid -> public key) and current."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError as exc:
        raise TokenError("malformed token") from exc
    key = keys.get(header.get("kid", ""))
    if key is None:
        raise UnknownKeyError("token signed by an unknown key")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=issuer,
            audience=audience,
            options={"require": REQUIRED_CLAIMS},
            leeway=5,
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"invalid token: {exc}") from exc
    check_claim_types(claims)
    return claims


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_claim_types(claims: dict[str, Any]) -> None:
    """Signed by our key, but the services act on these claims: one of the wrong type is refused here, not failed on later."""
    user_id = claims.get("user_id")
    if not isinstance(user_id, int) or isinstance(user_id, bool) or not 1 <= user_id < 2**63:
        raise TokenError("invalid token: user_id must be a positive integer")
    if claims.get("sub") != str(user_id):
        raise TokenError("invalid token: sub must be the user id")
    if not isinstance(claims.get("username"), str) or not claims["username"]:
        raise TokenError("invalid token: username must be a string")
    if not (_is_number(claims.get("exp")) and _is_number(claims.get("iat"))):
        raise TokenError("invalid token: exp and iat must be numbers")
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        raise TokenError("invalid token: jti must be a string")
    if "sid" in claims and (not isinstance(claims["sid"], str) or not claims["sid"]):
        raise TokenError("invalid token: sid must be a string")


class UnknownKeyError(TokenError):
    """The token names a key we do not hold (yet): the key set may need a refresh."""


def keys_from_jwks(jwks: dict[str, Any]) -> dict[str, Any]:
    keys = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("kty") == "OKP" and jwk.get("kid"):
            keys[jwk["kid"]] = OKPAlgorithm.from_jwk(jwk)
    return keys


def new_refresh_token() -> str:
    """An opaque refresh token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def refresh_token_hash(token: str) -> str:
    """What is stored of a refresh token. A fast hash suffices: the token is random, not a guessable password."""
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None when absent or malformed."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token
