"""What auth's public routes answer, as the API document describes it (the routes build the JSON themselves).

The profiles are the users service's (services/users/schemas.py Profile and
OwnProfile), passed on as they come; they are written again here because
importing that module would load its password list into auth.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SignedInUser(BaseModel):
    id: int
    username: str


class TokenPair(BaseModel):
    """A new session's tokens: send `access_token` as `Authorization: Bearer ...`; renew with `refresh_token`."""

    status: str = Field(examples=["success"])
    token: str = Field(description="the access token (the seed's name for it)")
    access_token: str
    token_type: str = Field(examples=["bearer"])
    expires_in: int = Field(description="seconds the access token is good for")
    refresh_token: str
    refresh_expires_in: int = Field(description="seconds the refresh token is good for, from now")
    user: SignedInUser


class Claims(BaseModel):
    """An access token's claims."""

    model_config = ConfigDict(extra="allow")

    sub: str
    user_id: int
    username: str
    iss: str
    aud: str
    iat: float
    exp: int
    jti: str
    sid: str | None = Field(default=None, description="the session (refresh family) the token belongs to")


class Verified(BaseModel):
    status: str = Field(examples=["success"])
    data: Claims


class PublicKey(BaseModel):
    """An Ed25519 public key (RFC 8037) that verifies access tokens."""

    model_config = ConfigDict(extra="allow")

    kty: str = Field(examples=["OKP"])
    crv: str = Field(examples=["Ed25519"])
    x: str
    kid: str
    use: str = Field(examples=["sig"])
    alg: str = Field(examples=["EdDSA"])


class KeySet(BaseModel):
    keys: list[PublicKey]


class SignedOut(BaseModel):
    status: str = Field(examples=["success"])
    message: str


class UserProfile(BaseModel):
    """A user as anybody sees them, with whether the viewer follows them; `email` only to its owner."""

    id: int
    username: str
    bio: str | None
    image: str | None
    followers: int
    following: int
    followed: bool
    email: str | None = Field(default=None, description="present only when the viewer is the profile's owner")


class Following(BaseModel):
    user_id: int
    following: list[SignedInUser]
