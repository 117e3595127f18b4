"""standards.specifications: each criterion kind, inclusive limits, Decimal, explicit units."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vein2vein.standards.specifications import (
    Criterion,
    CriterionKind,
    SpecificationError,
    Verdict,
    evaluate,
)

IN, OUT, REPORTED = Verdict.IN_SPEC, Verdict.OUT_OF_SPEC, Verdict.REPORTED


@pytest.mark.parametrize(
    ("criterion", "value", "verdict"),
    [
        (Criterion(CriterionKind.RANGE, Decimal(70), Decimal(100), "%"), "70", IN),
        (Criterion(CriterionKind.RANGE, Decimal(70), Decimal(100), "%"), "100", IN),
        (Criterion(CriterionKind.RANGE, Decimal(70), Decimal(100), "%"), "69.99", OUT),
        (Criterion(CriterionKind.RANGE, Decimal(70), Decimal(100), "%"), "100.01", OUT),
        (Criterion(CriterionKind.AT_LEAST, low=Decimal(70), unit="%"), "70", IN),
        (Criterion(CriterionKind.AT_LEAST, low=Decimal(70), unit="%"), "69.9", OUT),
        (Criterion(CriterionKind.AT_MOST, high=Decimal("0.5"), unit="EU/mL"), "0.5", IN),
        (Criterion(CriterionKind.AT_MOST, high=Decimal("0.5"), unit="EU/mL"), "0.50001", OUT),
    ],
)
def test_numeric_kinds_have_inclusive_limits(
    criterion: Criterion, value: str, verdict: Verdict
) -> None:
    assert evaluate(criterion, value=value, unit=criterion.unit).verdict == verdict


@pytest.mark.parametrize(
    ("kind", "text", "verdict"),
    [
        (CriterionKind.PASS_FAIL, "pass", IN),
        (CriterionKind.PASS_FAIL, "FAIL", OUT),
        (CriterionKind.NOT_DETECTED, "not  detected", IN),
        (CriterionKind.NOT_DETECTED, "detected", OUT),
        (CriterionKind.CONFORMS, "conforms", IN),
        (CriterionKind.CONFORMS, "does not conform", OUT),
    ],
)
def test_qualitative_kinds(kind: CriterionKind, text: str, verdict: Verdict) -> None:
    crit = Criterion(kind, expected="cloudy liquid" if kind == CriterionKind.CONFORMS else "")
    assert evaluate(crit, text=text).verdict == verdict


def test_a_qualitative_answer_outside_the_two_is_refused() -> None:
    with pytest.raises(SpecificationError) as exc:
        evaluate(Criterion(CriterionKind.NOT_DETECTED), text="absent-ish")
    assert exc.value.field == "text"


def test_report_only_takes_a_number_or_a_text() -> None:
    crit = Criterion(CriterionKind.REPORT_ONLY, unit="cells")
    assert evaluate(crit, value="1495000000", unit="cells").verdict == REPORTED
    assert evaluate(crit, text="(a) 14.9; (b) 90.9").printed == "(a) 14.9; (b) 90.9"
    with pytest.raises(SpecificationError):
        evaluate(crit)


def test_another_unit_is_refused_never_converted() -> None:
    crit = Criterion(CriterionKind.AT_MOST, high=Decimal("0.5"), unit="EU/mL")
    with pytest.raises(SpecificationError) as exc:
        evaluate(crit, value="0.1", unit="EU/L")
    assert exc.value.field == "unit"


def test_a_float_is_refused() -> None:
    crit = Criterion(CriterionKind.AT_LEAST, low=Decimal(70), unit="%")
    with pytest.raises(SpecificationError):
        evaluate(crit, value=70.0, unit="%")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": CriterionKind.RANGE, "low": Decimal(1), "unit": "%"}, "high"),
        ({"kind": CriterionKind.RANGE, "low": Decimal(2), "high": Decimal(1), "unit": "%"}, "low"),
        ({"kind": CriterionKind.AT_LEAST, "low": Decimal(1)}, "unit"),
        (
            {"kind": CriterionKind.AT_MOST, "low": Decimal(1), "high": Decimal(2), "unit": "%"},
            "low",
        ),
        ({"kind": CriterionKind.CONFORMS}, "expected"),
        ({"kind": "between"}, "kind"),
    ],
)
def test_a_malformed_criterion_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(SpecificationError) as exc:
        Criterion(**kwargs)  # type: ignore[arg-type]
    assert exc.value.field == field


def test_printed() -> None:
    assert Criterion(CriterionKind.AT_MOST, high=Decimal("0.5"), unit="EU/mL").printed() == (
        "≤ 0.5 EU/mL"
    )
    assert Criterion(CriterionKind.AT_LEAST, low=Decimal(70), unit="%").printed() == "≥ 70 %"
    assert (
        Criterion(CriterionKind.RANGE, Decimal("0.5"), Decimal(5), "copies/cell").printed()
        == "0.5 to 5 copies/cell"
    )


def test_limits_read_back_from_a_fixed_scale_column_print_without_its_padding() -> None:
    padded = Criterion(CriterionKind.AT_LEAST, low=Decimal("20.0000000000"), unit="%")
    assert padded.printed() == "≥ 20 %"
    assert evaluate(padded, value="42.41", unit="%").message == "42.41 % meets ≥ 20 %"
    edge = Criterion(CriterionKind.RANGE, Decimal("0.5000000000"), Decimal("100"), "%")
    assert edge.printed() == "0.5 to 100 %"


decimals = st.decimals(min_value=-(10**9), max_value=10**9, allow_nan=False, places=4)


@given(low=decimals, high=decimals, value=decimals)
def test_range_agrees_with_the_two_one_sided_limits(
    low: Decimal, high: Decimal, value: Decimal
) -> None:
    if low > high:
        low, high = high, low
    both = evaluate(Criterion(CriterionKind.RANGE, low, high, "%"), value=value, unit="%")
    above = evaluate(Criterion(CriterionKind.AT_LEAST, low=low, unit="%"), value=value, unit="%")
    below = evaluate(Criterion(CriterionKind.AT_MOST, high=high, unit="%"), value=value, unit="%")
    assert (both.verdict == IN) == (above.verdict == IN and below.verdict == IN)
    assert (both.verdict == IN) == (low <= value <= high)
