"""The timer step: the minutes since an earlier step (`from_step`). Before `min_minutes` it is
refused; past `max_minutes` it needs a comment and raises a deviation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ...choices import EntryFlag
from .. import _common as c
from ._shared import ACTION, Attempt, Entries, Prepared, Step, StepHandler


def _timer(step: Step, entries: Entries, at: dt.datetime) -> tuple[str, int]:
    """('', minutes) when within limits; ('early'|'late', minutes) otherwise."""
    source = entries[step["from_step"]]
    minutes = int((at - source.performed_at).total_seconds() // 60)
    low, high = step.get("min_minutes"), step.get("max_minutes")
    if low is not None and minutes < int(low):
        return "early", minutes
    if high is not None and minutes > int(high):
        return "late", minutes
    return "", minutes


class TimerStep(StepHandler):
    def check(self, a: Attempt, p: Prepared) -> None:
        step = a.step
        state, minutes = _timer(step, a.entries, a.at)
        p.value_number, p.unit = Decimal(minutes), "min"
        p.details["timer"] = {
            "from_step": step["from_step"],
            "minutes": minutes,
            "min_minutes": step.get("min_minutes"),
            "max_minutes": step.get("max_minutes"),
        }
        if state == "early":
            wait = int(step["min_minutes"]) - minutes
            raise c.refuse(
                actor=a.actor,
                action=ACTION,
                record=a.batch,
                message=f"timer {step['key']!r}: only {minutes} min since {step['from_step']!r}; "
                f"the minimum is {step['min_minutes']} min (wait {wait} min more)",
                field="step_key",
                details={"step": step["key"], "minutes": minutes},
            )
        if state == "late":
            if not a.comment:
                raise c.refuse(
                    actor=a.actor,
                    action=ACTION,
                    record=a.batch,
                    message=f"timer {step['key']!r}: {minutes} min since {step['from_step']!r} "
                    f"exceeds the maximum of {step['max_minutes']} min: a comment is required "
                    "and a deviation will be raised",
                    field="comment",
                    details={"step": step["key"], "minutes": minutes},
                )
            p.flag = EntryFlag.TIMER
            p.deviation_text = (
                f"{step['title']}: {minutes} min elapsed since step {step['from_step']!r}, above "
                f"the maximum of {step['max_minutes']} min"
            )
