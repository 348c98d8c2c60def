"""A post's Markdown as the pages show it, and what is drawn from it: a summary, a reading time, its first image.

`markdown_html(source, mode)` renders with markdown-it-py, then sanitises with
nh3, so nothing a writer types runs in a reader's browser. Two modes:

- `markdown` (the default): CommonMark with what readers of GitHub or dev.to
  expect: tables (column alignment as `align-left|center|right` classes: the
  pages' Content-Security-Policy forbids style attributes), strikethrough,
  task lists, footnotes, bare http(s) URLs and e-mail addresses as links.
  Raw HTML is shown as text.
- `seed`: the rules of the seed's web app, for posts moved from it. The seed
  rendered with marked (`breaks: true`, `gfm: true`) and sanitised with
  DOMPurify 3.0.6 in its default profile: a single newline is a line break,
  and HTML in the post passes. Here it passes through nh3 with the part of
  DOMPurify's default allow-list that formats text (SEED_TAGS); what the
  pages' policy or safety rules out is dropped: style attributes and
  <style>, forms and their controls, SVG and MathML, audio, video and
  frames, ids and classes of the writer's own, and <h1> (the page's title is
  its one <h1>).

In both, the post's headings start at <h2>; fenced code is highlighted by
Pygments (code_highlight.py) with its language kept as a class; images come
only from this blog's uploads (`/blog/media/<sha256>-<w>x<h>.webp`: the size is
in the name, so every upload's <img> has its width and height) or from https
URLs, lazy-loaded; anything else (http:, data:, a path) is not an image and
leaves its description as text. An https image's size is unknown: a writer may
give it as `#<w>x<h>` at the end of the URL (a fragment, never sent to the
other server); without it the page's stylesheet keeps a 16:9 box for it, so
the text below does not jump either way. CONTENT_SECURITY_POLICY is the policy
the pages should send: images from this origin and https only.

`summary_text` and `reading_minutes` read the parsed post (headings, prose,
code, tables as the renderer sees them), not its source, so no Markdown or HTML
syntax reaches a summary.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
import secrets
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.tasklists import tasklists_plugin

from titanium.services.blog.code_highlight import code_block_html, language_of
from titanium.services.blog.media_names import parse_media_url

RENDER_MODES = ("markdown", "seed")
# The blog's pages: everything from this origin, images also from any https
# server (a writer's Markdown may show one), nothing inline, never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' https:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)

ALIGNMENTS = {f"text-align:{side}": f"align-{side}" for side in ("left", "center", "right")}
ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "a", "em", "strong", "del", "s",
    "code", "pre", "blockquote", "table", "thead", "tbody", "tr", "th", "td",
    "img", "sup", "section", "label",  # images, footnotes, task lists (their checkboxes are held, below)
}
# What DOMPurify's default profile let through that formats text, beside the
# tags above (seed mode only).
SEED_TAGS = ALLOWED_TAGS | {
    "b", "i", "u", "ins", "mark", "small", "sub", "kbd", "samp", "var", "abbr", "cite", "dfn", "q", "span",
    "wbr", "strike", "tt", "div", "details", "summary", "dl", "dt", "dd", "figure", "figcaption", "caption",
    "tfoot", "colgroup", "col",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "id"}, "ol": {"start"}, "img": {"src", "alt", "title", "width", "height"},
    "li": {"id"}, "th": {"colspan", "rowspan"}, "td": {"colspan", "rowspan"},
}
SEED_ATTRIBUTES = {**ALLOWED_ATTRIBUTES, "abbr": {"title"}, "dfn": {"title"}, "details": {"open"}, "col": {"span"}}
ALLOWED_CLASSES = {
    "th": set(ALIGNMENTS.values()), "td": set(ALIGNMENTS.values()),
    "ul": {"contains-task-list"}, "li": {"task-list-item", "footnote-item"},
    "sup": {"footnote-ref"}, "a": {"footnote-backref"}, "hr": {"footnotes-sep"}, "section": {"footnotes"},
    "ol": {"footnotes-list"},
}
FORCED_VALUES = {"img": {"loading": "lazy", "decoding": "async"}}
# A task list's checkbox shows its state and can never be changed or sent.
CHECKBOXES = {
    True: '<input class="task-list-item-checkbox" type="checkbox" checked disabled>',
    False: '<input class="task-list-item-checkbox" type="checkbox" disabled>',
}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow noopener"
_FOOTNOTE_ID = re.compile(r"^fn(?:ref)?-[0-9a-f]{8}-[0-9]{1,4}(?::[0-9]{1,4})?$")
_DIMENSION = re.compile(r"^[1-9][0-9]{0,4}$")
_SIZE_HINT = re.compile(r"^([1-9][0-9]{0,4})x([1-9][0-9]{0,4})$")
# An <img> as nh3 writes it: each attribute as name="value", no '"' inside a value (it becomes &quot;).
_IMG_TAG = re.compile(r'<img((?:\s+[\w-]+="[^"]*")*)\s*/?>')
_ATTRIBUTE = re.compile(r'\s+([\w-]+)="([^"]*)"')
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_WHITESPACE = re.compile(r"\s+")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
SLUG_LENGTH = 60


# --- images -----------------------------------------------------------------
@dataclass(frozen=True)
class ImageSource:
    """An image a post may show: its URL and, when known, its size in pixels."""

    url: str
    width: int | None = None
    height: int | None = None


def image_source(url: str) -> ImageSource | None:
    """The image a post's URL names, or None when it is not one a page may show (only uploads and https)."""
    upload = parse_media_url(url)
    if upload is not None:
        return ImageSource(upload.url, upload.width, upload.height)
    if not url.startswith("https://"):
        return None
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    size = _SIZE_HINT.match(parts.fragment)
    if size is None:
        return ImageSource(url)
    return ImageSource(parts._replace(fragment="").geturl(), int(size[1]), int(size[2]))


def _image_html(source: ImageSource, alt: str, title: str | None) -> str:
    size = f' width="{source.width}" height="{source.height}"' if source.width else ""
    title_attribute = f' title="{html.escape(title)}"' if title else ""
    return f'<img src="{html.escape(source.url)}" alt="{html.escape(alt)}"{size}{title_attribute}>'


def _render_image(self: Any, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    source = image_source(str(token.attrGet("src") or ""))
    if source is None:
        return html.escape(alt)
    title = token.attrGet("title")
    return _image_html(source, alt, str(title) if title else None)


# --- held HTML ------------------------------------------------------------
# HTML of our own making is put in after sanitising, in place of a marker
# that only this process knows, so that a writer's HTML (seed mode) can never
# pass for it: highlighted code (Pygments escapes the code itself, and nh3
# need not parse its thousands of spans on every render) and task lists'
# checkboxes (a writer's own <input> is never let through).
_HOLD = f"held-{secrets.token_hex(16)}-"
_HELD = re.compile(rf"{_HOLD}([0-9]+)\.")


def _hold(env: EnvType, fragment: str) -> str:
    held: list[str] = env.setdefault("held", [])
    held.append(fragment)
    return f"{_HOLD}{len(held) - 1}."


def _render_fence(self: Any, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    return _hold(env, code_block_html(token.content, language_of(token.info)))


def _render_code_block(self: Any, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    return _hold(env, code_block_html(tokens[idx].content, None))


def _hold_checkboxes(tokens: list[Token], env: EnvType) -> None:
    """Each task's checkbox (the first thing the task list plugin put in its item) held as our own HTML."""
    for index, token in enumerate(tokens):
        if token.type == "list_item_open" and token.attrGet("class") == "task-list-item":
            item = tokens[index + 2]  # the item's paragraph, then its inline content
            checkbox = (item.children or [])[1]  # after the <label> the plugin opens
            checkbox.content = _hold(env, CHECKBOXES["checked" in checkbox.content])


# --- sanitising -------------------------------------------------------------
def _checked_attribute(tag: str, attribute: str, value: str) -> str | None:
    """What nh3 keeps of an allowed attribute: image sources and sizes, and ids, only of the shapes we make."""
    if attribute == "src":
        return value if image_source(value) is not None else None
    if attribute in ("width", "height"):
        return value if _DIMENSION.match(value) else None
    if attribute == "id":
        return value if _FOOTNOTE_ID.match(value) else None
    return value


def _cleaner(tags: set[str], attributes: dict[str, set[str]]) -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=tags, attributes=attributes, attribute_filter=_checked_attribute, url_schemes=URL_SCHEMES,
        link_rel=LINK_REL, strip_comments=True, allowed_classes=ALLOWED_CLASSES, set_tag_attribute_values=FORCED_VALUES,
    )


# --- parsing ----------------------------------------------------------------
def _markdown(*, seed: bool) -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": seed, "breaks": seed, "linkify": True, "typographer": False})
    parser.enable(["table", "strikethrough", "linkify"])
    # Only URLs written with http:// or https:// become links: names like
    # README.md or config.py end in country domains, and the rule that finds
    # those (and bare e-mail addresses) doubled the time a post takes to parse.
    parser.core.ruler.disable("linkify")
    parser.use(tasklists_plugin, label=True).use(footnote_plugin)
    parser.add_render_rule("image", _render_image)
    parser.add_render_rule("fence", _render_fence)
    parser.add_render_rule("code_block", _render_code_block)
    return parser


_PARSERS = {"markdown": _markdown(seed=False), "seed": _markdown(seed=True)}
_CLEANERS = {"markdown": _cleaner(ALLOWED_TAGS, ALLOWED_ATTRIBUTES), "seed": _cleaner(SEED_TAGS, SEED_ATTRIBUTES)}


def _parser(mode: str) -> MarkdownIt:
    try:
        return _PARSERS[mode]
    except KeyError:
        raise ValueError(f"render mode must be one of {', '.join(RENDER_MODES)}, not {mode!r}") from None


def _for_the_page(tokens: list[Token]) -> None:
    """Headings one level down (the page's <h1> is the title); a column's alignment as a class."""
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
        elif token.type in ("th_open", "td_open") and token.attrs:
            alignment = ALIGNMENTS.get(str(token.attrs.pop("style", "")))
            if alignment:
                token.attrSet("class", alignment)


def markdown_html(source: str, mode: str = "markdown") -> str:
    """The post's source as HTML that is safe to put in a page as it is (see the module's docstring for the modes)."""
    parser = _parser(mode)
    # Footnote ids carry a hash of the post, so two posts on one page never share one.
    env: dict[str, Any] = {"docId": hashlib.sha256(source.encode()).hexdigest()[:8]}
    tokens = parser.parse(source, env)
    _for_the_page(tokens)
    _hold_checkboxes(tokens, env)
    rendered = parser.renderer.render(tokens, parser.options, env)
    clean = _CLEANERS[mode].clean(rendered)
    if mode == "seed":
        clean = _IMG_TAG.sub(_with_a_source, clean)
    held: list[str] = env.get("held", [])
    if held:
        clean = _HELD.sub(lambda place: held[int(place[1])], clean)
    # Code blocks and tables scroll sideways on a phone: a keyboard must reach them to scroll them.
    # (nh3 leaves these two tags with no attribute at all, so the exact text is there to find.)
    return clean.replace("<pre>", '<pre tabindex="0">').replace("<table>", '<table tabindex="0">')


def first_image(source: str, mode: str = "markdown") -> str | None:
    """The URL of the first image the post shows (for og:image), or None; relative for an upload."""
    for token in _parser(mode).parse(source):
        if token.type == "html_block":
            found = _first_html_image(token.content, mode)
        elif token.type == "inline":
            found = next((found for child in token.children or [] if (found := _inline_image(child, mode))), None)
        else:
            continue
        if found:
            return found
    return None


def _inline_image(token: Token, mode: str) -> str | None:
    if token.type == "image":
        source = image_source(str(token.attrGet("src") or ""))
        return source.url if source else None
    if token.type == "html_inline":
        return _first_html_image(token.content, mode)
    return None


def _first_html_image(fragment: str, mode: str) -> str | None:
    """The first image a piece of a seed post's HTML shows, as the sanitiser serialises it."""
    if mode != "seed" or "<img" not in fragment.lower():
        return None
    for tag in _IMG_TAG.finditer(_CLEANERS[mode].clean(fragment)):
        source = _img_source(tag)
        if source:
            return html.unescape(source)
    return None


def _img_source(tag: re.Match[str]) -> str | None:
    return dict(_ATTRIBUTE.findall(tag[1])).get("src")


def _with_a_source(tag: re.Match[str]) -> str:
    """The <img> as it is, or nothing when nh3 took its source away (a writer's, from where we show none)."""
    return tag[0] if _img_source(tag) else ""


# --- plain text ---------------------------------------------------------------
@dataclass(frozen=True)
class _Block:
    kind: str  # "prose", "heading", "table", "code"
    text: str


# Parsed with HTML recognised (and then left out), whatever the post's mode:
# no tag reaches a summary either way.
_TEXT_PARSER = _PARSERS["seed"]


def _inline_text(children: list[Token]) -> str:
    words = []
    for child in children:
        if child.type in ("text", "code_inline"):
            words.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            words.append(" ")
    return "".join(words)


def _html_text(fragment: str) -> str:
    return html.unescape(nh3.clean(fragment, tags=set(), attributes={}))


def _blocks(tokens: list[Token]) -> Iterator[_Block]:
    """The post's text, block by block, with what each block is; footnotes are left out."""
    context = "prose"
    in_footnotes = False
    for token in tokens:
        if token.type == "footnote_block_open":
            in_footnotes = True
        elif token.type == "footnote_block_close":
            in_footnotes = False
        elif in_footnotes:
            continue
        elif token.type == "heading_open":
            context = "heading"
        elif token.type in ("th_open", "td_open"):
            context = "table"
        elif token.type in ("heading_close", "th_close", "td_close"):
            context = "prose"
        elif token.type == "inline":
            yield _Block(context, _inline_text(token.children or []))
        elif token.type in ("fence", "code_block"):
            yield _Block("code", token.content)
        elif token.type == "html_block":
            yield _Block("prose", _html_text(token.content))


def _one_line(texts: Iterator[str] | list[str]) -> str:
    return _WHITESPACE.sub(" ", xml_safe(" ".join(texts))).strip()


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,.;:") + "…"


@dataclass(frozen=True)
class Words:
    """What a post stores of its text at write time, from one parse: no list renders Markdown."""

    summary: str  # its opening words (summary_text)
    searchable: str  # every word a reader reads (searchable_text)
    reading_minutes: int


def words_of(source: str, summary_limit: int = 200) -> Words:
    tokens = _TEXT_PARSER.parse(source)
    blocks = list(_blocks(tokens))
    every = _one_line(block.text for block in blocks)
    prose = _one_line(block.text for block in blocks if block.kind == "prose")
    return Words(_cut(prose or every, summary_limit), every, _minutes(every, _images(tokens)))


def summary_text(source: str, limit: int = 200) -> str:
    """The post's opening words as plain text on one line, cut near `limit` characters with an ellipsis.

    From its prose (paragraphs, lists, quotes); a post with none is summed up
    by its headings, tables and code instead. Images, footnotes, HTML tags and
    every Markdown mark are left out.
    """
    return words_of(source, limit).summary


def searchable_text(source: str) -> str:
    """Every word a reader reads in the post (headings, prose, tables, code), on one line, with no markup: for search."""
    return words_of(source).searchable


def plain_text(source: str, limit: int = 160) -> str:
    """The same as summary_text (the name pages.py used before it)."""
    return summary_text(source, limit)


# Reading rates. English: 238 words a minute, the mean silent reading rate for
# non-fiction found by Brysbaert's 2019 meta-analysis of 190 studies. Korean
# (and Chinese and Japanese characters): 500 characters a minute, the rule of
# thumb Korean publishers and blog services use; Hangul is counted by
# syllable block, as it is read, and a Korean word (어절) of three or so
# syllables then reads at about the English rate. Each image adds 10 seconds.
WORDS_A_MINUTE = 238
CHARACTERS_A_MINUTE = 500
SECONDS_AN_IMAGE = 10
_CJK = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3\uf900-\ufaff]")
_WORD = re.compile(r"\w+")


def _images(tokens: list[Token]) -> int:
    count = 0
    for token in tokens:
        if token.type == "inline":
            count += sum(1 for child in token.children or [] if child.type == "image")
        elif token.type == "html_block":
            count += token.content.lower().count("<img")
    return count


def reading_minutes(source: str) -> int:
    """Minutes a reader takes to read the post (at least 1): English by words, Korean by characters."""
    return words_of(source).reading_minutes


def _minutes(text: str, images: int) -> int:
    characters = len(_CJK.findall(text))
    words = len(_WORD.findall(_CJK.sub(" ", text)))
    return max(1, math.ceil(words / WORDS_A_MINUTE + characters / CHARACTERS_A_MINUTE + images * SECONDS_AN_IMAGE / 60))


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
