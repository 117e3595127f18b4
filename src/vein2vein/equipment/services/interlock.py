"""The equipment interlock later apps call before a step uses a unit.

How to call it (manufacturing, QC...): BEFORE opening your transaction, so the recorded
refusal is not rolled back with your own work::

    from vein2vein.equipment.services import require_equipment_usable

    require_equipment_usable(
        actor=actor,
        equipment=unit,                       # or its asset tag, "CEN-02"
        action="manufacturing.step.execute",  # the audit action; ".blocked" is added
        record=step,                          # the record the refusal is filed under
        batch_ref=("manufacturing.batch", str(batch.pk)),
    )

It raises `InterlockBlocked` (HTTP 409) naming every reason, e.g. "CEN-02 is not usable:
calibration 'Speed and temperature' overdue: it was due on 2026-05-01", after writing a
`<action>.blocked` audit event in its own transaction. The pure check is
`selectors.check_equipment_usable`.
"""

from __future__ import annotations

import datetime as dt

from django.db import models

from vein2vein.core import audit
from vein2vein.core.errors import InterlockBlocked
from vein2vein.core.models import User

from ..models import Equipment
from ..selectors import BatchRef, UsabilityResult, check_equipment_usable
from . import _common as c


def blocked(
    *,
    actor: User | None,
    result: UsabilityResult,
    action: str,
    record: models.Model | tuple[str, str],
) -> InterlockBlocked:
    """Record the refusal (own transaction) and return the error to raise."""
    audit.record_blocked_attempt(
        actor=actor,
        action=action,
        record=record,
        reason=result.message,
        details={
            "equipment": {"old": None, "new": result.equipment.equipment_id},
            "reasons": {"old": None, "new": result.reasons},
        },
    )
    return InterlockBlocked(result.message, field="equipment_id")


def require_equipment_usable(
    *,
    actor: User | None,
    equipment: Equipment | str,
    action: str,
    record: models.Model | tuple[str, str],
    at: dt.datetime | None = None,
    batch_ref: BatchRef | None = None,
) -> UsabilityResult:
    """Refuse (and record the refusal) unless the unit is usable at `at` by `batch_ref`."""
    if c.in_service_transaction():
        raise RuntimeError(
            "require_equipment_usable must run before transaction.atomic(): inside one, the "
            "record of the refusal would be rolled back with the caller's work"
        )
    unit = c.equipment(equipment)
    result = check_equipment_usable(unit, at, batch_ref)
    if not result.ok:
        raise blocked(actor=actor, result=result, action=action, record=record)
    return result
