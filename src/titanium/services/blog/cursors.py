"""Cursors for keyset pagination: where a page ended, as an opaque URL-safe string.

A list is read in its own order (newest first: `published_at DESC, id DESC`;
search: score, then id), and the next page starts after the last row of this
one: an index range, whatever the depth, instead of an offset that is
counted off row by row. A cursor holds that last row's key and which list it
came from; a cursor of another list, or one that was cut, edited or made up,
is refused with InvalidCursor (the routes answer 422). A cursor grants
nothing: every page is still filtered for its reader, so a forged position
can only start a list elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import orjson

VERSION = 1
MAX_LENGTH = 200
MAX_ID = 2**31 - 1
_URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST_MICROSECOND = (datetime(9999, 12, 31, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)


class InvalidCursor(ValueError):
    """A cursor this list did not give out; the message says what is wrong with it."""


class Key(NamedTuple):
    """The order key of a page's last row: (published_at or None) or a search score, and the post's id."""

    first: datetime | float | None
    id: int


def _scope_digest(scope: str) -> str:
    return hashlib.sha256(scope.encode()).hexdigest()[:12]


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def make_cursor(scope: str, key: Key) -> str:
    """The cursor of the page after the row with `key`, in the list `scope` names."""
    if isinstance(key.first, datetime):
        first: list[object] = ["t", _micros(key.first)]
    elif isinstance(key.first, float):
        first = ["s", key.first]
    else:
        first = ["n"]
    payload = orjson.dumps([VERSION, _scope_digest(scope), *first, key.id])
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii")


def read_cursor(cursor: str, scope: str, first: type[datetime] | type[float] | None) -> Key:
    """The key a cursor of the list `scope` holds, its first part of the type `first`; InvalidCursor for anything else."""
    if not 0 < len(cursor) <= MAX_LENGTH or not _URL_SAFE.match(cursor):
        raise InvalidCursor("the cursor is not one this list gave out (malformed)")
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise InvalidCursor("the cursor is not one this list gave out (malformed)") from None
    if not isinstance(payload, list) or len(payload) < 4 or payload[0] != VERSION:
        raise InvalidCursor("the cursor is not one this list gave out (unknown form)")
    if payload[1] != _scope_digest(scope):
        raise InvalidCursor("the cursor belongs to another list")
    key = Key(_first(payload[2:-1]), _post_id(payload[-1]))
    if (key.first is None) != (first is None) or (first is not None and not isinstance(key.first, first)):
        raise InvalidCursor("the cursor is not one this list gave out (bad position)")
    return key


def _first(tagged: list[object]) -> datetime | float | None:
    match tagged:
        case ["t", int() as micros] if not isinstance(micros, bool) and 0 <= micros <= _LAST_MICROSECOND:
            return _EPOCH + timedelta(microseconds=micros)
        case ["s", float() as score] if math.isfinite(score):
            return score
        case ["n"]:
            return None
    raise InvalidCursor("the cursor is not one this list gave out (bad position)")


def _post_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise InvalidCursor("the cursor is not one this list gave out (bad post id)")
    return value
