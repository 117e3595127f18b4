"""Small input checks shared by the core services; each names the field at fault."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Literal, overload

from ..errors import ValidationFailed
from ..time import now


def text(value: object, field: str, *, max_length: int, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text", field=field)
    value = value.strip()
    if required and not value:
        raise ValidationFailed(f"{field} is required", field=field)
    if len(value) > max_length:
        raise ValidationFailed(f"{field} must be at most {max_length} characters", field=field)
    if any(ord(c) < 32 and c not in "\n\r\t" for c in value) or "\x00" in value:
        raise ValidationFailed(f"{field} contains control characters", field=field)
    return value


def reason(value: object, field: str = "reason") -> str:
    """A reason for a correction or a revocation: Part 11 wants the why, not only the what."""
    return text(value, field, max_length=2000)


def only_editable(fields: Iterable[str], editable: Iterable[str]) -> None:
    """Refuse a correction that names a field which may not be corrected."""
    unknown = sorted(set(fields) - set(editable))
    if unknown:
        raise ValidationFailed(f"{unknown[0]} cannot be changed", field=unknown[0])


# --- shared by the domain apps' services (one place for the checks every app repeats) ------

MAX_RECORD_ID = 2**63 - 1


def record_id(value: object, field: str, *, strict: bool = False) -> int:
    """A record id: a positive whole number a database can hold. `strict` refuses a string of
    digits too, for services whose callers pass ids they read (a string there is a bug)."""
    if not strict and isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RECORD_ID:
        raise ValidationFailed(f"{field} must be a record id", field=field)
    return value


def whole_number(value: object, field: str, *, low: int, high: int) -> int:
    """An integer from `low` to `high`; a string of digits (a form's value) is read as one."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{field} must be a whole number", field=field)
    if not low <= value <= high:
        raise ValidationFailed(f"{field} must be between {low} and {high}", field=field)
    return value


def choice(value: object, field: str, values: Iterable[str], *, required: bool = True) -> str:
    """`value` as one of `values` ('' allowed when not required)."""
    allowed = list(values)
    if value in (None, "") and not required:
        return ""
    if not isinstance(value, str) or value not in allowed:
        raise ValidationFailed(f"{field} must be one of: {', '.join(allowed)}", field=field)
    return value


def number(
    value: object,
    field: str,
    *,
    low: Decimal | int | str,
    high: Decimal | int | str,
    places: int,
    required: bool = True,
    low_inclusive: bool = True,
) -> Decimal | None:
    """A decimal between `low` and `high` with at most `places` decimals; None when blank and
    not required. Units are the caller's (the field name says them)."""
    if isinstance(value, bool) or value is None or value == "":
        if required:
            raise ValidationFailed(f"{field} is required", field=field)
        return None
    try:
        num = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(f"{field} must be a number, not {value!r}", field=field) from None
    if not num.is_finite():
        raise ValidationFailed(f"{field} must be a finite number", field=field)
    exponent = num.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        raise ValidationFailed(f"{field} may have at most {places} decimals", field=field)
    lo, hi = Decimal(str(low)), Decimal(str(high))
    if num > hi or num < lo or (num == lo and not low_inclusive):
        bound = "from" if low_inclusive else "above"
        raise ValidationFailed(f"{field} must be {bound} {lo} to {hi}, not {num}", field=field)
    return num


@overload
def date(value: object, field: str, *, required: Literal[True] = ...) -> dt.date: ...
@overload
def date(value: object, field: str, *, required: bool) -> dt.date | None: ...
def date(value: object, field: str, *, required: bool = True) -> dt.date | None:
    """A calendar date (YYYY-MM-DD) between the years 1900 and 9000; the refusal shows what was
    given, so a CSV row's error can be fixed from the message alone."""
    if value in (None, ""):
        if required:
            raise ValidationFailed(f"{field} is required", field=field)
        return None
    day: dt.date | None = None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        day = value
    elif isinstance(value, str):
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError:
            day = None
    if day is None:
        raise ValidationFailed(f"{field}: not a date ({value}); use YYYY-MM-DD", field=field)
    if not dt.date(1900, 1, 1) <= day <= dt.date(9000, 1, 1):
        raise ValidationFailed(f"{field} must be between the years 1900 and 9000", field=field)
    return day


CLOCK_TOLERANCE = dt.timedelta(minutes=5)


def moment(value: object, field: str, *, not_after: dt.datetime | None = None) -> dt.datetime:
    """An instant with its zone (ISO 8601 with offset), stored in UTC; not in the future
    (CLOCK_TOLERANCE for a client's clock running ahead) unless `not_after` says otherwise.
    One tolerance for every app: a person states when work was done, never later than now."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationFailed(
                f"{field} must be a date and time with its UTC offset", field=field
            ) from None
    if not isinstance(value, dt.datetime):
        raise ValidationFailed(f"{field} must be a date and time", field=field)
    if value.tzinfo is None:
        raise ValidationFailed(f"{field} must carry a time zone or UTC offset", field=field)
    if not 1900 <= value.year <= 9000:
        raise ValidationFailed(f"{field} must be between the years 1900 and 9000", field=field)
    value = value.astimezone(dt.UTC)
    limit = not_after if not_after is not None else now() + CLOCK_TOLERANCE
    if value > limit:
        raise ValidationFailed(f"{field} is in the future", field=field)
    return value
