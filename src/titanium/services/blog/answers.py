"""What the blog API answers, as the API document describes it (services/blog/repository.py builds it).

`extra="allow"`: a field the repository adds is passed on, never dropped, by
the routes that answer through these models.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CategoryRef(BaseModel):
    id: int
    name: str
    slug: str = Field(description="its part of the category's address, /blog/categories/{slug}")
    color: str | None = Field(description="#rrggbb, or null for the default")


class Category(CategoryRef):
    post_count: int = Field(description="its public posts")


class Tag(BaseModel):
    name: str
    slug: str


class _PostFields(BaseModel):
    """What a post in a list and a whole post both show (no field with a default: none is added to an answer)."""

    model_config = ConfigDict(extra="allow")

    id: int
    title: str
    author: str
    author_id: int
    created_at: str = Field(description="ISO 8601, UTC")
    updated_at: str = Field(description="ISO 8601, UTC")
    status: str = Field(examples=["published", "draft"])
    published_at: str | None = Field(description="ISO 8601; null for a draft, in the future when scheduled")
    description: str | None
    summary: str | None
    reading_minutes: int | None
    tags: list[Tag]
    favourites_count: int
    comment_count: int
    category: CategoryRef


class PostSummary(_PostFields):
    """A post as a list shows it."""

    excerpt: str | None = Field(description="the start of its text, as plain text")


class Post(_PostFields):
    """A post, whole: its Markdown source and how it is rendered."""

    content: str
    render_mode: str = Field(examples=["markdown", "seed"])
