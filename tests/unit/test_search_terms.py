import pytest

from titanium.services.blog.search_terms import (
    MARK_END,
    MARK_START,
    MAX_WORDS,
    fts5_match,
    marked_html,
    query_words,
    tsquery_text,
)


def test_words_are_letters_and_digits_in_any_script_lower_cased_once_each():
    assert query_words("Running  RUNNING fast") == ["running", "fast"]
    assert query_words("블로그를 검색") == ["블로그를", "검색"]
    assert query_words('"quoted" NEAR(a b) -minus *star (x) AND OR NOT') == [
        "quoted", "near", "a", "b", "minus", "star", "x", "and"][:MAX_WORDS]
    assert query_words("🙂 ** () '' \" - : & | !") == []
    assert len(query_words(" ".join(f"w{i}" for i in range(50)))) == MAX_WORDS


@pytest.mark.parametrize("query", ['"', "'", "NEAR", "*", "-x", "(", ")", "a:b", "x & y", "!x", "\\", "'it''s'", "^a"])
def test_engine_syntax_in_a_query_becomes_quoted_words(query):
    words = query_words(query)
    match = fts5_match(words)
    tsquery = tsquery_text(words)
    for word in words:
        assert f'"{word}"' in match and f"'{word}'" in tsquery


def test_words_beyond_ascii_match_as_prefixes_and_english_words_by_their_stem():
    assert fts5_match(["블로그", "running", "글"]) == '"블로그"* "running" "글"'
    assert tsquery_text(["블로그", "running", "글"]) == "'블로그':* & 'running' & '글'"


def test_marked_text_is_escaped_and_only_the_marks_become_tags():
    text = f"<script>alert(1)</script> {MARK_START}run{MARK_END} & \"more\" {MARK_START}<b>{MARK_END}"
    assert marked_html(text) == ("&lt;script&gt;alert(1)&lt;/script&gt; <mark>run</mark> &amp; &quot;more&quot; "
                                 "<mark>&lt;b&gt;</mark>")


def test_unpaired_marks_never_leave_an_open_tag():
    assert marked_html(f"a {MARK_START}b {MARK_START}c{MARK_END} d{MARK_END}") == "a b <mark>c</mark> d"
    assert marked_html(f"{MARK_END}x{MARK_START}") == "x"
