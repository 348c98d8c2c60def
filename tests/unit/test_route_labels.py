"""A forwarded request is labelled, at the gateway, with the template of the service's own route that took it.

The service names the route on its answer (core/middleware.py); the gateway
takes that name (services/gateway/proxy.py RouteLabels), so no template is
written in two places.
"""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from titanium.core import migrations
from titanium.core.middleware import ROUTE_HEADER
from titanium.core.settings import BlogSettings
from titanium.services.blog.app import build
from titanium.services.gateway.proxy import RouteLabels


@pytest.fixture(scope="module")
def blog(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("blog")
    settings = BlogSettings(data_dir=data)
    assert settings.blog_database_url is not None
    migrations.upgrade("blog", settings.blog_database_url)
    with TestClient(build(settings)) as client:
        yield client


@pytest.mark.parametrize(("method", "path", "template"), [
    ("GET", "/blog/api/posts", "/blog/api/posts"),
    ("GET", "/blog/api/posts/12", "/blog/api/posts/{post_id}"),
    ("DELETE", "/blog/api/posts/12", "/blog/api/posts/{post_id}"),
    ("GET", "/blog/api/posts/12/comments", "/blog/api/{path:path}"),
    ("GET", "/blog/posts/12-hello/edit", "/blog/posts/{ref}/edit"),
    ("GET", "/blog/categories/ci/cd/feed.xml", "/blog/categories/{slug:path}/feed.xml"),
    ("GET", "/blog/categories.css", "/blog/categories.css"),
    ("GET", "/blog/no/such/page", "/blog/{rest:path}"),
    ("GET", "/health", "/health"),
])
def test_every_answer_names_the_route_that_took_it(blog, method, path, template):
    answer = blog.request(method, path)
    assert answer.headers[ROUTE_HEADER.decode()] == template


def test_the_gateway_takes_the_services_names_and_keeps_them_few():
    labels = RouteLabels(fallback="/blog/{rest:path}")
    assert labels.of(b"/blog/api/posts/{post_id}") is labels.of(b"/blog/api/posts/{post_id}"), "made once, not per request"
    assert labels.of(None).path == "/blog/{rest:path}", "an answer the gateway made itself has the public route's label"
    names = {labels.of(f"/route/{n}".encode()).path for n in range(RouteLabels.MAX_LABELS * 2)}
    assert len(names) == RouteLabels.MAX_LABELS, "a service sending ever more names cannot flood the figures"
    assert "/blog/{rest:path}" in names
