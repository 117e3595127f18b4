"""The usage log: which batch step used which unit, from when to when.

Starting a usage passes the equipment interlock at that moment (recorded when refused); the
check is repeated under the unit's row lock, so two batches cannot both start on one unit.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from vein2vein.core import audit
from vein2vein.core.errors import Conflict, InterlockBlocked, ValidationFailed
from vein2vein.core.models import User
from vein2vein.core.permissions import require
from vein2vein.core.time import now

from ..models import Usage
from ..permissions import EqPerm
from ..selectors import BatchRef, check_equipment_usable
from . import _common as c
from .interlock import blocked, require_equipment_usable


def _batch_ref(value: object) -> BatchRef:
    if (
        not isinstance(value, tuple | list)
        or len(value) != 2
        or not all(isinstance(p, str | int) and not isinstance(p, bool) for p in value)
    ):
        raise ValidationFailed(
            "batch_ref must be a (record_type, record_id) pair", field="batch_ref"
        )
    record_type = c.text(value[0], "batch_ref", max_length=100)
    record_id = c.text(str(value[1]), "batch_ref", max_length=64)
    return record_type, record_id


def _when(at: object, field: str = "at") -> dt.datetime:
    return now() if at is None else c.moment(at, field)


def start_usage(
    *,
    actor: User,
    equipment_id: str,
    batch_ref: BatchRef,
    batch_label: str,
    step: str,
    at: dt.datetime | None = None,
) -> Usage:
    """A batch step starts using the unit at `at` (default now): refused unless usable."""
    unit = c.equipment(equipment_id)
    require(actor, EqPerm.USE, unit.site)
    ref = _batch_ref(batch_ref)
    when = _when(at)
    action = "equipment.usage.start"
    require_equipment_usable(
        actor=actor, equipment=unit, action=action, record=unit, at=when, batch_ref=ref
    )
    try:
        with transaction.atomic():
            usage = start_usage_within(
                actor=actor,
                equipment_id=unit.equipment_id,
                batch_ref=ref,
                batch_label=batch_label,
                step=step,
                at=when,
            )
    except InterlockBlocked:
        # Changed between the check and the lock: record the refusal after the rollback.
        raise blocked(
            actor=actor,
            result=check_equipment_usable(c.equipment(unit.equipment_id), when, ref),
            action=action,
            record=unit,
        ) from None
    return usage


def start_usage_within(
    *,
    actor: User,
    equipment_id: str,
    batch_ref: BatchRef,
    batch_label: str,
    step: str,
    at: dt.datetime | None = None,
) -> Usage:
    """Inside the caller's transaction (a batch step's), so the usage and the step commit or
    roll back together: lock the unit, check it again, open the usage and its audit event.

    A refusal here raises InterlockBlocked unrecorded, because a record written inside the
    caller's transaction would roll back with it: the caller passes
    `require_equipment_usable` first (which records) and records a refusal raised here after
    its rollback, as `start_usage` does."""
    unit = c.equipment(equipment_id, lock=True)
    require(actor, EqPerm.USE, unit.site)
    ref = _batch_ref(batch_ref)
    label = c.text(batch_label, "batch_label", max_length=100)
    step_label = c.text(step, "step", max_length=200)
    when = _when(at)
    result = check_equipment_usable(unit, when, ref)
    if not result.ok:
        raise InterlockBlocked(result.message, field="equipment_id")
    usage = Usage.objects.create(
        equipment=unit,
        batch_type=ref[0],
        batch_id=ref[1],
        batch_label=label,
        step=step_label,
        started_at=when,
        started_by=actor,
        recorded_at=now(),
    )
    audit.append_event(
        actor=actor,
        action="equipment.usage.started",
        record=usage,
        changes=audit.created(
            {k: v for k, v in audit.snapshot(usage, Usage.RECORD_FIELDS).items() if v is not None}
        ),
    )
    return usage


def end_usage(
    *, actor: User, usage_id: int, at: dt.datetime | None = None, releasing_batch: bool = False
) -> Usage:
    """The step is done with the unit at `at` (default now; not before it started).

    `releasing_batch`: the batch that holds the unit is being closed by someone its own service
    already authorised (a QA approver aborting it), who need not hold equipment.use."""
    usage = c.fetch(Usage, usage_id, "usage_id")
    if not releasing_batch:
        require(actor, EqPerm.USE, usage.site)
    when = _when(at)
    with transaction.atomic():
        c.equipment(usage.equipment.equipment_id, lock=True)
        usage = c.fetch(Usage, usage.pk, "usage_id", lock=True)
        if usage.ended_at is not None:
            raise Conflict(
                f"usage #{usage.pk} already ended at {usage.ended_at:%Y-%m-%d %H:%M} UTC"
            )
        if when < usage.started_at:
            raise ValidationFailed(
                f"at is before the usage started ({usage.started_at:%Y-%m-%d %H:%M} UTC)",
                field="at",
            )
        usage.ended_at = when
        usage.ended_by = actor
        usage.save(update_fields=["ended_at", "ended_by"])
        audit.append_event(
            actor=actor,
            action="equipment.usage.ended",
            record=usage,
            changes={
                "ended_at": {"old": None, "new": when},
                "ended_by": {"old": None, "new": actor.pk},
            },
        )
    return usage
