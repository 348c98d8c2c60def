"""A post's Markdown as the pages show it: rendered, then sanitised, so nothing in it runs.

markdown-it-py renders CommonMark (raw HTML in a post is shown as text, never
passed through), with tables and strikethrough; nh3 then keeps only the tags
and attributes below, links only to http(s) and mailto, and gives every link
rel="nofollow noopener". The post's own headings start at <h2>: the page's
one <h1> is the post's title. Images become links to them, so that a post
never makes a reader's browser fetch from another origin.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "a", "em", "strong", "del", "s",
    "code", "pre", "blockquote", "table", "thead", "tbody", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow noopener"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_WHITESPACE = re.compile(r"\s+")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
SLUG_LENGTH = 60


def _image_as_link(self: Any, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env) or "image"
    src = html.escape(str(token.attrGet("src") or ""), quote=True)
    return f'<a href="{src}">{html.escape(alt)}</a>'


def _markdown() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.enable(["table", "strikethrough"])
    parser.add_render_rule("image", _image_as_link)
    return parser


_PARSER = _markdown()


def _shift_headings(tokens: list[Token]) -> None:
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"


def markdown_html(source: str) -> str:
    """The post's Markdown as HTML that is safe to put in a page as it is."""
    tokens = _PARSER.parse(source)
    _shift_headings(tokens)
    rendered = _PARSER.renderer.render(tokens, _PARSER.options, {})
    clean = nh3.clean(rendered, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
                      link_rel=LINK_REL, strip_comments=True)
    # Code blocks and tables scroll sideways on a phone: a keyboard must reach them to scroll them.
    # (nh3 leaves these two tags with no attribute at all, so the exact text is there to find.)
    return clean.replace("<pre>", '<pre tabindex="0">').replace("<table>", '<table tabindex="0">')


def plain_text(source: str, limit: int = 160) -> str:
    """The words of a piece of Markdown with no markup, on one line, cut near `limit` characters."""
    text = html.unescape(nh3.clean(_PARSER.render(source), tags=set(), attributes={}))
    text = _WHITESPACE.sub(" ", xml_safe(text)).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[: limit] else text[:limit]
    return cut.rstrip(" ,.;:") + "…"


def xml_safe(text: str) -> str:
    """The text without the control characters XML 1.0 cannot hold (a feed with one would not parse)."""
    return _CONTROL.sub("", text)


def post_slug(title: str) -> str:
    """The URL words of a post's title: ASCII letters and digits joined by hyphens ("post" when none are left)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii").lower()
    slug = _NOT_SLUG.sub("-", ascii_title).strip("-")
    if len(slug) > SLUG_LENGTH:
        slug = slug[:SLUG_LENGTH].rsplit("-", 1)[0] or slug[:SLUG_LENGTH]
    return slug or "post"


def _linear(channel: int) -> float:
    value = channel / 255
    return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4


def relative_luminance(color: str) -> float:
    red, green, blue = (int(color[index:index + 2], 16) for index in (1, 3, 5))
    return 0.2126 * _linear(red) + 0.7152 * _linear(green) + 0.0722 * _linear(blue)


def contrast_ratio(first: str, second: str) -> float:
    """The WCAG 2 contrast ratio of two #rrggbb colours (1 to 21)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_color_on(background: str) -> str:
    """Black or white, whichever reads better on `background` (always at least 4.5:1)."""
    black, white = "#000000", "#ffffff"
    return black if contrast_ratio(background, black) >= contrast_ratio(background, white) else white


# --- placeholders for track render20's summary_text and reading_minutes ------------
# The blog's data layer stores both at write time (repository.py), with the
# whole text for search (summary_text with a limit past the content's length).
# These thin versions keep the names and signatures render20 writes the real
# ones under; replace them whole when that work lands. A write asks for all
# three of one content: it is rendered once (a render was 1 ms of a 4 kB post,
# three of them doubled the cost of a create).
WORDS_A_MINUTE = 230
_WORD = re.compile(r"\w+")


@functools.lru_cache(maxsize=8)
def _whole_text(source: str) -> str:
    return plain_text(source, len(source) + 1)


def summary_text(source: str, limit: int = 200) -> str:
    """PLACEHOLDER (render20): the post's words as plain text on one line, cut near `limit` characters."""
    text = _whole_text(source)
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,.;:") + "…"


def reading_minutes(source: str) -> int:
    """PLACEHOLDER (render20): minutes a reader takes over the post (at least 1)."""
    return max(1, round(len(_WORD.findall(_whole_text(source))) / WORDS_A_MINUTE))
