"""Acceptance criteria of a specification and the evaluation of a result against one.

Pure: no database, no Django. Numbers are `Decimal` (never float: 0.5 EU/mL is 0.5, not
0.50000000000000001); limits are inclusive (a result equal to a limit meets it, as
"≥ 70 %" and "≤ 5.0 EU/mL" read); and units are explicit: a numeric result in another unit
than the criterion's is refused, never converted silently.

Kinds:
- range: low ≤ value ≤ high
- at_least: value ≥ low
- at_most: value ≤ high
- pass_fail: the result is "pass" or "fail"
- not_detected: the result is "not detected" or "detected"
- conforms: the result is "conforms" or "does not conform" (to the description in `expected`)
- report_only: any numeric or text result is recorded; it has no limit
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum


class SpecificationError(ValueError):
    """A criterion or a result that cannot be evaluated; `field` names the bad input."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class CriterionKind(StrEnum):
    RANGE = "range"
    AT_LEAST = "at_least"
    AT_MOST = "at_most"
    PASS_FAIL = "pass_fail"  # noqa: S105 - a criterion kind, not a password
    NOT_DETECTED = "not_detected"
    CONFORMS = "conforms"
    REPORT_ONLY = "report_only"


class Verdict(StrEnum):
    IN_SPEC = "in_spec"
    OUT_OF_SPEC = "out_of_spec"
    REPORTED = "reported"


NUMERIC_KINDS = frozenset({CriterionKind.RANGE, CriterionKind.AT_LEAST, CriterionKind.AT_MOST})
# The accepted answers of each qualitative kind: (meets, fails).
QUALITATIVE: dict[CriterionKind, tuple[str, str]] = {
    CriterionKind.PASS_FAIL: ("pass", "fail"),
    CriterionKind.NOT_DETECTED: ("not detected", "detected"),
    CriterionKind.CONFORMS: ("conforms", "does not conform"),
}


def normalise_unit(unit: str) -> str:
    """A unit as compared: surrounding and repeated spaces dropped ("EU / mL" ≠ "EU/mL")."""
    return " ".join(unit.split())


def plain(value: Decimal) -> str:
    """A Decimal as printed: no exponent, no trailing zeros beyond the value's own."""
    text = format(value, "f")
    return text


def limit_text(value: Decimal) -> str:
    """A limit as printed: without the zeros a fixed-scale column pads it with (a limit of 20
    read back from the database is 20.0000000000; it prints "20")."""
    text = plain(value)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def decimal(value: object, field: str = "value") -> Decimal:
    """A finite Decimal from a Decimal, an int or a numeric string (never a float)."""
    if isinstance(value, bool | float):
        raise SpecificationError(f"{field} must be a decimal number, not a float", field)
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise SpecificationError(f"{field} {value!r} is not a number", field) from None
    else:
        raise SpecificationError(f"{field} must be a number", field)
    if not number.is_finite():
        raise SpecificationError(f"{field} must be a finite number", field)
    return number


@dataclass(frozen=True)
class Criterion:
    """One acceptance criterion: kind, limits (Decimal, inclusive), unit, expected text."""

    kind: CriterionKind
    low: Decimal | None = None
    high: Decimal | None = None
    unit: str = ""
    expected: str = ""

    def __post_init__(self) -> None:
        try:
            kind = CriterionKind(self.kind)
        except ValueError:
            kinds = ", ".join(k.value for k in CriterionKind)
            raise SpecificationError(f"kind must be one of {kinds}", "kind") from None
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "unit", normalise_unit(self.unit))
        for name in ("low", "high"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, decimal(v, name))
        need_low = kind in (CriterionKind.RANGE, CriterionKind.AT_LEAST)
        need_high = kind in (CriterionKind.RANGE, CriterionKind.AT_MOST)
        if need_low and self.low is None:
            raise SpecificationError(f"a {kind.value} criterion needs a low limit", "low")
        if need_high and self.high is None:
            raise SpecificationError(f"a {kind.value} criterion needs a high limit", "high")
        if not need_low and self.low is not None:
            raise SpecificationError(f"a {kind.value} criterion has no low limit", "low")
        if not need_high and self.high is not None:
            raise SpecificationError(f"a {kind.value} criterion has no high limit", "high")
        if (
            kind == CriterionKind.RANGE
            and self.low is not None
            and self.high is not None
            and self.low > self.high
        ):
            raise SpecificationError("low must not be above high", "low")
        if kind in NUMERIC_KINDS and not self.unit:
            raise SpecificationError(f"a {kind.value} criterion needs a unit", "unit")
        if kind == CriterionKind.CONFORMS and not self.expected.strip():
            raise SpecificationError(
                "a conforms criterion needs the expected description", "expected"
            )

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS

    def printed(self) -> str:
        """As a CoA prints it: "70 to 100 %", "≥ 70 %", "≤ 0.5 EU/mL", "not detected"."""
        unit = f" {self.unit}" if self.unit else ""
        if self.kind == CriterionKind.RANGE:
            assert self.low is not None and self.high is not None
            return f"{limit_text(self.low)} to {limit_text(self.high)}{unit}"
        if self.kind == CriterionKind.AT_LEAST:
            assert self.low is not None
            return f"≥ {limit_text(self.low)}{unit}"
        if self.kind == CriterionKind.AT_MOST:
            assert self.high is not None
            return f"≤ {limit_text(self.high)}{unit}"
        if self.kind == CriterionKind.PASS_FAIL:
            return "pass"
        if self.kind == CriterionKind.NOT_DETECTED:
            return "not detected"
        if self.kind == CriterionKind.CONFORMS:
            return f"conforms: {self.expected.strip()}"
        return f"report{unit}" if unit else "report"


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    printed: str
    """The result as printed, with its unit: "0.25 EU/mL", "not detected"."""
    message: str

    @property
    def in_spec(self) -> bool:
        return self.verdict != Verdict.OUT_OF_SPEC


def evaluate(
    criterion: Criterion,
    *,
    value: Decimal | int | str | None = None,
    text: str | None = None,
    unit: str = "",
) -> Outcome:
    """Judge a result against `criterion`. A numeric kind needs `value` in the criterion's
    unit; a qualitative kind needs `text` among its two answers; report_only takes either."""
    if criterion.kind == CriterionKind.REPORT_ONLY:
        if value is not None:
            number = decimal(value)
            shown = f"{plain(number)} {normalise_unit(unit)}".strip()
        elif text is not None and text.strip():
            shown = " ".join(text.split())
        else:
            raise SpecificationError("a result needs a value or a text", "value")
        return Outcome(Verdict.REPORTED, shown, "reported: no limit applies")
    if criterion.numeric:
        if value is None:
            raise SpecificationError("a numeric criterion needs a numeric value", "value")
        number = decimal(value)
        got = normalise_unit(unit)
        if got != criterion.unit:
            raise SpecificationError(
                f"unit {got or '(none)'!r} is not the criterion's {criterion.unit!r}: "
                "enter the result in the specification's unit",
                "unit",
            )
        shown = f"{plain(number)} {got}"
        ok = (criterion.low is None or number >= criterion.low) and (
            criterion.high is None or number <= criterion.high
        )
        verdict = Verdict.IN_SPEC if ok else Verdict.OUT_OF_SPEC
        word = "meets" if ok else "does not meet"
        return Outcome(verdict, shown, f"{shown} {word} {criterion.printed()}")
    meets, fails = QUALITATIVE[criterion.kind]
    answer = " ".join((text or "").lower().split())
    if answer not in (meets, fails):
        raise SpecificationError(f"the result must be {meets!r} or {fails!r}", "text")
    verdict = Verdict.IN_SPEC if answer == meets else Verdict.OUT_OF_SPEC
    word = "meets" if verdict == Verdict.IN_SPEC else "does not meet"
    return Outcome(verdict, answer, f"{answer} {word} {criterion.printed()}")
