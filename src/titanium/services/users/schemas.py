"""What the users service reads and answers."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,32}$"


def _not_blank(value: str) -> str:
    # Whitespace anywhere (eight spaces, tabs, padding around a short word) does not count toward the minimum.
    if sum(not character.isspace() for character in value) < 8:
        raise ValueError("the password needs at least 8 characters other than spaces; whitespace does not count")
    return value


NewPassword = Annotated[str, Field(min_length=8, max_length=128), AfterValidator(_not_blank)]
# Seconds since the epoch: when every access token a revocation could match has expired.
RevokeUntil = Annotated[float, Field(gt=0, lt=2**40)]
TokenHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class NewUser(BaseModel):
    model_config = ConfigDict(extra="ignore")

    username: str = Field(pattern=USERNAME_PATTERN, description="3 to 32 letters, digits, '_', '.' or '-'")
    email: EmailStr = Field(max_length=254)
    password: NewPassword


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=128)


class PublicUser(BaseModel):
    id: int
    username: str
    email: str


# What auth sends on behalf of a signed-in user (/internal/... only).

class SessionStart(BaseModel):
    user_id: int = Field(ge=1, lt=2**31)
    token_hash: TokenHash
    expires_at: RevokeUntil


class SessionRenewal(BaseModel):
    token_hash: TokenHash
    new_token_hash: TokenHash
    expires_at: RevokeUntil
    revoke_until: RevokeUntil


class SessionEnd(BaseModel):
    user_id: int = Field(ge=1, lt=2**31)
    jti: str = Field(min_length=1, max_length=64)
    session_id: str | None = Field(default=None, min_length=1, max_length=32)
    token_hash: TokenHash | None = None
    revoke_until: RevokeUntil


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=128)
    new_password: NewPassword
    revoke_until: RevokeUntil


class AccountDeletion(BaseModel):
    password: str = Field(min_length=1, max_length=128)
    revoke_until: RevokeUntil
