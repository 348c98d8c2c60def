"""The gateway labels a forwarded blog request with the template of the blog route that takes it."""

from __future__ import annotations

import re

import pytest

from titanium.services.blog.app import api
from titanium.services.blog.pages import pages
from titanium.services.gateway.app import BLOG_ROUTE_LABELS

FALLBACK = "/blog/{rest:path}"


def _blog_templates() -> list[str]:
    """The blog's own route templates, in the order the blog matches them (its API before its pages)."""
    return [route.path for route in (*api.routes, *pages.routes)]


def _example_path(template: str) -> str:
    """A path the template takes: a path parameter as two segments, any other as one."""
    return re.sub(r"\{[^}]*\}", lambda part: "ci/cd" if part.group().endswith(":path}") else "7-a-slug", template)


def _blog_route_of(path: str) -> str:
    """The template of the first blog route that takes `path`, as the blog's router finds it."""
    for route in (*api.routes, *pages.routes):
        if route.path_regex.match(path):
            return route.path
    raise AssertionError(f"no blog route takes {path}")


@pytest.mark.parametrize("template", [t for t in _blog_templates() if t not in ("/blog", FALLBACK)])
def test_each_blog_route_is_labelled_at_the_gateway_as_the_blog_labels_it(template):
    path = _example_path(template)
    assert BLOG_ROUTE_LABELS(path).path == _blog_route_of(path) == template


@pytest.mark.parametrize(("path", "label"), [
    ("/blog/api/posts/12", "/blog/api/posts/{post_id}"),
    ("/blog/api/posts/12/comments", "/blog/api/{path:path}"),
    ("/blog/posts/12-hello/edit", "/blog/posts/{ref}/edit"),
    ("/blog/categories/ci/cd/feed.xml", "/blog/categories/{slug:path}/feed.xml"),
    ("/blog/categories.css", "/blog/categories.css"),
    ("/blog/static/blog.css", "/blog/static/{asset}"),
    ("/blog/static/deep/er.css", FALLBACK),
    ("/blog/no/such/page", FALLBACK),
    ("/blog/posts", FALLBACK),
    ("/blog/write/", FALLBACK),
])
def test_paths_get_the_label_of_the_route_that_takes_them_and_anything_else_one_fallback(path, label):
    assert BLOG_ROUTE_LABELS(path).path == label


def test_the_labels_are_as_few_as_the_routes_whatever_the_paths():
    labels = {BLOG_ROUTE_LABELS(f"/blog/api/posts/{n}").path for n in range(1000)}
    labels |= {BLOG_ROUTE_LABELS(f"/blog/{n}/{n}").path for n in range(1000)}
    assert labels == {"/blog/api/posts/{post_id}", FALLBACK}
    assert BLOG_ROUTE_LABELS("/blog/api/posts/1") is BLOG_ROUTE_LABELS("/blog/api/posts/2"), "made once, not per request"


def test_the_labels_the_zero_series_are_made_for_are_the_ones_requests_get():
    declared = {label for _method, label in BLOG_ROUTE_LABELS.route_labels}
    assert FALLBACK in declared and ("POST", "/blog/api/posts") in BLOG_ROUTE_LABELS.route_labels
    blog_templates = set(_blog_templates()) - {"/blog"}  # "/blog" is a gateway route of its own
    assert blog_templates <= declared, blog_templates - declared
