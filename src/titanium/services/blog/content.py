"""The blog's rules for text: names and slugs of categories and tags, excerpts, category colours."""

from __future__ import annotations

import colorsys
import re
import unicodedata
from collections.abc import Iterable

EXCERPT_LENGTH = 120
# Enough stored characters to build an excerpt even when every line break
# is a two-character "\r\n" that becomes one space.
EXCERPT_SOURCE_LENGTH = 2 * EXCERPT_LENGTH + 1

PALETTE = (
    "#3b82f6", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#ec4899",
    "#14b8a6", "#f97316", "#6366f1", "#84cc16", "#06b6d4", "#a855f7",
)
DEFAULT_CATEGORIES = ("Technology", "Lifestyle", "DevOps")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_WHITESPACE = re.compile(r"\s+")


def normalise_name(name: str) -> str:
    """A category name as stored: trimmed, inner runs of white space as one space."""
    return _WHITESPACE.sub(" ", name).strip()


def slugify(name: str) -> str:
    """The name lower-cased with spaces as hyphens (the seed's rule, kept for its links)."""
    return normalise_name(name).lower().replace(" ", "-")


# --- names of categories and tags ------------------------------------------------
# One rule for both, so that every category and tag has a page a link reaches.
# The pages quote a slug whole into its path (pages.category_url), so only what
# a browser or the routes themselves read in a path can make it unreachable:
# dot segments ("." and ".." are resolved away by every client), a last segment
# "feed.xml" (the route of the feed of the category before it), empty segments.
# Characters that cannot be seen are refused too: two names that look the same
# must not be two categories.
NAME_LENGTH = 50
MAX_TAGS = 10
RESERVED_LAST_SEGMENT = "feed.xml"
# Printable to Python, yet nothing shows: Hangul fillers, the blank Braille
# pattern, the combining grapheme joiner, the object replacement character.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f\ufffc")
# Control (Cc), format (Cf: zero-width spaces and joiners, bidirectional overrides,
# soft hyphens), surrogate, private-use and unassigned code points, line and
# paragraph separators.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class InvalidName(ValueError):
    """A category or tag name that would give a page no link could reach; the message says why."""


def _is_invisible(char: str) -> bool:
    code = ord(char)
    return (char in _INVISIBLE or unicodedata.category(char) in _HIDDEN_CATEGORIES
            or 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF or 0x180B <= code <= 0x180F)


def _has_letter_or_digit(text: str) -> bool:
    return any(unicodedata.category(char)[0] in "LN" for char in text)


def checked_name(name: str, kind: str = "category") -> str:
    """The name as stored (NFC, trimmed, one space between words); InvalidName when its page would be unreachable.

    `kind` names the thing in the message ("category", "tag").
    """
    # NFC first: the same Korean word typed as syllables or as jamo is one name, one slug.
    stored = normalise_name(unicodedata.normalize("NFC", name))
    if not stored:
        raise InvalidName(f"a {kind} name may not be empty")
    if len(stored) > NAME_LENGTH:
        raise InvalidName(f"a {kind} name is at most {NAME_LENGTH} characters")
    hidden = next((char for char in stored if _is_invisible(char)), None)
    if hidden is not None:
        raise InvalidName(f"a {kind} name may not contain invisible or control characters (U+{ord(hidden):04X})")
    slug = slugify(stored)
    if len(slug) > NAME_LENGTH:
        raise InvalidName(f"a {kind} name's address is at most {NAME_LENGTH} characters")
    segments = slug.split("/")
    if not all(_has_letter_or_digit(segment) for segment in segments):
        raise InvalidName(f"a {kind} name needs a letter or digit, also on each side of a '/' "
                          "('.', '..' and punctuation alone make no address)")
    if len(segments) > 1 and segments[-1] == RESERVED_LAST_SEGMENT:
        raise InvalidName(f"a {kind} name may not end in '/{RESERVED_LAST_SEGMENT}' (that is the address of a feed)")
    return stored


def checked_tags(names: Iterable[str]) -> list[str]:
    """Tag names as stored, in the order given, the same tag (by slug) once; InvalidName past MAX_TAGS.

    A post's tags are few: every tag is a row to write with the post and a
    link on every list the post is on, and ten is more than any post needs
    (dev.to allows four). The cap bounds the work one write can ask for.
    """
    kept: dict[str, str] = {}
    for name in names:
        stored = checked_name(name, "tag")
        kept.setdefault(slugify(stored), stored)
    if len(kept) > MAX_TAGS:
        raise InvalidName(f"a post has at most {MAX_TAGS} tags")
    return list(kept.values())


def excerpt(content: str) -> str:
    flat = _LINE_BREAK.sub(" ", content)
    return flat if len(flat) <= EXCERPT_LENGTH else flat[:EXCERPT_LENGTH] + "..."


def category_color(index: int) -> str:
    """The colour at `index`: the palette first, then hues a golden angle apart.

    Every index has its own colour, so a free one always exists and the
    unique constraint on colours can hold however many categories there are.
    """
    if index < len(PALETTE):
        return PALETTE[index]
    hue = (index * 0.618033988749895) % 1.0
    saturation = 0.55 + 0.3 * ((index // 7) % 2)
    red, green, blue = colorsys.hls_to_rgb(hue, 0.5, saturation)
    return f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}"


def first_free_color(used: set[str]) -> str:
    index = 0
    while category_color(index) in used:
        index += 1
    return category_color(index)
