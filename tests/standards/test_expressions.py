"""The formula language of calculation steps: exact Decimal results and refusals by column."""

from __future__ import annotations

import contextlib
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vein2vein.standards import expressions
from vein2vein.standards.expressions import FormulaError, evaluate, parse


def D(text: str) -> Decimal:
    return Decimal(text)


def refused(formula: str, values: dict[str, Decimal] | None = None) -> FormulaError:
    with pytest.raises(FormulaError) as caught:
        evaluate(formula, values or {})
    return caught.value


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("10 - 4 - 3", "3"),  # left to right
        ("8 / 4 / 2", "1"),
        ("2 * 3 ** 2", "18"),  # ** binds tighter than *
        ("-2 ** 2", "-4"),  # ... and tighter than unary minus, as on paper
        ("(-2) ** 2", "4"),
        ("2 ** -1", "0.5"),
        ("--3", "3"),
        ("-(1 - 4)", "3"),
        ("0.1 + 0.2", "0.3"),  # Decimal, not binary floating point
        (".5 * 4", "2.0"),
        ("2.5E8 / 1e8", "2.5"),
        ("1 / 3", "0.3333333333333333333333333333"),  # 28 significant digits
        ("-0 * 1", "0"),
        ("min(3, 1, 2)", "1"),
        ("max(1, 5, 2)", "5"),
        ("abs(-3)", "3"),
        ("ceil(1.2)", "2"),
        ("floor(-1.2)", "-2"),
        ("sqrt(16)", "4"),
        ("sqrt(2)", "1.414213562373095048801688724"),
    ],
)
def test_arithmetic_and_precedence(formula: str, expected: str) -> None:
    result = evaluate(formula, {})
    assert result == D(expected)
    assert str(result) == expected


def test_negative_zero_is_returned_as_zero() -> None:
    result = evaluate("-x", {"x": D("0.00")})
    assert str(result) == "0.00"
    assert not result.is_signed()


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("round(2.5)", "3"),
        ("round(3.5)", "4"),
        ("round(-2.5)", "-3"),  # half away from zero, unlike Python's round()
        ("round(2.345, 2)", "2.35"),
        ("round(1.25, 1)", "1.3"),
        ("round(2.344, 2)", "2.34"),
        ("round(1234, -2)", "1.2E+3"),
    ],
)
def test_round_is_half_up(formula: str, expected: str) -> None:
    assert str(evaluate(formula, {})) == expected


def test_names_with_dots_are_looked_up_whole() -> None:
    values = {
        "cells": D("1.0e8"),
        "param.target_moi": D("5"),
        "vector_thaw.titer_tu_per_ml": D("2.4e8"),
    }
    result = evaluate("cells * param.target_moi / vector_thaw.titer_tu_per_ml", values)
    assert result == D("2.083333333333333333333333333")


def test_ints_are_accepted_as_values_and_extra_values_ignored() -> None:
    assert evaluate("x * 2", {"x": 21, "unused": D("1")}) == 42


def test_names_are_listed_in_the_expression() -> None:
    expression = parse("min(a, b.c) + param.x - a")
    assert expression.names == frozenset({"a", "b.c", "param.x"})
    assert parse("2 + 3").names == frozenset()


def test_expressions_compare_by_source_and_keep_it() -> None:
    assert parse("a + b") == parse("a + b")
    assert parse("a + b") != parse("a+b")
    assert hash(parse("a")) == hash(parse("a"))
    assert str(parse("a + 1")) == "a + 1"
    assert repr(parse("a")) == "Expression('a')"


def test_a_parsed_expression_evaluates_many_times() -> None:
    expression = parse("x * 2")
    assert expression.evaluate({"x": D("1.5")}) == D("3.0")
    assert expression.evaluate({"x": D("4")}) == D("8")


@pytest.mark.parametrize(
    ("formula", "message", "column"),
    [
        ("min(1)", "min() at column 1 takes at least 2 arguments, got 1", 1),
        ("max()", "max() at column 1 takes at least 2 arguments, got 0", 1),
        ("abs(1, 2)", "abs() at column 1 takes 1 argument, got 2", 1),
        ("1 + sqrt()", "sqrt() at column 5 takes 1 argument, got 0", 5),
        ("round(1, 2, 3)", "round() at column 1 takes 1 to 2 arguments, got 3", 1),
        ("foo(1)", "unknown function 'foo' at column 1", 1),
        ("open(1)", "unknown function 'open' at column 1", 1),
        ("min + 1", "'min' at column 1 is a function: write min(...)", 1),
    ],
)
def test_functions_and_argument_counts(formula: str, message: str, column: int) -> None:
    error = refused(formula)
    assert str(error) == message
    assert error.column == column


@pytest.mark.parametrize(
    ("formula", "message", "column"),
    [
        ("1 / 0", "division by zero at column 3", 3),
        ("1 / (x - 2)", "division by zero at column 3", 3),
        ("0 ** -1", "division by zero at column 3: 0 to a negative power", 3),
        ("0 ** 0", "0 ** 0 at column 3 is undefined", 3),
        ("sqrt(-1)", "sqrt() at column 1 of a negative number (-1)", 1),
        ("1e999999 * 10", "overflow at column 10: the result is too large", 10),
        (
            "round(1.5, 0.5)",
            "round() at column 1: places must be a whole number from -28 to 28, got 0.5",
            1,
        ),
    ],
)
def test_evaluation_errors(formula: str, message: str, column: int) -> None:
    error = refused(formula, {"x": D("2")})
    assert str(error) == message
    assert error.column == column


@pytest.mark.parametrize("formula", ["2 ** 3 ** 2", "2 ** 0.5", "2 ** x", "2 ** 11"])
def test_exponent_must_be_a_small_whole_number(formula: str) -> None:
    error = refused(formula, {"x": D("2")})
    assert str(error) == (
        "the exponent of '**' at column 3 must be a whole number from -10 to 10, "
        "written as a number"
    )
    assert error.column == 3


def test_unknown_names_are_refused_with_their_column() -> None:
    error = refused("1 + weight * 2", {"height": D("1")})
    assert str(error) == "unknown name 'weight' at column 5"
    assert error.column == 5


@pytest.mark.parametrize(
    ("formula", "message", "column"),
    [
        ("__import__('os')", 'unexpected character "\'" at column 12', 12),
        ("lambda: 1", "unexpected character ':' at column 7", 7),
        ("a[0]", "unexpected character '[' at column 2", 2),
        ("1; 2", "unexpected character ';' at column 2", 2),
        ('"text"', "unexpected character '\"' at column 1", 1),
        ("x == 1", "unexpected character '=' at column 3", 3),
        ("A + 1", "unexpected character 'A' at column 1 (names are lower case)", 1),
        ("cells * Moi", "unexpected character 'M' at column 9 (names are lower case)", 9),
        ("1 +", "unexpected end of formula at column 4: expected a number, a name, '(' or '-'", 4),
        (
            "(1",
            "unexpected end of formula at column 3: expected ')' to close the '(' at column 1",
            3,
        ),
        ("1 2", "unexpected '2' at column 3: expected an operator", 3),
        ("*2", "unexpected '*' at column 1: expected a number, a name, '(' or '-'", 1),
    ],
)
def test_anything_python_like_is_refused(formula: str, message: str, column: int) -> None:
    with pytest.raises(FormulaError) as caught:
        parse(formula)
    assert str(caught.value) == message
    assert caught.value.column == column


def test_attribute_access_is_only_a_name_that_is_not_known() -> None:
    expression = parse("a.__class__")
    assert expression.names == frozenset({"a.__class__"})
    with pytest.raises(FormulaError, match=r"^unknown name 'a.__class__' at column 1$"):
        expression.evaluate({"a": D("1")})


def test_import_spelled_as_a_call_is_an_unknown_function() -> None:
    with pytest.raises(FormulaError, match=r"^unknown function '__import__' at column 1$"):
        parse("__import__(os)")


def test_formula_errors_are_value_errors() -> None:
    assert issubclass(FormulaError, ValueError)


def test_empty_and_non_text_formulas() -> None:
    with pytest.raises(FormulaError) as caught:
        parse("   ")
    assert str(caught.value) == "formula is empty"
    assert caught.value.column is None
    with pytest.raises(FormulaError, match=r"^formula must be text, got int$"):
        parse(5)  # type: ignore[arg-type]


def test_too_long() -> None:
    parse("1" * expressions.MAX_LENGTH)
    with pytest.raises(FormulaError) as caught:
        parse("1" * (expressions.MAX_LENGTH + 1))
    assert str(caught.value) == "formula is 501 characters long; the limit is 500"
    assert caught.value.column is None


def test_too_deep() -> None:
    depth = expressions.MAX_DEPTH
    assert parse("(" * depth + "1" + ")" * depth).evaluate({}) == 1
    with pytest.raises(FormulaError) as caught:
        parse("(" * (depth + 1) + "1" + ")" * (depth + 1))
    assert str(caught.value) == "formula nests deeper than 50 levels at column 51"
    assert caught.value.column == 51
    with pytest.raises(FormulaError, match="nests deeper than 50 levels"):
        parse("-" * (depth + 1) + "1")


def test_a_long_flat_sum_is_not_deep() -> None:
    assert parse("+".join(["1"] * 200)).evaluate({}) == 200


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "value of 'x' must be a Decimal, got float"),
        (True, "value of 'x' must be a Decimal, got bool"),
        ("2", "value of 'x' must be a Decimal, got str"),
        (None, "value of 'x' must be a Decimal, got NoneType"),
        (Decimal("NaN"), "value of 'x' is not finite (NaN)"),
        (Decimal("Infinity"), "value of 'x' is not finite (Infinity)"),
    ],
)
def test_values_must_be_exact_and_finite(value: object, message: str) -> None:
    with pytest.raises(FormulaError) as caught:
        evaluate("x + 1", {"x": value})  # type: ignore[dict-item]
    assert str(caught.value) == message
    assert caught.value.column is None


def test_values_must_be_a_mapping() -> None:
    with pytest.raises(FormulaError, match=r"^values must be a mapping of names, got list$"):
        parse("1").evaluate([])  # type: ignore[arg-type]


# --- properties --------------------------------------------------------------------------

decimals = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), allow_nan=False, places=6
)


@given(a=decimals, b=decimals)
def test_addition_is_decimal_addition(a: Decimal, b: Decimal) -> None:
    assert evaluate("a + b", {"a": a, "b": b}) == a + b


@given(a=decimals, b=decimals)
def test_subtraction_and_multiplication_are_decimal(a: Decimal, b: Decimal) -> None:
    assert evaluate("a - b", {"a": a, "b": b}) == a - b
    assert evaluate("a * b", {"a": a, "b": b}) == a * b


@given(a=decimals, b=decimals)
def test_min_max_abs(a: Decimal, b: Decimal) -> None:
    values = {"a": a, "b": b}
    assert evaluate("min(a, b)", values) == min(a, b)
    assert evaluate("max(a, b)", values) == max(a, b)
    assert evaluate("abs(a)", values) == abs(a)


@given(a=decimals, b=decimals.filter(lambda value: value != 0))
def test_division_times_divisor_is_close_to_the_dividend(a: Decimal, b: Decimal) -> None:
    quotient = evaluate("a / b", {"a": a, "b": b})
    assert abs(quotient * b - a) <= abs(a) * Decimal("1e-26") + Decimal("1e-26")


@given(a=decimals)
def test_round_to_places_matches_half_up_quantize(a: Decimal) -> None:
    assert evaluate("round(a, 2)", {"a": a}) == a.quantize(Decimal("0.01"), ROUND_HALF_UP)


@given(text=st.text(max_size=60))
def test_arbitrary_text_parses_or_raises_formula_error(text: str) -> None:
    try:
        expression = parse(text)
    except FormulaError:
        return
    with contextlib.suppress(FormulaError):
        expression.evaluate(dict.fromkeys(expression.names, Decimal(1)))
