"""The languages the blog's pages speak, Korean and English, and which one a reader gets.

The words are gettext catalogs (Babel) in locale/: domain `blog` for the
templates and the pages' Python, `blog_script` for blog.js. English is the
source language (the msgids), so only Korean has catalogs; their .mo files
are compiled from the .po files when Titanium is built or installed
(hatch_build.py). A reader's language is the one their switch set (a
cookie), else the first one the blog speaks in their Accept-Language, else
the site's own (settings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from babel import negotiate_locale
from babel.dates import format_date
from babel.messages.mofile import read_mo
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
SOURCE_LANGUAGE = "en"
# Each language by its own name, as the switch shows it, in the switch's order.
LANGUAGE_NAMES = {"en": "English", "ko": "한국어"}
PAGES_DOMAIN = "blog"
SCRIPT_DOMAIN = "blog_script"
LANGUAGE_COOKIE = "titanium_language"
_MAX_ACCEPTED = 20  # language ranges read from one Accept-Language, at most


class CatalogMissing(RuntimeError):
    """A language's compiled catalog is absent: Titanium was run from a tree it was not installed from."""


@dataclass(frozen=True)
class Language:
    """One language of the pages: its words for the pages and for the script, and its dates."""

    code: str
    name: str
    translations: NullTranslations
    script_messages: dict[str, str | list[str]] = field(default_factory=dict)

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, number: int) -> str:
        return self.translations.ngettext(singular, plural, number)

    def date(self, moment: datetime) -> str:
        """A day as a reader of this language writes it: "3 November 2025" is "2025년 11월 3일" in Korean."""
        return format_date(moment, "long", locale=self.code)


def _catalog_path(code: str, domain: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{domain}.mo"


def _load(code: str) -> Language:
    if code == SOURCE_LANGUAGE:
        return Language(code, LANGUAGE_NAMES[code], NullTranslations())
    paths = [_catalog_path(code, domain) for domain in (PAGES_DOMAIN, SCRIPT_DOMAIN)]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise CatalogMissing(f"the compiled message catalogs {missing} are missing: install Titanium "
                             "(`make install` or `pip install .`), which compiles them from the .po files")
    with paths[0].open("rb") as pages_catalog:
        translations = Translations(pages_catalog, domain=PAGES_DOMAIN)
    return Language(code, LANGUAGE_NAMES[code], translations, _script_messages(paths[1]))


def _script_messages(path: Path) -> dict[str, str | list[str]]:
    """The script's catalog as the script reads it: msgid to its text, or to its plural forms."""
    with path.open("rb") as source:
        catalog = read_mo(source)
    messages: dict[str, str | list[str]] = {}
    for message in catalog:
        if not message.id or not message.string:
            continue
        if isinstance(message.id, (tuple, list)):  # a plural: read_mo gives its forms as a list
            messages[message.id[0]] = list(message.string)
        else:
            messages[str(message.id)] = str(message.string)
    return messages


@lru_cache(maxsize=1)
def languages() -> dict[str, Language]:
    """Every language the pages speak, loaded once."""
    return {code: _load(code) for code in LANGUAGE_NAMES}


def _accepted(header: str) -> list[str]:
    """The language ranges of an Accept-Language header, most wanted first (RFC 9110, 12.5.4); none with q=0."""
    weighted = []
    for position, item in enumerate(header.split(",")[:_MAX_ACCEPTED]):
        tag, _, parameters = item.strip().partition(";")
        quality = 1.0
        name, _, value = parameters.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                continue
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, position, tag.strip().lower()))
    return [tag for *_, tag in sorted(weighted)]


@lru_cache(maxsize=1024)
def choose(cookie: str | None, accept_language: str | None, default: str) -> str:
    """The code of the language a reader gets: their switch's choice, else their browser's, else `default`."""
    if cookie in LANGUAGE_NAMES:
        return cookie
    if accept_language:
        found = negotiate_locale(_accepted(accept_language), list(LANGUAGE_NAMES), sep="-")
        if found is not None:
            return found
    return default

