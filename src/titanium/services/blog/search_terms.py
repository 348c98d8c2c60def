"""What a reader types into the search box, made safe for the two full-text engines, and their marks made safe for a page.

User input never reaches FTS5's or tsquery's syntax as it is: it is cut into
words (letters, digits and joiners in any script: Korean as much as English),
and each word is written as a quoted term of the engine's own syntax. Quotes,
NEAR, AND/OR/NOT, `*`, `-`, `:`, `&`, `!`, parentheses and emoji are not
words, so none of them can make a query the engine cannot parse.

English words match by their stem (both engines stem them: "runs" finds
"running"). A word in another script matches as a prefix: a Korean word is
written with its particles attached ("블로그를"), which no stemmer here takes
off, and a search for "블로그" must find it. English words are not prefixes:
a prefix of a common word reads the postings of every word it begins, which
cost FTS5 a tenth of a second and more at 100,000 posts.

The engines mark the matched words with two private-use characters; the text
is HTML-escaped whole and only then are the marks turned into <mark> tags, so
the snippet is safe to put in a page as it is.
"""

from __future__ import annotations

import html
import re
import unicodedata

MAX_WORDS = 8
MAX_WORD_LENGTH = 64
MARK_START = "\ue000"
MARK_END = "\ue001"
_WORD = re.compile(r"\w+")
_MARKED = re.compile(f"{MARK_START}([^{MARK_START}{MARK_END}]*){MARK_END}")
_STRAY_MARK = re.compile(f"[{MARK_START}{MARK_END}]")


def query_words(query: str) -> list[str]:
    """The query's words, lower-cased, each once, at most MAX_WORDS of them (an empty list: nothing to look for)."""
    words: list[str] = []
    for word in _WORD.findall(unicodedata.normalize("NFC", query).lower()):
        word = word[:MAX_WORD_LENGTH]
        if word not in words:
            words.append(word)
    return words[:MAX_WORDS]


def _is_prefix(word: str) -> bool:
    # One letter as a prefix would match most of the index, at its cost.
    return len(word) > 1 and not word.isascii()


def fts5_match(words: list[str]) -> str:
    """An FTS5 MATCH expression finding every word: `"word" "블로그"*`."""
    return " ".join('"' + word.replace('"', '""') + '"' + ("*" if _is_prefix(word) else "") for word in words)


def tsquery_text(words: list[str]) -> str:
    """A to_tsquery() text finding every word: `'word' & '블로그':*`."""
    return " & ".join("'" + word.replace("\\", "\\\\").replace("'", "''") + "'" + (":*" if _is_prefix(word) else "")
                      for word in words)


def marked_html(text: str) -> str:
    """The engine's marked text as HTML: escaped, each marked run in <mark>, any unpaired mark dropped."""
    escaped = html.escape(text, quote=True)
    return _STRAY_MARK.sub("", _MARKED.sub(r"<mark>\1</mark>", escaped))
