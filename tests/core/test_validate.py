"""The shared input checks (core.services._validate): each refusal names the field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from vein2vein.core.errors import ValidationFailed
from vein2vein.core.services import _validate as v


@pytest.mark.parametrize("bad", [0, -1, True, "x", 2**63, None, 1.5])
def test_record_id_refuses_what_is_not_an_id(bad: object) -> None:
    with pytest.raises(ValidationFailed) as exc:
        v.record_id(bad, "order_id")
    assert exc.value.field == "order_id"


def test_record_id_takes_digits() -> None:
    assert v.record_id(" 42 ", "order_id") == 42


def test_a_strict_record_id_refuses_digits_as_text() -> None:
    assert v.record_id(42, "order_id", strict=True) == 42
    with pytest.raises(ValidationFailed, match="order_id must be a record id"):
        v.record_id("42", "order_id", strict=True)


def test_choice() -> None:
    assert v.choice("a", "kind", ["a", "b"]) == "a"
    assert v.choice("", "kind", ["a"], required=False) == ""
    with pytest.raises(ValidationFailed, match="kind must be one of: a, b"):
        v.choice("c", "kind", ["a", "b"])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "is required"),
        ("abc", "must be a number"),
        ("NaN", "finite"),
        ("1.234", "at most 2 decimals"),
        ("101", "from 0 to 100"),
        (True, "is required"),
    ],
)
def test_number_refusals(value: object, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message) as exc:
        v.number(value, "volume_ml", low=0, high=100, places=2)
    assert exc.value.field == "volume_ml"


def test_number_bounds_and_blank() -> None:
    assert v.number("12.5", "t", low=0, high=100, places=1) == Decimal("12.5")
    assert v.number("", "t", low=0, high=1, places=0, required=False) is None
    with pytest.raises(ValidationFailed, match="above 0"):
        v.number("0", "t", low=0, high=1, places=0, low_inclusive=False)


def test_date() -> None:
    assert v.date("2026-03-17", "day") == dt.date(2026, 3, 17)
    assert v.date(None, "day", required=False) is None
    for bad in ("17/03/2026", dt.datetime(2026, 3, 17, tzinfo=dt.UTC), "0001-01-01", 5):
        with pytest.raises(ValidationFailed) as exc:
            v.date(bad, "day")
        assert exc.value.field == "day"


@pytest.mark.parametrize(
    "bad",
    [
        "yesterday",
        "2026-03-17T10:00:00",  # no offset
        "9999-12-31T23:59:59-01:00",  # beyond datetime's range once in UTC
        "0001-01-01T00:00:00+01:00",
        dt.datetime(2999, 1, 1, tzinfo=dt.UTC),  # the future
        42,
    ],
)
def test_moment_refusals_name_the_field(bad: object) -> None:
    with pytest.raises(ValidationFailed) as exc:
        v.moment(bad, "ended_at")
    assert exc.value.field == "ended_at"


def test_moment_is_stored_in_utc() -> None:
    got = v.moment("2026-03-17T10:00:00-05:00", "ended_at")
    assert got == dt.datetime(2026, 3, 17, 15, 0, tzinfo=dt.UTC) and got.tzinfo == dt.UTC


def test_whole_number_takes_digits_and_keeps_its_bounds() -> None:
    assert v.whole_number(" 7 ", "interval_days", low=1, high=10) == 7
    assert v.whole_number(10, "interval_days", low=1, high=10) == 10


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (True, "must be a whole number"),
        (1.5, "must be a whole number"),
        ("x", "must be a whole number"),
        (None, "must be a whole number"),
        (0, "must be between 1 and 10"),
        (11, "must be between 1 and 10"),
    ],
)
def test_whole_number_refusals_name_the_field(bad: object, message: str) -> None:
    with pytest.raises(ValidationFailed, match=f"interval_days {message}") as exc:
        v.whole_number(bad, "interval_days", low=1, high=10)
    assert exc.value.field == "interval_days"
