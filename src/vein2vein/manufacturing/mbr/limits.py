"""Where a recorded value stands against a step's limits: its flag (alert, action) and
whether it is refused as a probable typo (outside `range`)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def _outside(limits: Mapping[str, str] | None, value: Decimal) -> bool:
    if not limits:
        return False
    low, high = limits.get("low"), limits.get("high")
    return (low is not None and value < Decimal(low)) or (
        high is not None and value > Decimal(high)
    )


def limit_flag(step_def: Mapping[str, Any], value: Decimal) -> str:
    """The flag an entry earns: "action" outside the action limits, "alert" outside the
    alert limits, else "". Limits are inclusive: a value equal to a limit is within."""
    if _outside(step_def.get("action"), value):
        return "action"
    if _outside(step_def.get("alert"), value):
        return "alert"
    return ""


def out_of_range(step_def: Mapping[str, Any], value: Decimal) -> str | None:
    """Why `value` is refused as a probable typo (outside `range`), or None when plausible."""
    limits = step_def.get("range")
    if not _outside(limits, value):
        return None
    assert limits is not None
    unit = f" {step_def['unit']}" if step_def.get("unit") else ""
    low, high = limits.get("low"), limits.get("high")
    if low is not None and high is not None:
        bounds = f"from {low} to {high}{unit}"
    elif low is not None:
        bounds = f"at least {low}{unit}"
    else:
        bounds = f"at most {high}{unit}"
    return f"{value}{unit} is outside the plausible range ({bounds}): check for a typo"
