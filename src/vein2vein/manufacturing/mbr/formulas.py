"""A calculation step's formula: the names it reads and its value, rounded as on paper. The
grammar is `standards.expressions` (Decimal, never eval); parsed formulas are cached."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

from vein2vein.standards import expressions
from vein2vein.standards.expressions import FormulaError

from .spec import DEFAULTS


@functools.lru_cache(maxsize=512)
def parse(formula: str) -> expressions.Expression:
    return expressions.parse(formula)


def formula_names(step_def: Mapping[str, Any]) -> frozenset[str]:
    """The names a calculation step's formula reads (empty for other kinds): the values the
    service must gather before `evaluate`."""
    if step_def.get("kind") != "calculation":
        return frozenset()
    return parse(step_def["formula"]).names


def evaluate(step_def: Mapping[str, Any], values: Mapping[str, Decimal]) -> Decimal:
    """The calculation's value, rounded half-up to its `decimals` as a person would on paper;
    FormulaError propagates (a missing name, division by zero, overflow)."""
    if step_def.get("kind") != "calculation":
        raise ValueError(f"step {step_def.get('key')!r} is not a calculation")
    result = parse(step_def["formula"]).evaluate(values)
    decimals = int(step_def.get("decimals", DEFAULTS["decimals"]))
    try:
        rounded = result.quantize(
            Decimal(1).scaleb(-decimals),
            rounding=ROUND_HALF_UP,
            context=Context(prec=100, traps=[InvalidOperation]),
        )
    except InvalidOperation:
        raise FormulaError(
            f"the result {result} is too large to record with {decimals} decimals"
        ) from None
    return rounded.copy_abs() if rounded.is_zero() else rounded
