"""RealWorld's articles, feed, favourites and tags, on the blog's posts.

An article is a post of the blog: one made here is on `/blog/`, one written
on `/blog/write` is here. RealWorld has no categories: an article made here
goes into the category the settings name (`realworld_category`). Lists are
RealWorld's offset pages (limit at most the blog's 100) with the count of
the whole list, which the blog answers at its `/count` routes.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import BaseModel, Field

from titanium.services.realworld import shapes
from titanium.services.realworld.errors import ERRORS, FORBIDDEN, NOT_FOUND, expect
from titanium.services.realworld.people import authors
from titanium.services.realworld.upstream import upstreams

router = APIRouter(prefix="/realworld/api")
Slug = Annotated[str, Path(min_length=1, max_length=200)]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, lt=2**31)]
# The blog's bounds (services/blog/schemas.py); its own refusal names the rule.
MAX_TAGS = 10


class NewArticle(BaseModel):
    title: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=300)
    body: str = Field(min_length=1, max_length=20_000)
    tagList: list[str] = Field(default_factory=list, max_length=MAX_TAGS)  # RealWorld's name


class ArticleChange(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=300)
    body: str | None = Field(default=None, min_length=1, max_length=20_000)
    tagList: list[str] | None = Field(default=None, max_length=MAX_TAGS)  # RealWorld's name


class ArticleAnswer(BaseModel):
    article: dict[str, Any]


class ArticlesAnswer(BaseModel):
    articles: list[dict[str, Any]]
    articlesCount: int  # RealWorld's name


class TagsAnswer(BaseModel):
    tags: list[str]


async def _one(request: Request, post: dict[str, Any]) -> dict[str, Any]:
    found = await authors(request, [post["author"]])
    return {"article": shapes.article(post, found[post["author"]])}


async def _page(request: Request, path: str, params: dict[str, Any]) -> dict[str, Any]:
    """A list of the blog's (`path`) and its count (`path`/count), as RealWorld's page of articles."""
    blog = upstreams(request)
    filters = {name: value for name, value in params.items() if name not in ("offset", "limit")}
    listed, counted = await asyncio.gather(blog.call(request, "blog", "GET", path, params=params),
                                           blog.call(request, "blog", "GET", f"{path}/count", params=filters))
    posts, count = expect(listed), expect(counted)["count"]
    found = await authors(request, [post["author"] for post in posts])
    return {"articles": [shapes.article(post, found[post["author"]], with_body=False) for post in posts],
            "articlesCount": count}


@router.get("/articles", response_model=ArticlesAnswer, responses=ERRORS)
async def list_articles(request: Request, tag: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
                        author: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
                        favorited: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
                        limit: Limit = 20, offset: Offset = 0) -> dict[str, Any]:
    """Published articles, newest first, by tag, author, or who favourited them."""
    params: dict[str, Any] = {"offset": offset, "limit": limit}
    for name, value in (("tag", tag and shapes.tag_slug(tag)), ("author", author), ("favourited", favorited)):
        if value:
            params[name] = value
    return await _page(request, "/blog/api/posts", params)


@router.get("/articles/feed", response_model=ArticlesAnswer, responses=ERRORS)
async def feed(request: Request, limit: Limit = 20, offset: Offset = 0) -> dict[str, Any]:
    """The articles of the authors the caller follows, newest first."""
    return await _page(request, "/blog/api/feed", {"offset": offset, "limit": limit})


@router.get("/articles/{slug}", response_model=ArticleAnswer, responses=ERRORS | NOT_FOUND)
async def get_article(request: Request, slug: Slug) -> dict[str, Any]:
    """One article (the id at the start of its slug decides which)."""
    post_id = shapes.post_id_of(slug)
    return await _one(request, expect(await upstreams(request).call(request, "blog", "GET", f"/blog/api/posts/{post_id}")))


def _post_fields(article: NewArticle | ArticleChange) -> dict[str, Any]:
    fields = article.model_dump(exclude_unset=True)
    renamed = {"title": "title", "description": "description", "body": "content", "tagList": "tags"}
    return {renamed[name]: value for name, value in fields.items() if value is not None}


@router.post("/articles", status_code=201, response_model=ArticleAnswer, responses=ERRORS)
async def create_article(request: Request, article: Annotated[NewArticle, Body(embed=True)]) -> dict[str, Any]:
    """Write an article: a post of the blog, published at once, in the RealWorld category."""
    body = {**_post_fields(article), "category_name": request.app.state.settings.realworld_category}
    answer = await upstreams(request).call(request, "blog", "POST", "/blog/api/posts", json=body)
    return await _one(request, expect(answer, 201))


@router.put("/articles/{slug}", response_model=ArticleAnswer, responses=ERRORS | NOT_FOUND | FORBIDDEN)
async def update_article(request: Request, slug: Slug,
                         article: Annotated[ArticleChange, Body(embed=True)]) -> dict[str, Any]:
    """Change an article's title, description, body or tags (its author only); its slug follows its title."""
    post_id = shapes.post_id_of(slug)
    answer = await upstreams(request).call(request, "blog", "PATCH", f"/blog/api/posts/{post_id}",
                                           json=_post_fields(article))
    return await _one(request, expect(answer))


@router.delete("/articles/{slug}", status_code=204, responses=ERRORS | NOT_FOUND | FORBIDDEN)
async def delete_article(request: Request, slug: Slug) -> Response:
    """Delete an article (its author only); its comments go with it."""
    post_id = shapes.post_id_of(slug)
    expect(await upstreams(request).call(request, "blog", "DELETE", f"/blog/api/posts/{post_id}"), 204)
    return Response(status_code=204)


async def _favourite(request: Request, slug: str, method: str) -> dict[str, Any]:
    post_id = shapes.post_id_of(slug)
    return await _one(request, expect(await upstreams(request).call(request, "blog", method,
                                                                     f"/blog/api/posts/{post_id}/favourite")))


@router.post("/articles/{slug}/favorite", response_model=ArticleAnswer, responses=ERRORS | NOT_FOUND)
async def favourite(request: Request, slug: Slug) -> dict[str, Any]:
    """Keep an article (twice is once)."""
    return await _favourite(request, slug, "PUT")


@router.delete("/articles/{slug}/favorite", response_model=ArticleAnswer, responses=ERRORS | NOT_FOUND)
async def unfavourite(request: Request, slug: Slug) -> dict[str, Any]:
    """Stop keeping an article."""
    return await _favourite(request, slug, "DELETE")


@router.get("/tags", response_model=TagsAnswer, responses=ERRORS)
async def tags(request: Request) -> dict[str, Any]:
    """The most used tags' names."""
    found = expect(await upstreams(request).call(request, "blog", "GET", "/blog/api/tags", params={"limit": 20}))
    return {"tags": [tag["name"] for tag in found]}
