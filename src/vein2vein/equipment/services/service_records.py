"""Calibration and preventive maintenance: plans, and records signed 'performed'.

A passing record moves the plan's due date on (last done + interval, on the site's calendar).
A failed one takes the unit out of service in the same transaction; a failed calibration
also raises an equipment deviation and stores its impact list: every usage of the unit that
overlaps the time since the plan's last passing calibration, up to now (open ones included).
"""

from __future__ import annotations

import datetime as dt

from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest

from vein2vein.core import audit
from vein2vein.core.choices import SignatureMeaning
from vein2vein.core.errors import Conflict, ValidationFailed
from vein2vein.core.files import CheckedFile, check_pdf, delete_orphan, stored_sha256
from vein2vein.core.models import User
from vein2vein.core.permissions import require
from vein2vein.core.services.signatures import apply_signature, check_password_for_signing
from vein2vein.core.time import now
from vein2vein.quality.choices import DeviationCategory
from vein2vein.quality.services import raise_deviation

from ..choices import MAX_INTERVAL_DAYS, EquipmentStatus, PlanKind, Result
from ..models import Equipment, ImpactItem, MaintenancePlan, ServiceRecord, Usage
from ..permissions import EqPerm
from . import _common as c
from .units import set_status


# --- plans ------------------------------------------------------------------------------------
def add_plan(
    *, actor: User, equipment_id: str, kind: str, title: str, interval_days: int
) -> MaintenancePlan:
    """A recurring calibration or maintenance. Until first done the unit is not usable."""
    unit = c.equipment(equipment_id)
    require(actor, EqPerm.MANAGE, unit.site)
    plan_kind = c.choice(kind, "kind", PlanKind.values)
    name = c.text(title, "title", max_length=200)
    days = c.whole_number(interval_days, "interval_days", low=1, high=MAX_INTERVAL_DAYS)
    with transaction.atomic():
        unit = c.equipment(equipment_id, lock=True)
        c.not_retired(unit)
        if unit.plans.filter(kind=plan_kind, title=name).exists():
            raise ValidationFailed(
                f"{unit.equipment_id} already has a {plan_kind} plan '{name}'", field="title"
            )
        try:
            with transaction.atomic():
                plan = MaintenancePlan.objects.create(
                    equipment=unit,
                    kind=plan_kind,
                    title=name,
                    interval_days=days,
                    created_by=actor,
                    created_at=now(),
                )
        except IntegrityError as exc:
            raise Conflict("the same plan was just added by someone else") from exc
        audit.append_event(
            actor=actor,
            action="equipment.plan.added",
            record=plan,
            changes=audit.created(
                {
                    k: v
                    for k, v in audit.snapshot(plan, MaintenancePlan.RECORD_FIELDS).items()
                    if v is not None
                }
            ),
        )
    return plan


def _due_after(plan: MaintenancePlan, last_done: dt.date | None) -> dt.date | None:
    return None if last_done is None else last_done + dt.timedelta(days=plan.interval_days)


def change_interval(
    *, actor: User, plan_id: int, interval_days: int, reason: str
) -> MaintenancePlan:
    """A new interval (e.g. after a risk assessment); the due date follows from the last done."""
    plan = c.fetch(MaintenancePlan, plan_id, "plan_id")
    require(actor, EqPerm.MANAGE, plan.site)
    days = c.whole_number(interval_days, "interval_days", low=1, high=MAX_INTERVAL_DAYS)
    why = c.reason(reason)
    with transaction.atomic():
        c.equipment(plan.equipment.equipment_id, lock=True)
        plan = c.fetch(MaintenancePlan, plan.pk, "plan_id", lock=True)
        if not plan.is_active:
            raise Conflict(f"{plan} is no longer active")
        if plan.interval_days == days:
            raise ValidationFailed(f"interval_days is already {days}", field="interval_days")
        before = audit.snapshot(plan, MaintenancePlan.RECORD_FIELDS)
        plan.interval_days = days
        plan.next_due = _due_after(plan, plan.last_done)
        plan.save(update_fields=["interval_days", "next_due"])
        audit.append_event(
            actor=actor,
            action="equipment.plan.interval_changed",
            record=plan,
            changes=audit.diff(before, audit.snapshot(plan, MaintenancePlan.RECORD_FIELDS)),
            reason=why,
        )
    return plan


# --- records ----------------------------------------------------------------------------------
def _store(record: ServiceRecord, upload: File, checked: CheckedFile, saved: list[str]) -> None:  # type: ignore[type-arg]
    """Write the checked certificate and prove the stored bytes are the hashed ones."""
    name = f"{record.pk}-{checked.stored_name}"
    record.certificate.save(name, upload, save=False)
    saved.append(record.certificate.name)
    if stored_sha256(record.certificate.name) != checked.sha256:
        raise ValidationFailed(
            "certificate changed while it was being stored; upload it again", field="certificate"
        )
    record.certificate_name = checked.original_name
    record.certificate_sha256 = checked.sha256


def _certificate(upload: object, kind: str) -> CheckedFile | None:
    if upload is None or upload == "":
        if kind == PlanKind.CALIBRATION:
            raise ValidationFailed(
                "certificate is required: attach the calibration certificate (PDF)",
                field="certificate",
            )
        return None
    try:
        return check_pdf(upload)
    except ValidationFailed as exc:
        raise ValidationFailed(
            exc.message.replace("file", "certificate", 1), field="certificate"
        ) from exc


def _impact(record: ServiceRecord, unit: Equipment, plan: MaintenancePlan) -> list[ImpactItem]:
    """Every usage overlapping [last passing calibration of this plan, now]; open ones too."""
    last_pass = (
        ServiceRecord.objects.filter(
            plan=plan, result=Result.PASS, performed_at__lte=record.performed_at
        )
        .exclude(pk=record.pk)
        .order_by("-performed_at", "-pk")
        .first()
    )
    start = last_pass.performed_at if last_pass is not None else None
    record.impact_window_start = start
    usages = Usage.objects.filter(equipment=unit, started_at__lte=record.recorded_at)
    if start is not None:
        usages = usages.filter(Q(ended_at__isnull=True) | Q(ended_at__gte=start))
    items = [
        ImpactItem(
            record=record,
            usage=u,
            batch_type=u.batch_type,
            batch_id=u.batch_id,
            batch_label=u.batch_label,
            step=u.step,
            started_at=u.started_at,
            ended_at=u.ended_at,
        )
        for u in usages.order_by("started_at", "pk")
    ]
    ImpactItem.objects.bulk_create(items)
    return items


def _deviation_text(record: ServiceRecord, unit: Equipment, items: list[ImpactItem]) -> str:
    batches = sorted({i.batch_label for i in items})
    since = (
        f"since the last passing calibration on {record.impact_window_start:%Y-%m-%d %H:%M} UTC"
        if record.impact_window_start
        else "ever (no passing calibration on record)"
    )
    named = ", ".join(batches) if batches else "none"
    return (
        f"Calibration '{record.plan.title}' of {unit.equipment_id} ({unit.name}) failed on "
        f"{record.performed_at:%Y-%m-%d %H:%M} UTC. The unit was taken out of service. "
        f"Batches that used it {since}: {named}.\nRemarks: {record.remarks or '—'}"
    )


def record_service(
    *,
    actor: User,
    plan_id: int,
    performed_at: dt.datetime,
    result: str,
    password: str,
    remarks: str = "",
    certificate: File | None = None,  # type: ignore[type-arg]
    request: HttpRequest | None = None,
) -> ServiceRecord:
    """Record a calibration or maintenance done at `performed_at` (not in the future, not
    before the plan's previous record), signed 'performed' by the actor."""
    plan = c.fetch(MaintenancePlan, plan_id, "plan_id")
    unit = plan.equipment
    require(actor, EqPerm.SERVICE, unit.site)
    when = c.moment(performed_at, "performed_at")
    outcome = c.choice(result, "result", Result.values)
    notes = c.text(remarks, "remarks", max_length=c.LONG, required=False)
    if outcome == Result.FAIL and not notes:
        raise ValidationFailed(
            "remarks are required for a failed result: say what failed", field="remarks"
        )
    checked = _certificate(certificate, plan.kind)
    proof = check_password_for_signing(actor, password, request)
    saved: list[str] = []
    try:
        with transaction.atomic():
            unit = c.equipment(unit.equipment_id, lock=True)
            plan = c.fetch(MaintenancePlan, plan.pk, "plan_id", lock=True)
            c.not_retired(unit)
            if not plan.is_active:
                raise Conflict(f"{plan} is no longer active", field="plan_id")
            previous = plan.records.order_by("-performed_at").first()
            if previous is not None and when < previous.performed_at:
                raise ValidationFailed(
                    f"performed_at is before the plan's last record "
                    f"({previous.performed_at:%Y-%m-%d %H:%M} UTC): records are entered in order",
                    field="performed_at",
                )
            record = ServiceRecord.objects.create(
                plan=plan,
                equipment=unit,
                kind=plan.kind,
                performed_at=when,
                performed_by=actor,
                recorded_at=now(),
                result=outcome,
                remarks=notes,
            )
            if checked is not None and certificate is not None:
                _store(record, certificate, checked, saved)
            update = ["certificate", "certificate_name", "certificate_sha256", "next_due_after"]
            if outcome == Result.PASS:
                plan_before = audit.snapshot(plan, MaintenancePlan.RECORD_FIELDS)
                plan.last_done = c.local_day(when, unit.site)
                plan.next_due = _due_after(plan, plan.last_done)
                plan.save(update_fields=["last_done", "next_due"])
            record.next_due_after = plan.next_due
            items: list[ImpactItem] = []
            if outcome == Result.FAIL and plan.kind == PlanKind.CALIBRATION:
                items = _impact(record, unit, plan)
                update.append("impact_window_start")
            record.save(update_fields=update)
            audit.append_event(
                actor=actor,
                action=f"equipment.{plan.kind}.recorded",
                record=record,
                changes=audit.created(
                    {
                        k: v
                        for k, v in audit.snapshot(record, ServiceRecord.RECORD_FIELDS).items()
                        if v not in ("", None)
                    }
                ),
            )
            if outcome == Result.PASS:
                audit.append_event(
                    actor=actor,
                    action="equipment.plan.done",
                    record=plan,
                    changes=audit.diff(
                        plan_before, audit.snapshot(plan, MaintenancePlan.RECORD_FIELDS)
                    ),
                    reason=f"{plan.get_kind_display()} record #{record.pk} passed",
                )
            else:
                _fail(record, unit, plan, items, actor)
            apply_signature(
                proof=proof, actor=actor, record=record, meaning=SignatureMeaning.PERFORMED
            )
    except BaseException:
        for name in saved:
            delete_orphan(name)
        raise
    return record


def _fail(
    record: ServiceRecord,
    unit: Equipment,
    plan: MaintenancePlan,
    items: list[ImpactItem],
    actor: User,
) -> None:
    """Out of service now; for a calibration, the deviation and the impact list too."""
    what = f"{plan.get_kind_display().lower()} '{plan.title}' failed (record #{record.pk})"
    if unit.status != EquipmentStatus.OUT_OF_SERVICE:
        set_status(
            unit, actor=actor, target=EquipmentStatus.OUT_OF_SERVICE, reason=what.capitalize()
        )
    if plan.kind != PlanKind.CALIBRATION:
        return
    deviation = raise_deviation(
        source=unit,
        category=DeviationCategory.EQUIPMENT,
        title=f"{unit.equipment_id} calibration failed: {plan.title}"[:200],
        description=_deviation_text(record, unit, items),
        actor=actor,
    )
    record.deviation_id = str(deviation.pk)
    record.deviation_number = deviation.number
    record.save(update_fields=["deviation_id", "deviation_number"])
    audit.append_event(
        actor=actor,
        action="equipment.calibration.impact_listed",
        record=record,
        changes={
            "impact_window_start": {"old": None, "new": record.impact_window_start},
            "impact_batches": {"old": None, "new": sorted({i.batch_label for i in items})},
            "impact_usages": {"old": None, "new": [i.usage_id for i in items]},
            "deviation": {"old": None, "new": deviation.number},
        },
    )
