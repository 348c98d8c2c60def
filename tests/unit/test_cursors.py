import base64
from datetime import UTC, datetime

import orjson
import pytest

from titanium.services.blog.cursors import InvalidCursor, Key, make_cursor, read_cursor

MOMENT = datetime(2026, 12, 1, 8, 30, 15, 123456, tzinfo=UTC)


def test_a_cursor_gives_back_the_key_it_was_made_of_exactly():
    for key, kind in ((Key(MOMENT, 42), datetime), (Key(0.1 + 0.2, 7), float), (Key(None, 2**31 - 1), None)):
        cursor = make_cursor("posts?tag_slug=rust", key)
        assert cursor.isascii() and all(c.isalnum() or c in "-_" for c in cursor)  # URL-safe as it is
        assert read_cursor(cursor, "posts?tag_slug=rust", kind) == key


def test_a_cursor_of_another_list_is_refused():
    cursor = make_cursor("posts?tag_slug=rust", Key(MOMENT, 42))
    with pytest.raises(InvalidCursor, match="another list"):
        read_cursor(cursor, "posts?tag_slug=go", datetime)


def _forged(payload) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode()


@pytest.mark.parametrize("cursor", [
    "", "not a cursor", "a" * 201, "%%%", "!!!!", "eyJ",  # not base64url of JSON
    _forged({"a": 1}), _forged([1]), _forged([2, "x", "t", 1, 1]),
    _forged("just a string"), _forged(None),
])
def test_malformed_cursors_are_refused_cleanly(cursor):
    with pytest.raises(InvalidCursor):
        read_cursor(cursor, "posts?", datetime)


def test_cursors_with_bad_positions_or_ids_are_refused():
    digest = make_cursor("posts?", Key(MOMENT, 1))
    scope = orjson.loads(base64.urlsafe_b64decode(digest + "=" * (-len(digest) % 4)))[1]
    for payload in ([1, scope, "t", -1, 5], [1, scope, "t", 10**18, 5], [1, scope, "t", "soon", 5],
                    [1, scope, "t", True, 5], [1, scope, "t", 1, 0], [1, scope, "t", 1, 2**31], [1, scope, "t", 1, True],
                    [1, scope, "t", 1, "5"], [1, scope, "s", 1.5, 5], [1, scope, "n", 5], [1, scope, "x", 1, 5]):
        with pytest.raises(InvalidCursor):
            read_cursor(_forged(payload), "posts?", datetime)


def test_numbers_past_64_bits_are_refused_not_crashed_on():
    huge = base64.urlsafe_b64encode(b'[1, "x", "t", 1' + b"0" * 40 + b", 5]").rstrip(b"=").decode()
    with pytest.raises(InvalidCursor):
        read_cursor(huge, "posts?", datetime)


def test_a_search_cursor_is_no_list_cursor_and_the_reverse():
    with pytest.raises(InvalidCursor):
        read_cursor(make_cursor("s", Key(1.5, 3)), "s", datetime)
    with pytest.raises(InvalidCursor):
        read_cursor(make_cursor("s", Key(MOMENT, 3)), "s", float)
