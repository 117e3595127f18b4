"""Reads shared by the services, views, API and dashboard; `check_equipment_usable` is the
pure gate later apps (the batch record) call at the moment of use."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Prefetch, Q, QuerySet

from vein2vein.core.models import Signature, Site
from vein2vein.core.signing import Manifestation, manifestation
from vein2vein.core.time import in_zone, now

from .choices import (
    DUE_SOON_DAYS,
    REQUIRED_STAGES,
    EquipmentStatus,
    PlanKind,
    QualificationStatus,
    Result,
)
from .models import (
    Equipment,
    ImpactItem,
    MaintenancePlan,
    QualificationRecord,
    ServiceRecord,
    Usage,
)

BatchRef = tuple[str, str]


def local_day(value: dt.datetime, site: Site) -> dt.date:
    return in_zone(value, site.time_zone).date()


def today(site: Site) -> dt.date:
    return local_day(now(), site)


# --- qualification ----------------------------------------------------------------------------
def missing_stages(unit: Equipment) -> list[str]:
    """The required stages with no approved, passing record (in the kind's order)."""
    done = set(
        QualificationRecord.objects.filter(
            equipment=unit, status=QualificationStatus.APPROVED, result=Result.PASS
        ).values_list("stage", flat=True)
    )
    return [s for s in REQUIRED_STAGES.get(unit.kind, ()) if s not in done]


def latest_records(unit: Equipment) -> dict[int, ServiceRecord]:
    """The most recent record of each active plan, by plan id."""
    out: dict[int, ServiceRecord] = {}
    for rec in ServiceRecord.objects.filter(equipment=unit, plan__is_active=True).order_by(
        "plan_id", "-performed_at", "-pk"
    ):
        out.setdefault(rec.plan_id, rec)
    return out


def failed_plans(unit: Equipment) -> list[MaintenancePlan]:
    """Active plans whose latest record failed: the unit needs a passing one before service."""
    latest = latest_records(unit)
    return [
        p
        for p in unit.plans.filter(is_active=True)
        if p.pk in latest and latest[p.pk].result == Result.FAIL
    ]


# --- the usability gate -----------------------------------------------------------------------
@dataclass
class UsabilityResult:
    """Usable, or exactly why not: "CEN-02 calibration 'Speed' overdue: it was due on 2026-03-01".
    Truthy when usable."""

    equipment: Equipment
    at: dt.datetime
    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reasons

    def __bool__(self) -> bool:
        return self.ok

    @property
    def message(self) -> str:
        if self.ok:
            return f"{self.equipment.equipment_id} is usable"
        return f"{self.equipment.equipment_id} is not usable: {'; '.join(self.reasons)}"

    def __str__(self) -> str:
        return self.message


def open_usages(unit: Equipment, at: dt.datetime | None = None) -> QuerySet[Usage]:
    """Usages in progress at `at` (default now): started by then, not ended by then."""
    when = at or now()
    return Usage.objects.filter(equipment=unit, started_at__lte=when).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=when)
    )


def check_equipment_usable(
    equipment: Equipment, at: dt.datetime | None = None, batch_ref: BatchRef | None = None
) -> UsabilityResult:
    """May `equipment` be used at `at` (default now) by the batch `batch_ref`? A pure read.

    Refuses: a status other than in service (in qualification, out of service, retired);
    missing IQ/OQ/PQ approvals; a calibration or maintenance never done, failed, or past its
    due date on the site's calendar at `at` (the due date itself is still in date); and a
    usage by another batch in progress at `at` (with no `batch_ref`, any usage in progress).
    The status is the unit's current one.
    """
    when = at or now()
    unit = equipment
    result = UsabilityResult(unit, when)
    reasons = result.reasons
    if unit.status != EquipmentStatus.IN_SERVICE:
        reasons.append(f"status is {unit.get_status_display().lower()}")
        if unit.status == EquipmentStatus.RETIRED:
            return result
    missing = missing_stages(unit)
    if missing:
        reasons.append(f"not qualified: {', '.join(missing)} not approved")
    day = local_day(when, unit.site)
    latest = latest_records(unit)
    for plan in unit.plans.filter(is_active=True).order_by("kind", "title"):
        what = f"{plan.get_kind_display().lower()} '{plan.title}'"
        last = latest.get(plan.pk)
        if last is not None and last.result == Result.FAIL:
            reasons.append(f"{what} failed on {local_day(last.performed_at, unit.site)}")
        elif plan.next_due is None:
            reasons.append(f"{what} never performed")
        elif day > plan.next_due:
            reasons.append(f"{what} overdue: it was due on {plan.next_due}")
    busy = open_usages(unit, when).order_by("started_at")
    if batch_ref is not None:
        busy = busy.exclude(batch_type=batch_ref[0], batch_id=batch_ref[1])
    other = busy.first()
    if other is not None:
        reasons.append(
            f"in use by batch {other.batch_label} ({other.step}) since "
            f"{in_zone(other.started_at, unit.site.time_zone):%Y-%m-%d %H:%M %Z}"
        )
    return result


# --- lists ------------------------------------------------------------------------------------
def equipment_list(
    *,
    kind: str = "",
    status: str = "",
    site: Site | None = None,
    due: str = "",
    q: str = "",
) -> QuerySet[Equipment]:
    """Units by equipment ID, narrowed (`narrow_equipment`)."""
    rows = Equipment.objects.select_related("site").order_by("equipment_id")
    return narrow_equipment(rows, kind=kind, status=status, site=site, due=due, q=q)


def narrow_equipment(
    rows: QuerySet[Equipment],
    *,
    kind: str = "",
    status: str = "",
    site: Site | None = None,
    due: str = "",
    q: str = "",
) -> QuerySet[Equipment]:
    """Units filtered by kind, status, site and due state ('soon': a plan due within 14 days
    or overdue; 'overdue': a plan past due or never done). The list page and the API read
    these meanings through equipment/filters.py."""
    if kind:
        rows = rows.filter(kind=kind)
    if status:
        rows = rows.filter(status=status)
    if site is not None:
        rows = rows.filter(site=site)
    if q:
        rows = rows.filter(Q(equipment_id__icontains=q) | Q(name__icontains=q))
    if due:
        due_rows = due_plans(site=site)
        if due == "overdue":
            due_rows = [r for r in due_rows if r.overdue]
        rows = rows.filter(pk__in={r.plan.equipment_id for r in due_rows})
    return rows


@dataclass(frozen=True)
class DueRow:
    plan: MaintenancePlan
    overdue: bool
    days_left: int | None


def due_plans(*, within_days: int = DUE_SOON_DAYS, site: Site | None = None) -> list[DueRow]:
    """Active plans of units not retired, due within `within_days` or overdue, soonest first
    (never done first of all)."""
    plans = (
        MaintenancePlan.objects.filter(is_active=True)
        .exclude(equipment__status=EquipmentStatus.RETIRED)
        .select_related("equipment", "equipment__site")
    )
    if site is not None:
        plans = plans.filter(equipment__site=site)
    rows = []
    for plan in plans:
        day = today(plan.equipment.site)
        if plan.next_due is None:
            rows.append(DueRow(plan, True, None))
        elif (plan.next_due - day).days <= within_days:
            rows.append(DueRow(plan, plan.next_due < day, (plan.next_due - day).days))
    rows.sort(
        key=lambda r: (r.days_left is not None, r.days_left or 0, r.plan.equipment.equipment_id)
    )
    return rows


def out_of_service(site: Site | None = None) -> QuerySet[Equipment]:
    rows = Equipment.objects.filter(status=EquipmentStatus.OUT_OF_SERVICE).select_related("site")
    return rows.filter(site=site) if site is not None else rows


IMPACT_ORDER = ("started_at", "pk")


def impact_items(record: ServiceRecord) -> list[ImpactItem]:
    """The record's impact list in use order (read with the records by `with_impact`)."""
    prefetched: list[ImpactItem] | None = getattr(record, "impact_in_order", None)
    if prefetched is not None:
        return prefetched
    return list(record.impact.all().order_by(*IMPACT_ORDER))


def with_impact(records: QuerySet[ServiceRecord]) -> QuerySet[ServiceRecord]:
    """`records` with each one's impact list in one more query."""
    return records.prefetch_related(
        Prefetch("impact", ImpactItem.objects.order_by(*IMPACT_ORDER), to_attr="impact_in_order")
    )


def impact_batches(record: ServiceRecord) -> list[str]:
    """The batch labels a failed calibration's impact list names, each once, in use order."""
    seen: list[str] = []
    for item in impact_items(record):
        if item.batch_label not in seen:
            seen.append(item.batch_label)
    return seen


def failed_calibrations(unit: Equipment) -> QuerySet[ServiceRecord]:
    return ServiceRecord.objects.filter(
        equipment=unit, kind=PlanKind.CALIBRATION, result=Result.FAIL
    ).order_by("-performed_at")


@dataclass(frozen=True)
class PlanRow:
    plan: MaintenancePlan
    latest: ServiceRecord | None
    overdue: bool
    due_soon: bool
    failed: bool


def plan_rows(unit: Equipment) -> list[PlanRow]:
    """A unit's active plans with their due state today at the site."""
    day = today(unit.site)
    latest = latest_records(unit)
    rows = []
    for plan in unit.plans.filter(is_active=True).order_by("kind", "title"):
        last = latest.get(plan.pk)
        overdue = plan.is_overdue_on(day)
        soon = (
            not overdue
            and plan.next_due is not None
            and (plan.next_due - day).days <= DUE_SOON_DAYS
        )
        rows.append(
            PlanRow(plan, last, overdue, soon, last is not None and last.result == Result.FAIL)
        )
    return rows


@dataclass(frozen=True)
class SignatureRow:
    label: str
    manifestation: Manifestation


def unit_signatures(unit: Equipment) -> list[SignatureRow]:
    """Every signature on the unit's qualification and service records, newest first."""
    rows: list[tuple[dt.datetime, SignatureRow]] = []
    for model, label, related in (
        (QualificationRecord, "Qualification", ("equipment", "document")),
        (ServiceRecord, "Record", ("equipment",)),
    ):
        # What each signature's check and label read of its record comes with the record.
        records = {
            str(r.pk): r for r in model.objects.filter(equipment=unit).select_related(*related)
        }
        if not records:
            continue
        record_type = f"equipment.{model._meta.model_name}"
        for sig in Signature.objects.filter(
            record_type=record_type, record_id__in=list(records)
        ).select_related("signer"):
            rec = records[sig.record_id]
            rows.append((sig.signed_at, SignatureRow(f"{label}: {rec}", manifestation(sig, rec))))
    rows.sort(key=lambda r: r[0], reverse=True)
    return [r[1] for r in rows]
