"""Small input checks shared by the core services; each names the field at fault."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import ValidationFailed


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
