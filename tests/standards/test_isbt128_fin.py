"""ISBT 128 Facility Identification Number (FIN) rule, STANDARDS.md section 1.

A FIN is five characters: the first is A-N, P-Z or 1-9 (never O, never 0); the second and
third are A-N, P-Z or 0-9; the fourth and fifth are digits.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from vein2vein.standards.isbt128 import fin_problem

LETTERS = "".join(c for c in string.ascii_uppercase if c != "O")
FIRST = LETTERS + "123456789"
MIDDLE = LETTERS + string.digits
DIGITS = string.digits


def _is_fin(value: str) -> bool:
    """The rule restated independently of the implementation."""
    return (
        len(value) == 5
        and value[0] in FIRST
        and value[1] in MIDDLE
        and value[2] in MIDDLE
        and value[3] in DIGITS
        and value[4] in DIGITS
    )


@pytest.mark.parametrize(
    "fin",
    [
        "A9999",  # STANDARDS.md example DIN A999921123456
        "W0000",  # example DIN W000009123456
        "G1234",  # example DIN G123417654321
        "12345",  # a non-zero digit may lead
        "9ZZ99",
        "NPA00",  # N and P sit either side of the excluded O
        "P0N12",
        "Z9A00",
    ],
)
def test_valid_fins(fin):
    assert fin_problem(fin) is None


@pytest.mark.parametrize(
    ("fin", "says"),
    [
        ("O1234", "first character"),  # O is never used
        ("01234", "first character"),  # nor 0
        ("A99", "5 characters"),
        ("", "5 characters"),
        ("A99999", "5 characters"),
        ("AO123", "characters 2-3"),  # O in position 2
        ("A1O23", "characters 2-3"),  # O in position 3
        ("A12B4", "characters 4-5"),
        ("A123B", "characters 4-5"),
        ("a9999", "first character"),  # lower case is not in the alphabet
        ("Aa999", "characters 2-3"),
        ("-1234", "first character"),
        ("A 123", "characters 2-3"),
        ("A12\u00b23", "characters 4-5"),  # superscript two: isdigit() but not a digit here
        ("A12\u0663\u0664", "characters 4-5"),  # Arabic-Indic digits
        ("\u00c19999", "first character"),  # A with acute accent
    ],
)
def test_invalid_fins_name_the_rule_broken(fin, says):
    problem = fin_problem(fin)
    assert problem is not None
    assert says in problem


_fin = st.builds(
    lambda a, b, c, d, e: a + b + c + d + e,
    st.sampled_from(FIRST),
    st.sampled_from(MIDDLE),
    st.sampled_from(MIDDLE),
    st.sampled_from(DIGITS),
    st.sampled_from(DIGITS),
)


@given(_fin)
def test_every_fin_built_by_the_rule_is_valid(fin):
    assert fin_problem(fin) is None


@given(
    st.one_of(
        _fin,
        st.text(max_size=8),
        # near misses: five characters from the FIN alphabets plus O, lower case and a space
        st.text(alphabet=MIDDLE + "Oo0a ", min_size=5, max_size=5),
    )
)
def test_fin_problem_agrees_with_the_rule_on_any_text(value):
    problem = fin_problem(value)
    assert (problem is None) == _is_fin(value)
    if problem is not None:
        assert isinstance(problem, str) and problem


@given(
    _fin,
    st.integers(0, 4),
    st.characters(exclude_categories=["Cs"]),
)
def test_one_wrong_character_is_refused(fin, position, char):
    allowed = (FIRST, MIDDLE, MIDDLE, DIGITS, DIGITS)[position]
    assume(char not in allowed)
    broken = fin[:position] + char + fin[position + 1 :]
    assert fin_problem(broken) is not None


@given(_fin, st.text(min_size=1, max_size=3))
def test_wrong_length_is_refused(fin, extra):
    assert "5 characters" in (fin_problem(fin + extra) or "")
    assert "5 characters" in (fin_problem(fin[: len(fin) - len(extra)]) or "")


@given(_fin)
def test_letter_o_anywhere_but_the_digits_is_refused(fin):
    for position in (0, 1, 2):
        assert fin_problem(fin[:position] + "O" + fin[position + 1 :]) is not None
