"""Units: register, correct details, change status (each move audited with its reason).

Entering service is gated: the kind's IQ/OQ/PQ must be approved and passed, and no plan may
stand on a failed calibration or maintenance (a passing one must follow it).
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from vein2vein.core import audit
from vein2vein.core.errors import Conflict, ValidationFailed
from vein2vein.core.models import User
from vein2vein.core.permissions import require
from vein2vein.core.time import now

from .. import permissions as _perms  # noqa: F401 - registers the equipment permissions
from ..choices import STATUS_TRANSITIONS, EquipmentKind, EquipmentStatus
from ..models import Equipment
from ..permissions import EqPerm
from ..selectors import failed_plans, missing_stages
from . import _common as c

EDITABLE_FIELDS = ("name", "manufacturer", "model", "serial_number", "location")


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name" in data:
        out["name"] = c.text(data["name"], "name", max_length=200)
    if "kind" in data:
        out["kind"] = c.choice(data["kind"], "kind", EquipmentKind.values)
    for name, limit in (("manufacturer", 200), ("model", 200), ("serial_number", 100)):
        if name in data:
            out[name] = c.text(data[name], name, max_length=limit, required=False)
    if "location" in data:
        out["location"] = c.text(data["location"], "location", max_length=200)
    return out


def register_equipment(
    *,
    actor: User,
    equipment_id: str,
    name: str,
    kind: str,
    site_id: int,
    location: str,
    manufacturer: str = "",
    model: str = "",
    serial_number: str = "",
) -> Equipment:
    """A new unit, in qualification until its IQ/OQ/PQ are approved."""
    at = c.site(site_id)
    require(actor, EqPerm.MANAGE, at)
    tag = c.asset_tag(equipment_id)
    values = _clean(
        {
            "name": name,
            "kind": kind,
            "location": location,
            "manufacturer": manufacturer,
            "model": model,
            "serial_number": serial_number,
        }
    )
    with transaction.atomic():
        if Equipment.objects.filter(equipment_id=tag).exists():
            raise ValidationFailed(f"equipment_id {tag} is already used", field="equipment_id")
        stamp = now()
        try:
            with transaction.atomic():
                unit = Equipment.objects.create(
                    equipment_id=tag,
                    site=at,
                    status=EquipmentStatus.IN_QUALIFICATION,
                    status_changed_at=stamp,
                    created_at=stamp,
                    **values,
                )
        except IntegrityError as exc:
            raise Conflict(f"equipment {tag} was just registered by someone else") from exc
        audit.append_event(
            actor=actor,
            action="equipment.unit.registered",
            record=unit,
            changes=audit.created(
                {k: v for k, v in audit.snapshot(unit, Equipment.RECORD_FIELDS).items() if v != ""}
            ),
        )
    return unit


def update_equipment(*, actor: User, equipment_id: str, reason: str, **fields: Any) -> Equipment:
    """Correct a unit's details; the old values and the reason stay in the audit trail."""
    unit = c.equipment(equipment_id)
    require(actor, EqPerm.MANAGE, unit.site)
    c.only_editable(fields, EDITABLE_FIELDS)
    values = _clean(fields)
    why = c.reason(reason)
    with transaction.atomic():
        unit = c.equipment(equipment_id, lock=True)
        c.not_retired(unit)
        before = audit.snapshot(unit, Equipment.RECORD_FIELDS)
        for key, value in values.items():
            setattr(unit, key, value)
        changes = audit.diff(before, audit.snapshot(unit, Equipment.RECORD_FIELDS))
        if not changes:
            raise ValidationFailed("nothing to change: every value is as it was", field=None)
        unit.save(update_fields=[*changes, "updated_at"])
        audit.append_event(
            actor=actor, action="equipment.unit.updated", record=unit, changes=changes, reason=why
        )
    return unit


def entry_gaps(unit: Equipment) -> list[str]:
    """Why `unit` may not enter service now (empty: it may)."""
    gaps = []
    missing = missing_stages(unit)
    if missing:
        gaps.append(f"{', '.join(missing)} not approved")
    for plan in failed_plans(unit):
        gaps.append(
            f"the last {plan.get_kind_display().lower()} '{plan.title}' failed: "
            "record a passing one first"
        )
    return gaps


def set_status(
    unit: Equipment, *, actor: User | None, target: str, reason: str
) -> dict[str, dict[str, Any]]:
    """Move a locked unit along STATUS_TRANSITIONS inside the caller's transaction, with its
    audit event. Shared with the failed-calibration path."""
    current = unit.status
    if target not in STATUS_TRANSITIONS.get(current, frozenset()):
        raise Conflict(
            f"{unit.equipment_id} is {unit.get_status_display().lower()}: it cannot become "
            f"{EquipmentStatus(target).label.lower()}",
            field="status",
        )
    if target == EquipmentStatus.IN_SERVICE:
        gaps = entry_gaps(unit)
        if gaps:
            raise Conflict(
                f"{unit.equipment_id} cannot enter service: {'; '.join(gaps)}", field="status"
            )
    unit.status = target
    unit.status_reason = reason
    unit.status_changed_at = now()
    unit.save(update_fields=["status", "status_reason", "status_changed_at", "updated_at"])
    changes = {"status": {"old": current, "new": target}}
    audit.append_event(
        actor=actor,
        action=f"equipment.unit.{target}",
        record=unit,
        changes=changes,
        reason=reason,
    )
    return changes


def change_status(*, actor: User, equipment_id: str, status: str, reason: str) -> Equipment:
    """Put a unit in service, out of service, back in qualification, or retire it (final)."""
    unit = c.equipment(equipment_id)
    require(actor, EqPerm.MANAGE, unit.site)
    target = c.choice(status, "status", EquipmentStatus.values)
    why = c.reason(reason)
    with transaction.atomic():
        unit = c.equipment(equipment_id, lock=True)
        set_status(unit, actor=actor, target=target, reason=why)
    return unit
