"""What the users service reads and answers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,32}$"


class NewUser(BaseModel):
    model_config = ConfigDict(extra="ignore")

    username: str = Field(pattern=USERNAME_PATTERN, description="3 to 32 letters, digits, '_', '.' or '-'")
    email: EmailStr = Field(max_length=254)
    password: str = Field(min_length=8, max_length=128)

    @field_validator("password")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if len(value.strip()) < 8:
            raise ValueError("the password needs at least 8 characters other than spaces")
        return value


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=128)


class PublicUser(BaseModel):
    id: int
    username: str
    email: str
