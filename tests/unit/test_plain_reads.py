"""The hot reads' direct path takes only what FastAPI itself would take, with the same values, and takes the usual requests.

What the direct path declines goes FastAPI's full way (its 422s are tested
on the running platform, tests/platform/test_refusals.py); what it takes must
never differ from what FastAPI would have made of the same request.
"""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from fastapi.dependencies.utils import request_params_to_args
from fastapi.routing import APIRoute
from starlette.datastructures import QueryParams

from titanium.services.blog.app import api, get_post, list_posts
from titanium.services.blog.plain_reads import list_arguments, post_arguments

SERVICE = object()
APP = SimpleNamespace(state=SimpleNamespace(blog=SERVICE))

VALUES = ["", "0", "00", "01", "1", "7", "20", "100", "101", " 5", "5 ", "+5", "-1", "1e2", "5.0", "0x10", "٣", "²",
          "2147483647", "2147483648", "99999999999", "abc", "ci/cd", "a\x00b", "a\nb", "\t", " ", "x" * 60, "x" * 61,
          "한국어", "Topic 1"]
NAMES = ["offset", "limit", "category", "other"]


def _route(endpoint) -> APIRoute:
    return next(r for r in api.routes if isinstance(r, APIRoute) and r.endpoint is endpoint)


def _query_strings() -> list[str]:
    single = [urlencode([(name, value)]) for name in NAMES for value in VALUES]
    repeated = [urlencode([(name, a), (name, b)]) for name in NAMES[:3] for a, b in [("5", "6"), ("5", "x"), ("x", "5")]]
    combined = [urlencode(list(zip(NAMES[:3], values, strict=True)))
                for values in itertools.product(["0", "40", "01"], ["20", "0", "100"], ["topic-1", ""])]
    return ["", "limit", "limit=20&", "&&", "offset=%30", "category=a+b", "category=%00", *single, *repeated, *combined]


def _fastapi_values(fields, received) -> dict | None:
    """What FastAPI's own validation makes of the parameters: their values, or None where it answers 422."""
    values, errors = request_params_to_args(fields, received)
    return None if errors else values


@pytest.mark.parametrize("query", _query_strings())
def test_a_list_query_taken_directly_gets_the_values_fastapi_would_give_it(query):
    plain = list_arguments({"query_string": query.encode(), "app": APP})
    if plain is not None:
        assert plain.pop("service") is SERVICE
        assert plain == _fastapi_values(_route(list_posts).dependant.query_params, QueryParams(query))


@pytest.mark.parametrize("post_id", VALUES)
def test_a_post_id_taken_directly_is_one_fastapi_would_take_with_the_same_value(post_id):
    plain = post_arguments({"path_params": {"post_id": post_id}, "app": APP})
    if plain is not None:
        assert plain == {"post_id": int(post_id), "service": SERVICE}
        assert _fastapi_values(_route(get_post).dependant.path_params, {"post_id": post_id}) == {"post_id": int(post_id)}


@pytest.mark.parametrize(("query", "expected"), [
    ("", {"offset": 0, "limit": 20, "category": None}),
    ("limit=20", {"offset": 0, "limit": 20, "category": None}),
    ("offset=40&limit=20", {"offset": 40, "limit": 20, "category": None}),
    ("category=ci%2Fcd&limit=5", {"offset": 0, "limit": 5, "category": "ci/cd"}),
    ("category=%ED%95%9C%EA%B5%AD%EC%96%B4", {"offset": 0, "limit": 20, "category": "한국어"}),
])
def test_the_usual_list_queries_are_taken_directly(query, expected):
    unfiltered = {"tag": None, "author": None, "favourited": None, "cursor": None}
    assert list_arguments({"query_string": query.encode(), "app": APP}) == {**unfiltered, **expected, "service": SERVICE}


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "offset=-1", "limit=01", "limit=5&limit=6", "page=2",
                                   "category=", "category=a%00b", "tag=python", "author=alice", "favourited=bob",
                                   "cursor=abc"])
def test_anything_unusual_goes_the_full_way(query):
    assert list_arguments({"query_string": query.encode(), "app": APP}) is None


def test_a_reader_with_a_token_goes_the_full_way_for_their_own_view():
    token = [(b"authorization", b"Bearer x")]
    assert list_arguments({"query_string": b"", "headers": token, "app": APP}) is None
    assert post_arguments({"path_params": {"post_id": "7"}, "headers": token, "app": APP}) is None


def test_a_post_id_in_plain_digits_is_taken_directly_and_no_other():
    assert post_arguments({"path_params": {"post_id": "7"}, "app": APP}) == {"post_id": 7, "service": SERVICE}
    assert [v for v in VALUES if post_arguments({"path_params": {"post_id": v}, "app": APP})] == \
        ["1", "7", "20", "100", "101", "2147483647"]
