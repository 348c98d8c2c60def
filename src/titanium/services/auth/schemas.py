"""What the auth service reads."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator


class LoginRequest(BaseModel):
    """A password with the username or, for clients that sign in by address (RealWorld), the email address."""

    username: str | None = Field(default=None, min_length=1, max_length=64)
    email: str | None = Field(default=None, min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=128)

    @model_validator(mode="after")
    def _one_name(self) -> LoginRequest:
        if (self.username is None) == (self.email is None):
            raise ValueError("give the username or the email address, not both")
        return self

    @property
    def login_name(self) -> str:
        """What the login budgets count against: the name given, as written in any case (an address is marked as
        one, so that no username can spend an address's budget)."""
        return self.username.lower() if self.username is not None else f"email:{(self.email or '').lower()}"


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=256)


class LogoutRequest(BaseModel):
    refresh_token: str | None = Field(default=None, min_length=1, max_length=256)


class PasswordChangeRequest(BaseModel):
    current_password: str = Field(min_length=1, max_length=128)
    new_password: str = Field(min_length=1, max_length=128)  # its rules are the users service's: 422 from there


class AccountDeletionRequest(BaseModel):
    password: str = Field(min_length=1, max_length=128)
