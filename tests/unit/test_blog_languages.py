"""The blog's languages: which one a reader gets, and catalogs that are complete and current.

The catalogs' checks are what `make messages` would change: a message in the code that the .pot
lacks, a Korean message left untranslated, or a compiled .mo older than its .po all fail here,
saying what to run.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from titanium.services.blog.languages import LANGUAGE_NAMES, LOCALE_DIR, choose, languages
from titanium.services.blog.pagination import GAP, last_page, page_numbers
from titanium.services.blog.preferences import safe_next

BLOG_DIR = LOCALE_DIR.parent
DOMAINS = {"blog": {}, "blog_script": {"t": None, "tn": (1, 2)}}  # each domain's extra keywords (as in the Makefile)
TRANSLATED = [code for code in LANGUAGE_NAMES if code != "en"]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


@pytest.mark.parametrize(("cookie", "accept_language", "default", "expected"), [
    (None, "ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", "en", "ko"),
    (None, "en-US,en;q=0.9,ko;q=0.8", "ko", "en"),
    (None, "fr-FR, ko;q=0.5, en;q=0.4", "en", "ko"),  # the first language the blog speaks, by weight
    (None, "en;q=0.1, ko;q=0.9", "en", "ko"),
    (None, "ko;q=0, en", "ko", "en"),  # q=0 means "not this one"
    (None, "KO-kr", "en", "ko"),
    (None, "de-DE, fr", "ko", "ko"),  # none the blog speaks: the site's language
    (None, "*", "en", "en"),
    (None, ";;,q=,,", "en", "en"),
    (None, None, "ko", "ko"),
    ("en", "ko-KR", "ko", "en"),  # the switch's choice wins
    ("ko", "en", "en", "ko"),
    ("fr", "ko", "en", "ko"),  # a cookie that names no language of ours is ignored
])
def test_a_reader_gets_their_switch_then_their_browser_then_the_site_language(cookie, accept_language, default,
                                                                              expected) -> None:
    assert choose(cookie, accept_language, default) == expected


def test_dates_are_written_as_each_language_writes_them() -> None:
    day = datetime(2025, 11, 3, 9, 30, tzinfo=UTC)
    assert languages()["ko"].date(day) == "2025년 11월 3일"
    assert languages()["en"].date(day) == "November 3, 2025"


def test_korean_translates_the_pages_and_the_script() -> None:
    korean = languages()["ko"]
    assert korean.gettext("Latest posts") == "최신 글"
    assert korean.ngettext("%(num)d min read", "%(num)d min read", 7) % {"num": 7} == "7분 분량"
    assert korean.script_messages["Log out"] == "로그아웃"
    assert languages()["en"].script_messages == {}  # blog.js is written in English


def _extracted(domain: str) -> set[str]:
    with (LOCALE_DIR / f"{domain}.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    keywords = {**DEFAULT_KEYWORDS, **DOMAINS[domain]}
    return {message[2] if isinstance(message[2], str) else message[2][0]
            for message in extract_from_dir(BLOG_DIR, method_map, options_map, keywords)}


def _catalog(path: Path) -> Catalog:
    with path.open("rb") as source:
        return read_po(source) if path.suffix in (".po", ".pot") else read_mo(source)


def _texts(catalog: Catalog) -> dict[object, object]:
    """msgid to msgstr, plural forms as tuples (a .po and a .mo give them as tuples and lists)."""
    def plain(value: object) -> object:
        return value if isinstance(value, str) else tuple(value)  # type: ignore[call-overload]

    return {plain(message.id): plain(message.string) for message in catalog if message.id}


def _ids(catalog: Catalog) -> set[str]:
    return {message.id if isinstance(message.id, str) else message.id[0] for message in catalog if message.id}


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_message_template_holds_every_message_of_the_code(domain: str) -> None:
    in_code, in_template = _extracted(domain), _ids(_catalog(LOCALE_DIR / f"{domain}.pot"))
    assert in_code == in_template, (f"the code and locale/{domain}.pot differ (run `make messages`): "
                                    f"new {sorted(in_code - in_template)}, gone {sorted(in_template - in_code)}")


@pytest.mark.parametrize("code", TRANSLATED)
@pytest.mark.parametrize("domain", DOMAINS)
def test_every_message_is_translated_with_the_same_placeholders(code: str, domain: str) -> None:
    template = _ids(_catalog(LOCALE_DIR / f"{domain}.pot"))
    catalog = _catalog(LOCALE_DIR / code / "LC_MESSAGES" / f"{domain}.po")
    assert _ids(catalog) == template, f"run `make messages`: {code}/{domain}.po does not hold the template's messages"
    problems = []
    for message in (message for message in catalog if message.id):
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if message.fuzzy or not all(strings):
            problems.append(f"untranslated: {ids[0]!r}")
        elif any(set(PLACEHOLDER.findall(string)) != set(PLACEHOLDER.findall(ids[-1])) for string in strings):
            problems.append(f"placeholders differ: {ids[0]!r} -> {strings!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("code", TRANSLATED)
@pytest.mark.parametrize("domain", DOMAINS)
def test_the_compiled_catalogs_are_those_of_the_po_files(code: str, domain: str) -> None:
    source = LOCALE_DIR / code / "LC_MESSAGES" / f"{domain}.po"
    compiled = source.with_suffix(".mo")
    assert compiled.is_file(), f"{compiled} is missing: `make install` (or `make messages`) compiles it"
    as_written, as_compiled = _texts(_catalog(source)), _texts(_catalog(compiled))
    assert as_compiled == as_written, f"{compiled} is older than {source.name}: run `make messages`"


@pytest.mark.parametrize(("current", "last", "shown"), [
    (1, 1, [1]),
    (1, 3, [1, 2, 3]),
    (1, 20, [1, 2, GAP, 20]),
    (3, 20, [1, 2, 3, 4, GAP, 20]),
    (4, 20, [1, 2, 3, 4, 5, GAP, 20]),  # 2 instead of "…": the same room
    (10, 20, [1, GAP, 9, 10, 11, GAP, 20]),
    (20, 20, [1, GAP, 19, 20]),
])
def test_a_pager_shows_the_pages_around_the_current_one_and_both_ends(current: int, last: int, shown: list) -> None:
    assert page_numbers(current, last) == shown


def test_an_empty_list_still_has_its_first_page() -> None:
    assert (last_page(0, 10), last_page(10, 10), last_page(11, 10)) == (1, 1, 2)


@pytest.mark.parametrize(("asked", "sent_to"), [
    ("/blog/posts/3-a-post", "/blog/posts/3-a-post"), ("/blog/?page=2", "/blog/?page=2"), ("/blog", "/blog"),
    ("https://elsewhere.example/", "/blog/"), ("//elsewhere.example", "/blog/"), ("/blog\\@elsewhere", "/blog/"),
    ("/blogs", "/blog/"), ("/blog/api/posts", "/blog/"), ("/blog/ x", "/blog/"), (None, "/blog/"), ("", "/blog/"),
])
def test_a_switch_sends_the_reader_back_only_to_a_page_of_the_blog(asked: str | None, sent_to: str) -> None:
    assert safe_next(asked) == sent_to
