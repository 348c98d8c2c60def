from titanium.services.blog.content import PALETTE, category_color, excerpt, first_free_color, normalise_name, slugify


def test_slug_is_the_name_lower_cased_with_spaces_as_hyphens():
    assert slugify("Cloud Native") == "cloud-native"
    assert slugify("  Dev   Ops ") == "dev-ops"
    assert normalise_name("  Dev \t Ops ") == "Dev Ops"


def test_short_content_is_its_own_excerpt_with_line_breaks_as_spaces():
    assert excerpt("one\ntwo\r\nthree\rfour") == "one two three four"


def test_long_content_is_cut_at_120_characters_plus_ellipsis():
    content = "x" * 119 + "\n" + "y" * 50
    assert excerpt(content) == "x" * 119 + " " + "..."
    assert len(excerpt("z" * 500)) == 123
    assert excerpt("z" * 120) == "z" * 120


def test_colours_are_distinct_long_past_the_palette():
    colours = [category_color(index) for index in range(200)]
    assert colours[: len(PALETTE)] == list(PALETTE)
    assert len(set(colours)) == 200
    assert all(len(colour) == 7 and colour.startswith("#") for colour in colours)


def test_first_free_colour_skips_the_used_ones():
    assert first_free_color(set()) == PALETTE[0]
    assert first_free_color({PALETTE[0], PALETTE[2]}) == PALETTE[1]
    assert first_free_color(set(PALETTE)) not in PALETTE


# --- one naming rule for categories and tags (issue 16, item 7) ---------------------
import pytest  # noqa: E402

from titanium.services.blog.content import MAX_TAGS, InvalidName, checked_name, checked_tags  # noqa: E402


@pytest.mark.parametrize("name", [
    ".", "..", "a/../../api", "x/feed.xml", "Tech/feed.xml", "/x", "x/", "a//b", "-", "...", "🙂", " ",
    "a\x01b", "bell\x07", "te\u200bch", "\u200b", "\ufefftech", "rtl\u202etxt", "soft\u00adhyphen", "\u3164",
    "\u115f\u1160", "\u2800", "x\ufe0f", "e\u034f",
])
def test_names_whose_page_no_link_could_reach_are_refused_with_a_reason(name):
    with pytest.raises(InvalidName) as refused:
        checked_name(name)
    assert str(refused.value).startswith("a category name ")


@pytest.mark.parametrize(("name", "slug"), [
    ("Cloud Native", "cloud-native"), ("  cloud   NATIVE ", "cloud-native"), ("DevOps", "devops"), ("CI/CD", "ci/cd"),
    ("C++", "c++"), ("C#", "c#"), ("feed.xml", "feed.xml"), ("클라우드 네이티브", "클라우드-네이티브"), ("한국어", "한국어"),
    ("Ünïcödé", "ünïcödé"),
])
def test_ordinary_names_keep_the_seed_slug_rule(name, slug):
    assert slugify(checked_name(name)) == slug


def test_a_korean_name_typed_as_jamo_is_the_same_name_as_in_syllables():
    import unicodedata

    assert checked_name(unicodedata.normalize("NFD", "한국어")) == "한국어"


def test_tags_are_checked_by_the_same_rule_kept_once_each_and_capped():
    assert checked_tags(["Rust", " rust ", "RUST", "Go"]) == ["Rust", "Go"]
    with pytest.raises(InvalidName, match="a tag name"):
        checked_tags(["ok", ".."])
    assert len(checked_tags([f"tag {i}" for i in range(MAX_TAGS)])) == MAX_TAGS
    with pytest.raises(InvalidName, match=f"at most {MAX_TAGS} tags"):
        checked_tags([f"tag {i}" for i in range(MAX_TAGS + 1)])


def test_a_name_longer_than_its_column_is_refused():
    assert checked_name("x" * 50) == "x" * 50
    with pytest.raises(InvalidName, match="at most 50"):
        checked_name("x" * 51)
