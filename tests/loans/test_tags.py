"""Asset tags: unambiguous alphabet, check character catching every typo of one character or one swap."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loans import tags

data_strings = st.text(alphabet=tags.ALPHABET, min_size=tags.DATA_LENGTH, max_size=tags.DATA_LENGTH)


def test_generated_tags_are_short_unambiguous_and_valid():
    # Uniqueness is the database's job (unique index + retry, tested in test_operations).
    generated = [tags.generate() for _ in range(2000)]
    assert len(set(generated)) > 1900  # random over 31**5 codes, not a constant
    for tag in generated:
        assert len(tag) == 6
        assert not set(tag) & set("01ILO")
        assert tags.is_valid(tag)


@settings(max_examples=300)
@given(data_strings, st.integers(0, tags.LENGTH - 1), st.sampled_from(tags.ALPHABET))
def test_every_single_substitution_is_detected(data, position, replacement):
    tag = data + tags.check_character(data)
    typo = tag[:position] + replacement + tag[position + 1:]
    if typo != tag:
        assert not tags.is_valid(typo)
        with pytest.raises(tags.TagError) as exc:
            tags.normalise(typo)
        assert exc.value.reason == "checksum"


@settings(max_examples=300)
@given(data_strings, st.integers(0, tags.LENGTH - 2))
def test_every_adjacent_swap_is_detected(data, position):
    tag = data + tags.check_character(data)
    swapped = tag[:position] + tag[position + 1] + tag[position] + tag[position + 2:]
    if swapped != tag:
        assert not tags.is_valid(swapped)


@pytest.mark.parametrize(
    "typed",
    ["{t}", " {t} ", "{lower}", "http://localhost/d/{t}", "HTTP://LOCALHOST/D/{t}", " https://pret.example.org/d/{lower}/ "],
)
def test_normalise_accepts_tag_or_label_url_in_any_case(typed):
    tag = tags.generate()
    assert tags.normalise(typed.format(t=tag, lower=tag.lower())) == tag


@pytest.mark.parametrize("typed", ["", "   ", "ABC", "ABCDEFGH", "AB0DE1", "hello world", "http://x/d/"])
def test_normalise_refuses_what_cannot_be_a_tag(typed):
    with pytest.raises(tags.TagError) as exc:
        tags.normalise(typed)
    assert exc.value.reason == "format"
