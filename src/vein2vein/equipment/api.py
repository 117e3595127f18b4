"""equipment API at /api/v1/equipment; thin: parse, call a service or selector, serialize."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, HttpRequest
from ninja import File, Form, Query, Router, Status, UploadedFile

from vein2vein.core.actors import api_user
from vein2vein.core.errors import NotFound
from vein2vein.core.models import User
from vein2vein.core.pagination import Page, page_of
from vein2vein.core.permissions import require
from vein2vein.core.schemas import ErrorOut
from vein2vein.web.lists import api_rows
from vein2vein.web.serialize import out

from . import selectors, services
from .download import certificate_response
from .filters import EquipmentApiFilterSet
from .models import Equipment, MaintenancePlan, QualificationRecord, ServiceRecord, Usage
from .permissions import EqPerm
from .schemas import (
    DueOut,
    EquipmentFilter,
    EquipmentIn,
    EquipmentOut,
    EquipmentPatch,
    EquipmentSignIn,
    ImpactOut,
    IntervalIn,
    PlanIn,
    PlanOut,
    QualificationIn,
    RecordOut,
    ServiceForm,
    StatusIn,
    UnitQualificationOut,
    UsabilityOut,
    UsableQuery,
    UsageEndIn,
    UsageIn,
    UsageOut,
)

router = Router(tags=["equipment"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _reader(request: HttpRequest) -> User:
    user = api_user(request)
    require(user, EqPerm.VIEW)
    return user


def _get(model: type[Any], pk: int, field: str) -> Any:
    obj = model._default_manager.filter(pk=pk).first()
    if obj is None:
        raise NotFound(f"{model._meta.verbose_name} {pk} does not exist", field=field)
    return obj


def _unit(tag: str) -> Equipment:
    found = Equipment.objects.select_related("site").filter(equipment_id=tag.upper()).first()
    if found is None:
        raise NotFound(f"equipment {tag} does not exist", field="equipment_id")
    return found


def _unit_out(u: Equipment) -> EquipmentOut:
    return out(EquipmentOut, u, site=u.site.code)


def _qual_out(q: QualificationRecord) -> UnitQualificationOut:
    return UnitQualificationOut(
        id=q.pk,
        equipment_id=q.equipment.equipment_id,
        stage=q.stage,
        document=q.document.number,
        document_version=q.document_version,
        result=q.result,
        performed_on=q.performed_on,
        remarks=q.remarks,
        performed_by=q.performed_by.username,
        recorded_at=q.recorded_at,
        status=q.status,
        approved_by=q.approved_by.username if q.approved_by else None,
        approved_at=q.approved_at,
    )


def _plan_out(p: MaintenancePlan) -> PlanOut:
    return PlanOut(
        id=p.pk,
        equipment_id=p.equipment.equipment_id,
        kind=p.kind,
        title=p.title,
        interval_days=p.interval_days,
        last_done=p.last_done,
        next_due=p.next_due,
        overdue=p.is_overdue_on(selectors.today(p.equipment.site)),
    )


def _record_out(r: ServiceRecord) -> RecordOut:
    items = selectors.impact_items(r)
    return RecordOut(
        id=r.pk,
        equipment_id=r.equipment.equipment_id,
        plan_id=r.plan_id,
        kind=r.kind,
        performed_at=r.performed_at,
        performed_by=r.performed_by.username,
        recorded_at=r.recorded_at,
        result=r.result,
        remarks=r.remarks,
        certificate_name=r.certificate_name,
        certificate_sha256=r.certificate_sha256,
        next_due_after=r.next_due_after,
        deviation_number=r.deviation_number,
        impact_window_start=r.impact_window_start,
        impact_batches=selectors.impact_batches(r),
        impact=[
            ImpactOut(
                usage_id=i.usage_id,
                batch_type=i.batch_type,
                batch_id=i.batch_id,
                batch_label=i.batch_label,
                step=i.step,
                started_at=i.started_at,
                ended_at=i.ended_at,
            )
            for i in items
        ],
    )


def _usage_out(g: Usage) -> UsageOut:
    return out(
        UsageOut,
        g,
        equipment_id=g.equipment.equipment_id,
        started_by=g.started_by.username,
        ended_by=g.ended_by.username if g.ended_by else None,
    )


# --- units --------------------------------------------------------------------------------
@router.get("/units", response={200: list[EquipmentOut], **ERRORS})
def list_units(request: HttpRequest, filters: Query[EquipmentFilter]) -> list[EquipmentOut]:
    _reader(request)
    rows = api_rows(EquipmentApiFilterSet, filters, selectors.equipment_list(), request)
    return [_unit_out(u) for u in page_of(rows, filters)]


@router.post("/units", response={201: EquipmentOut, **ERRORS})
def register_unit(request: HttpRequest, payload: EquipmentIn) -> Status[EquipmentOut]:
    unit = services.register_equipment(actor=api_user(request), **payload.dict())
    return Status(201, _unit_out(unit))


@router.get("/units/{equipment_id}", response={200: EquipmentOut, **ERRORS})
def get_unit(request: HttpRequest, equipment_id: str) -> EquipmentOut:
    _reader(request)
    return _unit_out(_unit(equipment_id))


@router.patch("/units/{equipment_id}", response={200: EquipmentOut, **ERRORS})
def correct_unit(request: HttpRequest, equipment_id: str, payload: EquipmentPatch) -> EquipmentOut:
    fields = payload.dict(exclude_unset=True)
    reason = fields.pop("reason")
    unit = services.update_equipment(
        actor=api_user(request), equipment_id=equipment_id, reason=reason, **fields
    )
    return _unit_out(unit)


@router.post("/units/{equipment_id}/status", response={200: EquipmentOut, **ERRORS})
def change_status(request: HttpRequest, equipment_id: str, payload: StatusIn) -> EquipmentOut:
    unit = services.change_status(
        actor=api_user(request), equipment_id=equipment_id, **payload.dict()
    )
    return _unit_out(unit)


@router.get("/units/{equipment_id}/usable", response={200: UsabilityOut, **ERRORS})
def usable(request: HttpRequest, equipment_id: str, query: Query[UsableQuery]) -> UsabilityOut:
    """The gate, read only: may the unit be used at `at` (default now) by this batch?"""
    _reader(request)
    ref = (query.batch_type or "", query.batch_id or "") if query.batch_id else None
    result = selectors.check_equipment_usable(_unit(equipment_id), query.at, ref)
    return UsabilityOut(
        equipment_id=result.equipment.equipment_id,
        at=result.at,
        ok=result.ok,
        reasons=result.reasons,
        message=result.message,
    )


# --- qualification --------------------------------------------------------------------------
@router.get(
    "/units/{equipment_id}/qualifications", response={200: list[UnitQualificationOut], **ERRORS}
)
def list_qualifications(
    request: HttpRequest, equipment_id: str, page: Query[Page]
) -> list[UnitQualificationOut]:
    _reader(request)
    rows = _unit(equipment_id).qualifications.select_related(
        "document", "performed_by", "approved_by"
    )
    return [_qual_out(q) for q in page_of(rows, page)]


@router.post("/units/{equipment_id}/qualifications", response={201: UnitQualificationOut, **ERRORS})
def record_qualification(
    request: HttpRequest, equipment_id: str, payload: QualificationIn
) -> Status[UnitQualificationOut]:
    rec = services.record_qualification(
        actor=api_user(request), equipment_id=equipment_id, **payload.dict()
    )
    return Status(201, _qual_out(rec))


@router.post("/qualifications/{record_id}/approve", response={200: UnitQualificationOut, **ERRORS})
def approve_qualification(
    request: HttpRequest, record_id: int, payload: EquipmentSignIn
) -> UnitQualificationOut:
    rec = services.approve_qualification(
        actor=api_user(request), record_id=record_id, request=request, **payload.dict()
    )
    return _qual_out(rec)


# --- plans and records ---------------------------------------------------------------------
@router.get("/units/{equipment_id}/plans", response={200: list[PlanOut], **ERRORS})
def list_plans(request: HttpRequest, equipment_id: str, page: Query[Page]) -> list[PlanOut]:
    _reader(request)
    return [_plan_out(p) for p in page_of(_unit(equipment_id).plans.filter(is_active=True), page)]


@router.post("/units/{equipment_id}/plans", response={201: PlanOut, **ERRORS})
def add_plan(request: HttpRequest, equipment_id: str, payload: PlanIn) -> Status[PlanOut]:
    plan = services.add_plan(actor=api_user(request), equipment_id=equipment_id, **payload.dict())
    return Status(201, _plan_out(plan))


@router.post("/plans/{plan_id}/interval", response={200: PlanOut, **ERRORS})
def change_interval(request: HttpRequest, plan_id: int, payload: IntervalIn) -> PlanOut:
    plan = services.change_interval(actor=api_user(request), plan_id=plan_id, **payload.dict())
    return _plan_out(plan)


@router.post("/plans/{plan_id}/records", response={201: RecordOut, **ERRORS})
def record_service(
    request: HttpRequest,
    plan_id: int,
    data: Form[ServiceForm],
    file: File[UploadedFile | None] = None,
) -> Status[RecordOut]:
    """A calibration or maintenance record, signed 'performed' (multipart: performed_at,
    result, remarks, password, file = the certificate PDF, required for a calibration). A
    failed calibration answers with its deviation and impact list."""
    rec = services.record_service(
        actor=api_user(request),
        plan_id=plan_id,
        performed_at=data.performed_at,
        result=data.result,
        remarks=data.remarks,
        password=data.password,
        certificate=file,
        request=request,
    )
    return Status(201, _record_out(rec))


@router.get("/units/{equipment_id}/records", response={200: list[RecordOut], **ERRORS})
def list_records(request: HttpRequest, equipment_id: str, page: Query[Page]) -> list[RecordOut]:
    _reader(request)
    rows = selectors.with_impact(
        _unit(equipment_id).records.select_related("equipment", "performed_by")
    )
    return [_record_out(r) for r in page_of(rows, page)]


@router.get("/records/{record_id}", response={200: RecordOut, **ERRORS})
def get_record(request: HttpRequest, record_id: int) -> RecordOut:
    """One record; a failed calibration carries its impact list."""
    _reader(request)
    return _record_out(_get(ServiceRecord, record_id, "record_id"))


@router.get("/records/{record_id}/certificate", response={200: None, **ERRORS})
def get_certificate(request: HttpRequest, record_id: int) -> FileResponse:
    return certificate_response(_reader(request), _get(ServiceRecord, record_id, "record_id"))


@router.get("/due", response={200: list[DueOut], **ERRORS})
def due(request: HttpRequest, page: Query[Page], within_days: int = 14) -> list[DueOut]:
    """Plans due within `within_days` (0-3660) or overdue, never done first."""
    _reader(request)
    days = max(0, min(within_days, 3660))
    return [
        DueOut(
            plan=_plan_out(r.plan), equipment_status=r.plan.equipment.status, days_left=r.days_left
        )
        for r in page_of(selectors.due_plans(within_days=days), page)
    ]


# --- usage ----------------------------------------------------------------------------------
@router.get("/units/{equipment_id}/usages", response={200: list[UsageOut], **ERRORS})
def list_usages(request: HttpRequest, equipment_id: str, page: Query[Page]) -> list[UsageOut]:
    _reader(request)
    rows = _unit(equipment_id).usages.select_related("equipment", "started_by", "ended_by")
    return [_usage_out(g) for g in page_of(rows, page)]


@router.post("/units/{equipment_id}/usages", response={201: UsageOut, **ERRORS})
def start_usage(request: HttpRequest, equipment_id: str, payload: UsageIn) -> Status[UsageOut]:
    usage = services.start_usage(
        actor=api_user(request),
        equipment_id=equipment_id,
        batch_ref=(payload.batch_type, payload.batch_id),
        batch_label=payload.batch_label,
        step=payload.step,
        at=payload.at,
    )
    return Status(201, _usage_out(usage))


@router.post("/usages/{usage_id}/end", response={200: UsageOut, **ERRORS})
def end_usage(request: HttpRequest, usage_id: int, payload: UsageEndIn) -> UsageOut:
    return _usage_out(services.end_usage(actor=api_user(request), usage_id=usage_id, at=payload.at))
