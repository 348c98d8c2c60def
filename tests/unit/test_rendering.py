"""How a post reads: its HTML in both render modes, its summary, its reading time and its first image."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from titanium.services.blog.rendering import (
    CONTENT_SECURITY_POLICY,
    first_image,
    markdown_html,
    reading_minutes,
    searchable_text,
    summary_text,
)

TYPICAL_POST = (Path(__file__).parent / "data" / "typical_post.md").read_text()
UPLOAD = "/blog/media/" + "ab" * 32 + "-1600x900.webp"


class Elements(HTMLParser):
    """Every start tag in a piece of HTML, with its attributes."""

    def __init__(self, fragment: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(fragment)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))

    def tags(self, name: str) -> list[dict[str, str | None]]:
        return [attributes for tag, attributes in self.found if tag == name]


# --- code ---------------------------------------------------------------------
def test_code_is_highlighted_on_the_server_with_its_language_kept_as_a_class() -> None:
    page = markdown_html('```python\ndef greet(name):\n    return f"hello {name}"\n```\n')
    assert page.startswith('<pre tabindex="0"><code class="language-python"><span class="k">def</span>')
    assert '<span class="nf">greet</span>' in page and '<span class="s2">' in page
    assert "style=" not in page and "<script" not in page


def test_code_in_a_language_pygments_does_not_know_keeps_its_class_and_is_escaped() -> None:
    page = markdown_html("```mermaid\ngraph TD; A-->B & <C>\n```\n")
    assert page == '<pre tabindex="0"><code class="language-mermaid">graph TD; A--&gt;B &amp; &lt;C&gt;\n</code></pre>\n'


def test_code_without_a_language_is_plain_and_its_html_is_text() -> None:
    assert markdown_html("```\n<script>alert(1)</script>\n```\n") == (
        '<pre tabindex="0"><code>&lt;script&gt;alert(1)&lt;/script&gt;\n</code></pre>\n')
    assert markdown_html("    indented <b>code</b>\n") == (
        '<pre tabindex="0"><code>indented &lt;b&gt;code&lt;/b&gt;\n</code></pre>\n')


def test_a_language_name_cannot_break_out_of_its_class() -> None:
    page = markdown_html('```"><script>alert(1)</script>\nx\n```\n')
    assert "<script" not in page and Elements(page).tags("code") == [{}]


def test_code_blocks_inside_quotes_and_lists_are_highlighted_in_place() -> None:
    page = markdown_html("> ```js\n> let a = 1;\n> ```\n\n- item\n\n  ```sql\n  SELECT 1;\n  ```\n")
    assert '<blockquote>\n<pre tabindex="0"><code class="language-js"><span class="kd">let</span>' in page
    assert '<code class="language-sql"><span class="k">SELECT</span>' in page


# --- Markdown as readers expect it ----------------------------------------------
def test_task_lists_show_disabled_checkboxes_labelled_by_their_text() -> None:
    page = markdown_html("- [x] written\n- [ ] published\n")
    boxes = Elements(page).tags("input")
    assert [box.get("type") for box in boxes] == ["checkbox", "checkbox"]
    assert all("disabled" in box for box in boxes)
    assert ["checked" in box for box in boxes] == [True, False]
    assert "<label><input" in page and "[x]" not in page and "[ ]" not in page


def test_footnotes_link_both_ways_with_ids_unique_to_the_post() -> None:
    first = markdown_html("A claim.[^1]\n\n[^1]: The source.\n")
    second = markdown_html("Another claim.[^1]\n\n[^1]: Another source.\n")
    reference = re.search(r'<a href="#(fn-[0-9a-f]{8}-1)" id="(fnref-[0-9a-f]{8}-1)"', first)
    assert reference is not None
    assert f'<li id="{reference[1]}" class="footnote-item">' in first and f'href="#{reference[2]}"' in first
    assert reference[1] not in second


def test_bare_urls_become_links_but_file_names_do_not() -> None:
    page = markdown_html("See https://example.com/docs?page=2. Edit README.md and config.py, or http://old.example.org.")
    assert '<a href="https://example.com/docs?page=2" rel="nofollow noopener">https://example.com/docs?page=2</a>.' in page
    assert '<a href="http://old.example.org" rel="nofollow noopener">' in page
    assert "README.md and config.py" in page


def test_table_alignment_is_a_class_never_a_style_attribute() -> None:
    page = markdown_html("| left | middle | right | none |\n|:--|:-:|--:|---|\n| a | b | c | d |\n")
    assert [cell.get("class") for cell in Elements(page).tags("td")] == ["align-left", "align-center", "align-right", None]
    assert "style" not in page and '<table tabindex="0">' in page


def test_headings_start_below_the_pages_title() -> None:
    page = markdown_html("# one\n## two\n### three\n#### four\n##### five\n###### six\n")
    assert [tag for tag, _ in Elements(page).found] == ["h2", "h3", "h4", "h5", "h6", "h6"]


# --- images -----------------------------------------------------------------------
def test_an_uploaded_image_has_its_size_from_its_name_and_loads_lazily() -> None:
    [image] = Elements(markdown_html(f'![The dashboard]({UPLOAD} "Status")')).tags("img")
    assert image == {"src": UPLOAD, "alt": "The dashboard", "width": "1600", "height": "900", "title": "Status",
                     "loading": "lazy", "decoding": "async"}


def test_an_https_image_shows_with_the_size_its_writer_gave_or_none() -> None:
    sized, unsized = Elements(markdown_html(
        "![a](https://images.example/a.png#640x480) ![b](https://images.example/b.png)")).tags("img")
    assert sized == {"src": "https://images.example/a.png", "alt": "a", "width": "640", "height": "480",
                     "loading": "lazy", "decoding": "async"}
    assert unsized == {"src": "https://images.example/b.png", "alt": "b", "loading": "lazy", "decoding": "async"}


@pytest.mark.parametrize("url", [
    "http://images.example/a.png", "data:image/png;base64,iVBORw0KGgo=", "javascript:alert(1)",
    "/blog/static/favicon.svg", "/blog/media/not-an-upload.webp", "//images.example/a.png", "https:///a.png",
])
def test_only_uploads_and_https_urls_are_images(url: str) -> None:
    page = markdown_html(f"![what it shows]({url})")
    assert "<img" not in page and "what it shows" in page
    assert all(url not in str(value) for _, attributes in Elements(page).found for value in attributes.values())


def test_the_first_image_is_the_first_one_a_reader_sees() -> None:
    source = f"![old](http://a.example/x.png)\n\nText ![one]({UPLOAD}) and ![two](https://b.example/y.png)"
    assert first_image(source) == UPLOAD
    assert first_image("![x](https://b.example/y.png#10x20) then more") == "https://b.example/y.png"
    assert first_image("No images, only a [link](https://a.example/).") is None
    assert first_image('<p><img src="https://c.example/z.png"></p>', mode="seed") == "https://c.example/z.png"
    assert first_image('<p><img src="https://c.example/z.png"></p>') is None  # HTML is text in Markdown mode


def test_the_policy_lets_images_come_from_uploads_and_https_only() -> None:
    directives = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["img-src"] == "'self' https:"
    assert directives["default-src"] == "'self'" and directives["object-src"] == "'none'"
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY and "data:" not in CONTENT_SECURITY_POLICY


# --- the seed's rules -------------------------------------------------------------
def test_seed_mode_keeps_line_breaks_and_inline_formatting() -> None:
    page = markdown_html("first line\nsecond <b>bold</b> <u>under</u> <mark>hi</mark> <kbd>Ctrl</kbd> H<sub>2</sub>O",
                         mode="seed")
    assert page == ("<p>first line<br>\nsecond <b>bold</b> <u>under</u> <mark>hi</mark> <kbd>Ctrl</kbd> "
                    "H<sub>2</sub>O</p>\n")
    assert markdown_html("first line\nsecond") == "<p>first line\nsecond</p>\n"


def test_seed_mode_drops_what_could_run_restyle_or_impersonate_the_page() -> None:
    page = markdown_html(
        '<script>alert(1)</script>\n\n<p onclick="alert(1)" style="color:red" id="main" class="button">x</p>\n\n'
        '<iframe src="https://evil.example"></iframe><form action="/blog/login"><input type="password"></form>\n\n'
        '<h1>Second title</h1>\n\n<a href="javascript:alert(1)">a</a> <img src="http://a.example/t.png" onerror="x">\n\n'
        '<svg><circle r="9"/></svg><style>body{display:none}</style>',
        mode="seed",
    )
    elements = Elements(page)
    assert {tag for tag, _ in elements.found} <= {"p", "a"}, elements.found
    assert "alert" not in page and "display:none" not in page and "Second title" in page
    assert all(set(attributes) <= {"rel"} for _, attributes in elements.found), elements.found


def test_seed_mode_shows_https_images_from_its_html() -> None:
    page = markdown_html('<img src="https://a.example/t.png" width="300" height="abc" alt="t">', mode="seed")
    [image] = Elements(page).tags("img")
    assert image == {"src": "https://a.example/t.png", "width": "300", "alt": "t", "loading": "lazy", "decoding": "async"}
    tricky = '<img alt="a> b src=" src="https://a.example/u.png"> <img alt="src=&quot;x" src="http://a.example/v.png">'
    [kept] = Elements(markdown_html(tricky, mode="seed")).tags("img")
    assert kept["src"] == "https://a.example/u.png"
    assert first_image(tricky, mode="seed") == "https://a.example/u.png"


def test_seed_mode_cannot_forge_a_highlighted_block_or_a_checkbox() -> None:
    page = markdown_html('<pre>held-0.</pre>\n\n```python\nx = 1\n```\n\n- [x] <input type="checkbox">\n', mode="seed")
    assert page.startswith('<pre tabindex="0">held-0.</pre>')
    assert '<code class="language-python"><span class="n">x</span>' in page
    assert len(Elements(page).tags("input")) == 1


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="markdown, seed"):
        markdown_html("x", mode="html")


# --- summaries and reading time ------------------------------------------------------
def test_a_summary_has_no_markdown_or_html_in_it() -> None:
    source = (
        "![A mountain landscape](https://images.example/m.jpg)\n\n"
        "```python\nprint('hi')\n```\n\n"
        "| Service | Port |\n|---|---|\n| gateway | 8000 |\n\n"
        "I moved from [Hugo][hugo] to **Titanium** <b>last</b> week.[^1]\n\n"
        "- [x] done\n\n"
        "[hugo]: https://gohugo.io\n[^1]: A footnote.\n"
    )
    assert summary_text(source) == "I moved from Hugo to Titanium last week. done"


def test_a_post_that_starts_with_code_is_summed_up_by_its_prose() -> None:
    assert summary_text("```bash\nmake install\n```\n\nThen start it.\n") == "Then start it."


def test_a_post_of_nothing_but_code_is_summed_up_by_its_code() -> None:
    assert summary_text("```bash\nmake install\nmake run\n```\n") == "make install make run"


def test_a_long_summary_is_cut_at_a_word_with_an_ellipsis() -> None:
    summary = summary_text(TYPICAL_POST, 200)
    assert len(summary) <= 201 and summary.endswith("…") and not summary.endswith(" …")
    assert summary.startswith("Titanium runs the same code on a laptop and in Kubernetes.")
    assert not re.search(r"[#*`|\[\]<>!]", summary), summary
    assert summary_text("한국어 문장입니다. " * 40, 50) == "한국어 문장입니다. " * 4 + "한국어…"


def test_the_searchable_text_is_every_word_without_markup() -> None:
    source = "# Setup\n\n```bash\nmake install\n```\n\n| Port |\n|---|\n| 8000 |\n\nRun **it** <b>now</b>.[^1]\n\n[^1]: Note.\n"
    assert searchable_text(source) == "Setup make install Port 8000 Run it now."


def test_reading_time_counts_english_by_words_and_korean_by_characters() -> None:
    assert reading_minutes("") == 1
    assert reading_minutes("word " * 238) == 1
    assert reading_minutes("word " * 2380) == 10
    assert reading_minutes("가" * 5000) == 10
    assert reading_minutes("word " * 1190 + "\n\n" + "가" * 2500) == 10
    assert reading_minutes("word " * 2380 + f"\n\n![a]({UPLOAD})" * 12) == 12


def test_the_typical_post_renders_every_feature_once() -> None:
    page = markdown_html(TYPICAL_POST)
    elements = Elements(page)
    assert len(elements.tags("img")) == 1 and len(elements.tags("input")) == 3 and len(elements.tags("table")) == 1
    assert "style=" not in page
