"""The blog's rules for text: slugs, excerpts and category colours."""

from __future__ import annotations

import colorsys
import re

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
