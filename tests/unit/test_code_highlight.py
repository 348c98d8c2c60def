"""The stylesheets of a post's body: served as generated, and every colour readable on its background."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from titanium.services.blog.code_highlight import DARK_WHEN_CHOSEN, DARK_WHEN_SYSTEM, stylesheet
from titanium.services.blog.rendering import contrast_ratio

STATIC = Path(__file__).parents[2] / "src" / "titanium" / "services" / "blog" / "web" / "static"
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_DECLARATION = re.compile(r"(?<![-\w])(background|background-color|color)\s*:\s*(#[0-9A-Fa-f]{3,6})\b")


def _hex6(color: str) -> str:
    return "#" + "".join(2 * digit for digit in color[1:]) if len(color) == 4 else color


def _rules(css: str) -> list[tuple[str, dict[str, str]]]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S).replace("@media (prefers-color-scheme: dark) {", "")
    return [(selector.strip(), {name.removesuffix("-color"): _hex6(value) for name, value in _DECLARATION.findall(body)})
            for selector, body in _RULE.findall(css)]


def test_the_served_code_stylesheet_is_the_one_generated_from_pygments() -> None:
    # After a Pygments upgrade: .venv/bin/python -c "from titanium.services.blog.code_highlight import stylesheet;
    # open('src/titanium/services/blog/web/static/code.css', 'w').write(stylesheet())"
    assert (STATIC / "code.css").read_text() == stylesheet()


@pytest.mark.parametrize("scope", ["", DARK_WHEN_CHOSEN, DARK_WHEN_SYSTEM])
def test_every_token_colour_reads_at_4_5_to_1_on_its_code_block(scope: str) -> None:
    block = f"{scope} .content pre".strip()
    rules = [(selector, declarations) for selector, declarations in _rules(stylesheet())
             if selector == block or selector.startswith(f"{block} > code ")]
    [(_, colours)] = [(selector, declarations) for selector, declarations in rules if selector == block]
    # Each token on its own background when it has one (a diff's deleted line), on the block's otherwise;
    # white space (.w) has no glyph to read.
    tokens = [(selector, declarations["color"], declarations.get("background", colours["background"]))
              for selector, declarations in rules if "color" in declarations and not selector.endswith(" .w")]
    assert len(tokens) > 40, "the palette's tokens were not found"
    unreadable = [(selector, color, round(contrast_ratio(color, background), 2)) for selector, color, background in tokens
                  if contrast_ratio(color, background) < 4.5]
    assert not unreadable


def test_the_dark_palette_is_used_only_where_dark_is_chosen() -> None:
    css = stylesheet()
    light, dark = css.split(DARK_WHEN_CHOSEN, 1)
    assert "#0d1117" not in light and "#0d1117" in dark
    assert css.index("@media (prefers-color-scheme: dark)") < css.index(DARK_WHEN_SYSTEM)


def test_every_rule_that_sets_a_text_colour_and_its_background_reads_at_4_5_to_1() -> None:
    pairs = [(selector, declarations) for selector, declarations in _rules((STATIC / "content.css").read_text())
             if {"color", "background"} <= declarations.keys()]
    assert len(pairs) >= 4
    assert all(contrast_ratio(d["color"], d["background"]) >= 4.5 for _, d in pairs), pairs
