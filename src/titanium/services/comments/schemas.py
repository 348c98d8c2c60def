"""What the comments API takes and answers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from titanium.services.comments.tables import BODY_LENGTH


class NewComment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    body: str = Field(min_length=1, max_length=BODY_LENGTH, description="Markdown, 1 to 5000 characters")

    @field_validator("body")
    @classmethod
    def _not_blank(cls, body: str) -> str:
        if not body.strip():
            raise ValueError("a comment cannot be only spaces")
        if "\x00" in body:
            raise ValueError("a comment cannot contain NUL characters")
        return body


class Comment(BaseModel):
    id: int
    post_id: int
    body: str = Field(description="the Markdown as written")
    html: str = Field(description="the Markdown rendered and sanitised by the blog's rules")
    author: str
    author_id: int
    created_at: str = Field(description="ISO 8601, UTC")

