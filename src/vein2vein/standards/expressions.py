"""The formula language of an MBR's calculation steps, evaluated in Decimal, never Python eval.

A calculation step (issue 6) computes a value from earlier entries and the product's
parameters, e.g. the vector volume `cells * moi / lot.titer_tu_per_ml`. Formulas are authored
as text inside a controlled document, so they are parsed by this small hand-written grammar
into our own node types: nothing in a formula can reach Python objects, attributes, imports
or the file system, and every refusal is a `ValueError` (`FormulaError`) naming the 1-based
column, so the authoring page can point at the fault.

Grammar (lowest precedence first; `**` binds tighter than unary minus, as in Python and on
paper, so `-2**2` is -4)::

    expression := term (("+" | "-") term)*
    term       := unary (("*" | "/") unary)*
    unary      := "-" unary | power
    power      := primary ("**" exponent)?      exponent: whole number, -10..10, written out
    primary    := number | name | function "(" expression ("," expression)* ")"
                | "(" expression ")"
    number     := 12 | 0.5 | .5 | 1e6 | 2.5E8
    name       := [a-z_][a-z0-9_]* ("." [a-z_][a-z0-9_]*)*      e.g. patient.weight_kg
    function   := min | max | abs | round | ceil | floor | sqrt

Arithmetic uses a fixed Decimal context of 28 significant digits (ties to even inside the
arithmetic); `round(x, n)` rounds halves away from zero, as a person does on paper (Python's
own round() rounds halves to even). A negative zero result is returned as zero.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from typing import NamedTuple

MAX_LENGTH = 500
"""Longest formula accepted, in characters: a calculation step is one line, not a program."""

MAX_DEPTH = 50
"""Deepest nesting of parentheses, function calls and unary minus accepted."""

MAX_EXPONENT = 10
"""Largest |n| in `x ** n`: enough for areas and volumes, too small to blow up a result."""

MAX_ROUND_PLACES = 28
"""Largest |n| in `round(x, n)`: the context's precision; more places cannot be represented."""

PRECISION = 28
"""Significant digits of every intermediate and final result."""

FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "min": (2, None),
    "max": (2, None),
    "abs": (1, 1),
    "round": (1, 2),
    "ceil": (1, 1),
    "floor": (1, 1),
    "sqrt": (1, 1),
}
"""The only callable names, with their (least, most) argument counts; None is unbounded."""


class FormulaError(ValueError):
    """A formula that cannot be parsed or evaluated; `column` is 1-based, None when the fault
    is the formula as a whole (too long, empty) or a supplied value."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.column = column


def _context() -> Context:
    """A fresh context per evaluation: flags are per-call state, so none is shared."""
    return Context(
        prec=PRECISION,
        rounding=ROUND_HALF_EVEN,
        Emin=-999_999,
        Emax=999_999,
        traps=[InvalidOperation, DivisionByZero, Overflow],
    )


# --- syntax tree -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Number:
    value: Decimal
    column: int


@dataclass(frozen=True, slots=True)
class _Name:
    name: str
    column: int


@dataclass(frozen=True, slots=True)
class _Negate:
    operand: _Node
    column: int


@dataclass(frozen=True, slots=True)
class _Chain:
    """A run of same-precedence operators (`a - b + c`), kept flat and applied left to right
    so that long sums do not make a deep tree."""

    first: _Node
    rest: tuple[tuple[str, int, _Node], ...]  # (operator, column, operand)


@dataclass(frozen=True, slots=True)
class _Power:
    base: _Node
    exponent: int
    column: int


@dataclass(frozen=True, slots=True)
class _Call:
    function: str
    arguments: tuple[_Node, ...]
    column: int


_Node = _Number | _Name | _Negate | _Chain | _Power | _Call


# --- tokens ------------------------------------------------------------------------------


class _Token(NamedTuple):
    kind: str  # "number", "name", "operator" or "end"
    text: str
    column: int


_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\r\n]+)
  | (?P<number>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<name>[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*)
  | (?P<operator>\*\*|[-+*/(),])
    """,
    re.VERBOSE | re.ASCII,
)


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            char = source[position]
            hint = " (names are lower case)" if "A" <= char <= "Z" else ""
            raise FormulaError(
                f"unexpected character {char!r} at column {position + 1}{hint}", position + 1
            )
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            tokens.append(_Token(kind, match.group(), position + 1))
        position = match.end()
    tokens.append(_Token("end", "", len(source) + 1))
    return tokens


def _describe(token: _Token) -> str:
    return "end of formula" if token.kind == "end" else repr(token.text)


# --- parser ------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the grammar in the module docstring."""

    def __init__(self, source: str) -> None:
        self._tokens = _tokenize(source)
        self._index = 0
        self._depth = 0
        self.names: dict[str, int] = {}  # name -> column of its first use, in source order

    def parse(self) -> _Node:
        if self._peek().kind == "end":
            raise FormulaError("formula is empty")
        node = self._expression()
        token = self._peek()
        if token.kind != "end":
            raise FormulaError(
                f"unexpected {_describe(token)} at column {token.column}: expected an operator",
                token.column,
            )
        return node

    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _advance(self) -> _Token:
        token = self._tokens[self._index]
        self._index += 1
        return token

    def _is_operator(self, *texts: str) -> bool:
        token = self._peek()
        return token.kind == "operator" and token.text in texts

    def _enter(self, token: _Token) -> None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise FormulaError(
                f"formula nests deeper than {MAX_DEPTH} levels at column {token.column}",
                token.column,
            )

    def _leave(self) -> None:
        self._depth -= 1

    def _chain(self, operators: tuple[str, ...], operand: Callable[[], _Node]) -> _Node:
        first = operand()
        rest: list[tuple[str, int, _Node]] = []
        while self._is_operator(*operators):
            token = self._advance()
            rest.append((token.text, token.column, operand()))
        return _Chain(first, tuple(rest)) if rest else first

    def _expression(self) -> _Node:
        return self._chain(("+", "-"), self._term)

    def _term(self) -> _Node:
        return self._chain(("*", "/"), self._unary)

    def _unary(self) -> _Node:
        if self._is_operator("-"):
            token = self._advance()
            self._enter(token)
            operand = self._unary()
            self._leave()
            return _Negate(operand, token.column)
        return self._power()

    def _power(self) -> _Node:
        base = self._primary()
        if not self._is_operator("**"):
            return base
        token = self._advance()
        exponent = _whole_number(self._unary())
        if exponent is None:
            raise FormulaError(
                f"the exponent of '**' at column {token.column} must be a whole number "
                f"from -{MAX_EXPONENT} to {MAX_EXPONENT}, written as a number",
                token.column,
            )
        return _Power(base, exponent, token.column)

    def _primary(self) -> _Node:
        token = self._advance()
        if token.kind == "number":
            return _Number(_literal(token), token.column)
        if token.kind == "name":
            if self._is_operator("("):
                return self._call(token)
            if token.text in FUNCTIONS:
                raise FormulaError(
                    f"{token.text!r} at column {token.column} is a function: "
                    f"write {token.text}(...)",
                    token.column,
                )
            self.names.setdefault(token.text, token.column)
            return _Name(token.text, token.column)
        if token.kind == "operator" and token.text == "(":
            self._enter(token)
            node = self._expression()
            self._expect_closing(token)
            self._leave()
            return node
        raise FormulaError(
            f"unexpected {_describe(token)} at column {token.column}: "
            "expected a number, a name, '(' or '-'",
            token.column,
        )

    def _call(self, name: _Token) -> _Node:
        if name.text not in FUNCTIONS:
            message = f"unknown function {name.text!r} at column {name.column}"
            raise FormulaError(message, name.column)
        opening = self._advance()
        self._enter(opening)
        arguments: list[_Node] = []
        if not self._is_operator(")"):
            arguments.append(self._expression())
            while self._is_operator(","):
                self._advance()
                arguments.append(self._expression())
        self._expect_closing(opening)
        self._leave()
        least, most = FUNCTIONS[name.text]
        if len(arguments) < least or (most is not None and len(arguments) > most):
            if most is None:
                wanted = f"at least {least} arguments"
            elif least == most:
                wanted = f"{least} argument" + ("s" if least != 1 else "")
            else:
                wanted = f"{least} to {most} arguments"
            raise FormulaError(
                f"{name.text}() at column {name.column} takes {wanted}, got {len(arguments)}",
                name.column,
            )
        return _Call(name.text, tuple(arguments), name.column)

    def _expect_closing(self, opening: _Token) -> None:
        token = self._peek()
        if not self._is_operator(")"):
            raise FormulaError(
                f"unexpected {_describe(token)} at column {token.column}: expected ')' to close "
                f"the '(' at column {opening.column}",
                token.column,
            )
        self._advance()


def _literal(token: _Token) -> Decimal:
    try:
        value = _context().create_decimal(token.text)
    except Overflow:
        raise FormulaError(
            f"number {token.text!r} at column {token.column} is too large", token.column
        ) from None
    return value


def _whole_number(node: _Node) -> int | None:
    """The integer an exponent is written as (`2`, `-1`, `(3)`), or None for anything else."""
    sign = 1
    if isinstance(node, _Negate):
        sign, node = -1, node.operand
    if not isinstance(node, _Number) or abs(node.value) > MAX_EXPONENT:
        return None  # checked before int(), which 1e999999 would make a million digits long
    if node.value != node.value.to_integral_value():
        return None
    return sign * int(node.value)


# --- evaluation --------------------------------------------------------------------------


def _overflow(column: int) -> FormulaError:
    return FormulaError(f"overflow at column {column}: the result is too large", column)


def _checked(result: Decimal, column: int) -> Decimal:
    if not result.is_finite():
        raise FormulaError(f"the result at column {column} is not finite", column)
    return result


def _apply(operator: str, left: Decimal, right: Decimal, column: int, context: Context) -> Decimal:
    try:
        if operator == "+":
            return context.add(left, right)
        if operator == "-":
            return context.subtract(left, right)
        if operator == "*":
            return context.multiply(left, right)
        if right.is_zero():
            raise FormulaError(f"division by zero at column {column}", column)
        return context.divide(left, right)
    except Overflow:
        raise _overflow(column) from None


def _power(base: Decimal, exponent: int, column: int, context: Context) -> Decimal:
    if base.is_zero() and exponent < 0:
        raise FormulaError(f"division by zero at column {column}: 0 to a negative power", column)
    if base.is_zero() and exponent == 0:
        raise FormulaError(f"0 ** 0 at column {column} is undefined", column)
    try:
        return _checked(context.power(base, exponent), column)
    except Overflow:
        raise _overflow(column) from None


def _round(arguments: list[Decimal], column: int, context: Context) -> Decimal:
    value = arguments[0]
    places = arguments[1] if len(arguments) == 2 else Decimal(0)
    if places != places.to_integral_value() or abs(places) > MAX_ROUND_PLACES:
        raise FormulaError(
            f"round() at column {column}: places must be a whole number from "
            f"-{MAX_ROUND_PLACES} to {MAX_ROUND_PLACES}, got {places}",
            column,
        )
    try:
        return value.quantize(
            Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP, context=context
        )
    except InvalidOperation:
        raise FormulaError(
            f"round() at column {column}: the result needs more than {PRECISION} digits", column
        ) from None


def _call(function: str, arguments: list[Decimal], column: int, context: Context) -> Decimal:
    if function == "min":
        result = arguments[0]
        for argument in arguments[1:]:
            result = context.min(result, argument)
        return result
    if function == "max":
        result = arguments[0]
        for argument in arguments[1:]:
            result = context.max(result, argument)
        return result
    if function == "round":
        return _round(arguments, column, context)
    value = arguments[0]
    if function == "abs":
        return context.abs(value)
    if function == "ceil":
        return value.to_integral_value(rounding=ROUND_CEILING, context=context)
    if function == "floor":
        return value.to_integral_value(rounding=ROUND_FLOOR, context=context)
    if value < 0:  # sqrt, the only function left
        raise FormulaError(f"sqrt() at column {column} of a negative number ({value})", column)
    return context.sqrt(value)


def _evaluate(node: _Node, values: Mapping[str, Decimal], context: Context) -> Decimal:
    if isinstance(node, _Number):
        return node.value
    if isinstance(node, _Name):
        return values[node.name]
    if isinstance(node, _Negate):
        return context.minus(_evaluate(node.operand, values, context))
    if isinstance(node, _Chain):
        result = _evaluate(node.first, values, context)
        for operator, column, operand in node.rest:
            right = _evaluate(operand, values, context)
            result = _apply(operator, result, right, column, context)
        return result
    if isinstance(node, _Power):
        return _power(_evaluate(node.base, values, context), node.exponent, node.column, context)
    arguments = [_evaluate(argument, values, context) for argument in node.arguments]
    return _call(node.function, arguments, node.column, context)


def _value(name: str, value: object, context: Context) -> Decimal:
    """A supplied value as an exact, finite Decimal; binary floats are refused because they
    carry representation error into a GMP record (0.1 is not 0.1)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise FormulaError(f"value of {name!r} must be a Decimal, got {type(value).__name__}")
    if isinstance(value, Decimal) and not value.is_finite():
        raise FormulaError(f"value of {name!r} is not finite ({value})")
    try:
        return context.create_decimal(value)
    except Overflow:
        raise FormulaError(f"value of {name!r} is too large") from None


class Expression:
    """A parsed formula: check its `names` when the MBR is authored, `evaluate` it when the
    step is executed. Immutable; equal when the source text is equal."""

    __slots__ = ("_names_in_order", "_root", "names", "source")

    def __init__(self, source: str, root: _Node, names_in_order: dict[str, int]) -> None:
        self.source = source
        self._root = root
        self._names_in_order = tuple(names_in_order.items())
        self.names: frozenset[str] = frozenset(names_in_order)

    def evaluate(self, values: Mapping[str, Decimal | int]) -> Decimal:
        """The formula's value with each name taken from `values` (extra entries ignored)."""
        if not isinstance(values, Mapping):
            raise FormulaError(f"values must be a mapping of names, got {type(values).__name__}")
        context = _context()
        resolved: dict[str, Decimal] = {}
        for name, column in self._names_in_order:
            if name not in values:
                raise FormulaError(f"unknown name {name!r} at column {column}", column)
            resolved[name] = _value(name, values[name], context)
        try:
            result = _evaluate(self._root, resolved, context)
        except ArithmeticError as error:  # a Decimal signal the checks above did not foresee
            raise FormulaError(f"the formula cannot be computed: {error!r}") from None
        if not result.is_finite():  # unreachable with the traps set; kept as the last guard
            raise FormulaError(f"the result is not finite ({result})")
        return result.copy_abs() if result.is_zero() else result

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expression) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def __str__(self) -> str:
        return self.source


def parse(formula: str) -> Expression:
    """Compile `formula` once; raises FormulaError (a ValueError) naming the column at fault."""
    if not isinstance(formula, str):
        raise FormulaError(f"formula must be text, got {type(formula).__name__}")
    if len(formula) > MAX_LENGTH:
        raise FormulaError(f"formula is {len(formula)} characters long; the limit is {MAX_LENGTH}")
    parser = _Parser(formula)
    root = parser.parse()
    return Expression(formula, root, parser.names)


def evaluate(formula: str, values: Mapping[str, Decimal | int]) -> Decimal:
    """Parse and evaluate in one call, for a formula used once."""
    return parse(formula).evaluate(values)
