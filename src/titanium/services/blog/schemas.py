"""What the blog API reads."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from titanium.services.blog.content import MAX_TAGS, checked_name
from titanium.services.blog.tables import DESCRIPTION_LENGTH


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold it: refused here, as bad input, not failed on in the database.
    if "\x00" in value:
        raise ValueError("may not contain the NUL character")
    return value


Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120), AfterValidator(_no_nul)]
Content = Annotated[str, Field(min_length=1, max_length=20_000), AfterValidator(_no_nul)]
# The naming rule of content.checked_name: every category has a page a link reaches.
CategoryName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), AfterValidator(_no_nul),
                         AfterValidator(checked_name)]
# A tag's name follows the same rule (checked again, with the count of distinct tags, by content.checked_tags).
TagName = Annotated[str, StringConstraints(max_length=50), AfterValidator(_no_nul)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=DESCRIPTION_LENGTH),
                        AfterValidator(_no_nul)]
# Strict: JSON true is not the category 1.
CategoryId = Annotated[int, Field(gt=0, lt=2**31, strict=True)]


class PostFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: Title | None = None
    content: Content | None = None
    category_name: CategoryName | None = None
    category_id: CategoryId | None = None
    # Absent: unchanged; given: the post's whole set (at most MAX_TAGS distinct ones; the list itself a few more).
    tags: Annotated[list[TagName], Field(max_length=2 * MAX_TAGS)] | None = None
    description: Description | None = None

    @field_validator("title", "content", "category_name", "category_id", "tags", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Absent means "unchanged"; an explicit null is a mistake to report.
        if value is None:
            raise ValueError("may not be null")
        return value

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("content may not be blank")
        return value

    @model_validator(mode="after")
    def _one_category(self) -> PostFields:
        if self.category_name is not None and self.category_id is not None:
            raise ValueError("give category_name or category_id, not both")
        return self


class NewPost(PostFields):
    title: Title
    content: Content

    @model_validator(mode="after")
    def _has_category(self) -> NewPost:
        if self.category_name is None and self.category_id is None:
            raise ValueError("category_name (or category_id) is required")
        return self


class PostChanges(PostFields):
    """A partial update: only the fields present change."""
