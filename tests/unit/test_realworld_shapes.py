"""RealWorld's slugs and shapes (services/realworld/shapes.py): the id decides which post a slug names."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from titanium.services.realworld import errors, shapes


def test_a_slug_is_the_id_and_the_title():
    assert shapes.slug_of({"id": 7, "title": "How to Train Your Dragon!"}) == "7-how-to-train-your-dragon"
    assert shapes.slug_of({"id": 8, "title": "배포 노트: Kubernetes"}) == "8-배포-노트-kubernetes"
    assert shapes.slug_of({"id": 9, "title": "?!"}) == "9"
    assert len(shapes.slug_of({"id": 10, "title": "word " * 50})) <= 3 + shapes.SLUG_TITLE_LENGTH


@pytest.mark.parametrize(("slug", "post_id"), [("7-how-to", 7), ("7", 7), ("12-old-title-since-changed", 12)])
def test_the_id_decides(slug, post_id):
    assert shapes.post_id_of(slug) == post_id


@pytest.mark.parametrize("slug", ["how-to", "0-zero", "-7", "07-x", "99999999999-too-big", "7x"])
def test_a_slug_that_names_no_post_is_a_404(slug):
    with pytest.raises(HTTPException) as refused:
        shapes.post_id_of(slug)
    assert refused.value.status_code == 404


def test_tag_names_as_the_blog_filters_them():
    assert shapes.tag_slug("  Machine   Learning ") == "machine-learning"


def test_the_platforms_errors_as_realworld_sentences():
    assert errors.messages("post not found") == ["post not found"]
    assert errors.messages([{"loc": ["body", "article", "title"], "msg": "Field required", "type": "missing"},
                            {"loc": ["body"], "msg": "invalid", "type": "x"}]) == ["article.title: Field required",
                                                                                  "invalid"]
