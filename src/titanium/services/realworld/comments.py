"""RealWorld's comments, on the comments service's (the comments of the blog's posts)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request, Response
from pydantic import BaseModel, Field

from titanium.services.realworld import shapes
from titanium.services.realworld.articles import Slug
from titanium.services.realworld.errors import ERRORS, NOT_FOUND, Responses, expect
from titanium.services.realworld.people import authors
from titanium.services.realworld.upstream import upstreams

router = APIRouter(prefix="/realworld/api")
TOO_MANY: Responses = {429: {"description": "Too many comments (Retry-After)"}}
NOT_THEIRS: Responses = {403: {"description": "Neither the comment's nor the article's author"}}
# The comments service's bound.
MAX_BODY = 5000


class NewComment(BaseModel):
    body: str = Field(min_length=1, max_length=MAX_BODY)


class CommentAnswer(BaseModel):
    comment: dict[str, Any]


class CommentsAnswer(BaseModel):
    comments: list[dict[str, Any]]


def _path(slug: str) -> str:
    return f"/blog/api/posts/{shapes.post_id_of(slug)}/comments"


@router.get("/articles/{slug}/comments", response_model=CommentsAnswer, responses=ERRORS | NOT_FOUND)
async def list_comments(request: Request, slug: Slug) -> dict[str, Any]:
    """An article's comments, oldest first."""
    found = expect(await upstreams(request).call(request, "comments", "GET", _path(slug)))
    people = await authors(request, [each["author"] for each in found])
    return {"comments": [shapes.comment(each, people[each["author"]]) for each in found]}


@router.post("/articles/{slug}/comments", response_model=CommentAnswer,
             responses=ERRORS | NOT_FOUND | TOO_MANY)
async def add_comment(request: Request, slug: Slug, comment: Annotated[NewComment, Body(embed=True)]) -> dict[str, Any]:
    """Comment on an article (Markdown; answered 200, as the spec says)."""
    made = expect(await upstreams(request).call(request, "comments", "POST", _path(slug), json=comment.model_dump()),
                  201)
    people = await authors(request, [made["author"]])
    return {"comment": shapes.comment(made, people[made["author"]])}


@router.delete("/articles/{slug}/comments/{comment_id}", status_code=204,
               responses=ERRORS | NOT_FOUND | NOT_THEIRS)
async def delete_comment(request: Request, slug: Slug,
                         comment_id: Annotated[int, Path(ge=1, lt=2**31)]) -> Response:
    """Delete a comment (its author, or the article's)."""
    expect(await upstreams(request).call(request, "comments", "DELETE", f"{_path(slug)}/{comment_id}"), 204)
    return Response(status_code=204)
