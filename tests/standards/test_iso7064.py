"""ISO/IEC 7064 MOD 37-2, STANDARDS.md section 1, against ../shared/data/isbt128/ vectors."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from vein2vein.standards.iso7064 import CHARSET, is_valid_mod37_2, mod37_2, mod37_2_value

DATA = Path(__file__).resolve().parents[1] / "data" / "isbt128"  # copied from shared/data
DATA_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


VECTORS = _rows("mod37_2_vectors.csv")
INVALID = _rows("mod37_2_invalid.csv")


def _pure_system_sum(text: str) -> int:
    """ISO 7064 pure-system definition, independent of the implementation's loop: the
    weighted sum of data + check character, weights 2^i from the right, is 1 mod 37."""
    n = len(text)
    return sum(CHARSET.index(c) * pow(2, n - 1 - i, 37) for i, c in enumerate(text)) % 37


def test_charset_is_the_37_characters_in_value_order():
    assert CHARSET == "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
    assert len(set(CHARSET)) == 37


def test_vector_files_are_present_and_not_trivially_small():
    assert len(VECTORS) == 141
    assert len(INVALID) == 125
    assert sum(row["kind"] == "isbt128_din_K" for row in VECTORS) == 11


@pytest.mark.parametrize("row", VECTORS, ids=[r["input"][:20] for r in VECTORS])
def test_every_published_vector_gives_its_check_character(row):
    assert mod37_2(row["input"]) == row["check_char"]
    assert is_valid_mod37_2(row["input"] + row["check_char"]) is True


def _expected_outcome(text: str) -> str:
    """The decision per invalid row: a character outside the sets is a ValueError,
    otherwise the check character is simply wrong (False)."""
    data_ok = all(c in DATA_CHARS for c in text[:-1])
    return "False" if data_ok and text[-1:] in CHARSET else "ValueError"


def test_every_invalid_row_is_a_wrong_check_character_not_a_bad_character():
    # Looked at row by row: all 125 use only 0-9, A-Z (and * as check), so each must be False.
    outcomes = {_expected_outcome(r["full_string_with_check_char"]) for r in INVALID}
    assert outcomes == {"False"}
    assert {r["expected_valid"] for r in INVALID} == {"false"}


@pytest.mark.parametrize(
    "text",
    [r["full_string_with_check_char"] for r in INVALID],
    ids=[r["full_string_with_check_char"][:20] for r in INVALID],
)
def test_every_invalid_row_fails_validation(text):
    assert is_valid_mod37_2(text) is False


@pytest.mark.parametrize(
    ("din", "value", "check"),
    [
        ("G123417654321", 10, "A"),  # ST-001 Appendix A.1 worked example
        ("A999921123456", 3, "3"),
        ("W000009123456", 16, "G"),
        ("A999818123456", 23, "N"),
        ("G123498654321", 17, "H"),
        ("A999917345628", 36, "*"),  # * is a real check character
    ],
)
def test_standards_examples_value_and_character(din, value, check):
    assert mod37_2_value(din) == value
    assert mod37_2(din) == check
    assert CHARSET[value] == check


def test_star_is_a_valid_check_character():
    assert is_valid_mod37_2("A999917345628*") is True
    assert is_valid_mod37_2("A999917345628A") is False


@pytest.mark.parametrize(
    ("data", "char", "position"),
    [
        ("a9999", "'a'", 1),  # lower case is outside the set
        ("A999921123456x", "'x'", 14),
        ("A99*9", "'*'", 4),  # * is a check character, never data
        ("A 999", "' '", 2),
        ("A99\u00e99", "'\u00e9'", 4),
        ("A9\u00b2", "'\u00b2'", 3),  # superscript two is not a digit here
        ("AB\n", "'\\n'", 3),
    ],
)
def test_character_outside_the_set_is_named_with_its_position(data, char, position):
    with pytest.raises(ValueError, match="not allowed") as caught:
        mod37_2(data)
    assert f"character {char} at position {position}" in str(caught.value)
    with pytest.raises(ValueError, match="not allowed") as caught:
        mod37_2_value(data)
    assert f"at position {position}" in str(caught.value)


def test_empty_data_is_refused():
    with pytest.raises(ValueError, match="data is empty"):
        mod37_2("")
    with pytest.raises(ValueError, match="data is empty"):
        mod37_2_value("")


def test_validation_refuses_empty_and_lone_check_character():
    with pytest.raises(ValueError, match="text is empty"):
        is_valid_mod37_2("")
    with pytest.raises(ValueError, match="data is empty"):
        is_valid_mod37_2("A")


def test_validation_names_a_bad_character_in_data_or_check_position():
    with pytest.raises(ValueError, match=r"character 'a' at position 14 .*check character"):
        is_valid_mod37_2("A999921123456a")
    with pytest.raises(ValueError, match=r"character 'b' at position 2 "):
        is_valid_mod37_2("Ab99921123456" + "3")
    with pytest.raises(ValueError, match=r"character '\*' at position 1 "):
        is_valid_mod37_2("*3")


def test_non_text_input_is_a_value_error():
    with pytest.raises(ValueError, match="must be text"):
        mod37_2(1234)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be text"):
        is_valid_mod37_2(None)  # type: ignore[arg-type]


_data = st.text(alphabet=DATA_CHARS, min_size=1, max_size=40)


@given(_data)
def test_check_character_satisfies_the_pure_system_definition(data):
    full = data + mod37_2(data)
    assert _pure_system_sum(full) == 1
    assert is_valid_mod37_2(full) is True
    assert 0 <= mod37_2_value(data) <= 36


@given(_data, st.sampled_from(CHARSET))
def test_exactly_one_check_character_is_valid(data, check):
    assert is_valid_mod37_2(data + check) is (check == mod37_2(data))


_thirteen = st.text(alphabet=DATA_CHARS, min_size=13, max_size=13)


@given(_thirteen, st.integers(0, 13), st.sampled_from(CHARSET))
def test_any_single_substitution_is_caught(data, position, replacement):
    full = data + mod37_2(data)
    assume(full[position] != replacement)
    if position < 13:
        assume(replacement != "*")  # * in data is refused outright, tested above
    altered = full[:position] + replacement + full[position + 1 :]
    assert is_valid_mod37_2(altered) is False


@given(_thirteen, st.integers(0, 12))
def test_any_adjacent_transposition_is_caught(data, position):
    full = data + mod37_2(data)
    assume(full[position] != full[position + 1])
    swapped = full[:position] + full[position + 1] + full[position] + full[position + 2 :]
    if "*" in swapped[:-1]:
        # a * check character moved into the data: refused as a bad character
        with pytest.raises(ValueError, match=r"character '\*' at position 13"):
            is_valid_mod37_2(swapped)
    else:
        assert is_valid_mod37_2(swapped) is False
