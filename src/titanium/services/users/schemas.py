"""What the users service reads and answers."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import (
    AfterValidator,
    AnyUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    UrlConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from titanium.services.users.names import is_reserved
from titanium.services.users.password_policy import MIN_LENGTH, contextual_weakness, weakness

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,32}$"
BIO_MAX_LENGTH = 500
IMAGE_URL_MAX_LENGTH = 2048


def _not_blank(value: str) -> str:
    # Whitespace anywhere (eight spaces, tabs, padding around a short word) does not count toward the minimum.
    if sum(not character.isspace() for character in value) < MIN_LENGTH:
        raise ValueError("the password needs at least 8 characters other than spaces; whitespace does not count")
    return value


def _hard_to_guess(value: str) -> str:
    if (problem := weakness(value)) is not None:
        raise ValueError(problem)
    return value


def _not_reserved(value: str) -> str:
    if is_reserved(value):
        raise ValueError("this username is reserved for the platform; choose another")
    return value


NewPassword = Annotated[str, Field(min_length=8, max_length=128), AfterValidator(_not_blank),
                        AfterValidator(_hard_to_guess)]
# Seconds since the epoch: when every access token a revocation could match has expired.
RevokeUntil = Annotated[float, Field(gt=0, lt=2**40)]
TokenHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class NewUser(BaseModel):
    model_config = ConfigDict(extra="ignore")

    username: Annotated[str, AfterValidator(_not_reserved)] = Field(
        pattern=USERNAME_PATTERN, description="3 to 32 letters, digits, '_', '.' or '-'; not a reserved name")
    email: EmailStr = Field(max_length=254)
    password: NewPassword

    @field_validator("password")
    @classmethod
    def _not_made_from_the_account(cls, password: str, info: ValidationInfo) -> str:
        # The fields before it, when they were valid: the password is checked against what is known.
        if "username" in info.data and (problem := contextual_weakness(password, info.data["username"],
                                                                      info.data.get("email"))):
            raise ValueError(problem)
        return password


class Credentials(BaseModel):
    """A password with the account's username or, for clients that sign in by address (RealWorld), its email."""

    username: str | None = Field(default=None, min_length=1, max_length=64)
    email: str | None = Field(default=None, min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=128)

    @model_validator(mode="after")
    def _one_name(self) -> Credentials:
        if (self.username is None) == (self.email is None):
            raise ValueError("give the username or the email address, not both")
        return self


class PublicUser(BaseModel):
    id: int
    username: str
    email: str


def _plain_text(value: str) -> str:
    # Plain text, shown as it is (escaped) wherever it is shown: line breaks and tabs, no other control characters
    # (PostgreSQL refuses NUL outright, and the others only garble a page or a terminal).
    if any(unicodedata.category(character) == "Cc" and character not in "\n\t" for character in value):
        raise ValueError("the bio may hold line breaks and tabs, but no other control characters")
    return value


def _empty_as_none(value: object) -> object:
    # Clients send "" for a field a user emptied: that clears it, as null does.
    return None if value == "" else value


def _safe_image_url(url: AnyUrl) -> AnyUrl:
    if url.username or url.password:
        raise ValueError("the image URL must not carry a user name or password")
    # Checked again as it will be stored: percent-encoding may have made it longer than it was sent.
    if len(str(url)) > IMAGE_URL_MAX_LENGTH:
        raise ValueError(f"the image URL must be at most {IMAGE_URL_MAX_LENGTH} characters")
    return url


Bio = Annotated[str, Field(max_length=BIO_MAX_LENGTH), AfterValidator(_plain_text)]
# Shown in pages as an <img> source: https only (no javascript:, data: or plain http), bounded, no credentials.
ImageUrl = Annotated[AnyUrl, UrlConstraints(allowed_schemes=["https"], host_required=True,
                                            max_length=IMAGE_URL_MAX_LENGTH), AfterValidator(_safe_image_url)]


class ProfileChange(BaseModel):
    """A change to one's own profile: the fields sent are changed (null or "" clears one), the others kept."""

    model_config = ConfigDict(extra="forbid")

    bio: Annotated[Bio | None, BeforeValidator(_empty_as_none)] = Field(
        default=None, description=f"plain text, up to {BIO_MAX_LENGTH} characters")
    image: Annotated[ImageUrl | None, BeforeValidator(_empty_as_none)] = Field(
        default=None, description="the https URL of an image")

    def changes(self) -> dict[str, str | None]:
        sent = self.model_dump(include=self.model_fields_set)
        return {name: None if value is None else str(value) for name, value in sent.items()}


class Profile(BaseModel):
    """What anybody may see of a user, with what the viewer has to do with them."""

    id: int
    username: str
    bio: str | None
    image: str | None
    followers: int
    following: int
    followed: bool = Field(description="whether the viewer follows this user (false without a viewer)")


class OwnProfile(Profile):
    """A user's profile as the user sees it: with their email address."""

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
