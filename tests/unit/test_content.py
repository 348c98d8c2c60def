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
