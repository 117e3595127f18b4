"""qc API at /api/v1/qc; thin: parse, call a service or selector, serialize."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from ninja import File, Form, Query, Router, Status, UploadedFile

from vein2vein.core.actors import api_user
from vein2vein.core.errors import NotFound, ValidationFailed
from vein2vein.core.models import User
from vein2vein.core.pagination import Page, page_of
from vein2vein.core.permissions import require
from vein2vein.core.schemas import ErrorOut
from vein2vein.web.lists import api_rows

from . import selectors, services
from .filters import ResultFilterSet, SampleFilterSet
from .models import OosInvestigation, Sample, Shipment, Specification, TestMethod, TestResult
from .permissions import QcPerm
from .schemas import (
    AliquotIn,
    CounterImportForm,
    CriterionOut,
    FlowImportForm,
    InvalidationReasonIn,
    MethodIn,
    MethodOut,
    MethodVersionIn,
    MethodVersionOut,
    OosOut,
    PhaseIIn,
    QcSampleOut,
    QcSignIn,
    ReleaseLineOut,
    ReleaseTestingOut,
    ResultFilter,
    ResultIn,
    ResultOut,
    ResultReviewIn,
    SampleFilter,
    SampleIn,
    SampleReceiptIn,
    ShipIn,
    ShipmentOut,
    SpecificationIn,
    SpecificationOut,
    SummaryIn,
    WorkItemOut,
)

router = Router(tags=["qc"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _reader(request: HttpRequest) -> User:
    user = api_user(request)
    require(user, QcPerm.VIEW)
    return user


def _method_out(m: TestMethod) -> MethodOut:
    return MethodOut(
        id=m.pk,
        code=m.code,
        name=m.name,
        category=m.category,
        numeric=m.numeric,
        unit=m.unit,
        training_requirement=m.training_requirement,
        equipment_kind=m.equipment_kind,
        versions=[
            MethodVersionOut(
                version=v.version,
                description=v.description,
                gating_ml_sha256=v.gating_ml_sha256,
                created_at=v.created_at,
            )
            for v in m.versions.all()
        ],
    )


def _spec_out(s: Specification) -> SpecificationOut:
    return SpecificationOut(
        id=s.pk,
        product=s.product.code,
        stage=s.stage,
        version=s.version,
        title=s.title,
        status=s.status,
        approved_by=s.approved_by.username if s.approved_by else None,
        approved_at=s.approved_at,
        criteria=[
            CriterionOut(
                method=c.method.code,
                kind=c.kind,
                low=c.low,
                high=c.high,
                unit=c.unit,
                expected=c.expected,
                printed=c.printed,
            )
            for c in s.criteria.all()
        ],
    )


def _sample_out(s: Sample) -> QcSampleOut:
    return QcSampleOut(
        id=s.pk,
        number=s.number,
        batch=s.batch.number,
        purpose=s.purpose,
        parent=s.parent.number if s.parent else None,
        volume=s.volume,
        unit=s.unit,
        storage_location=s.storage_location,
        status=s.status,
        lab_kind=s.lab_kind,
        lab_name=s.lab_name,
        assigned_to=s.assigned_to.username if s.assigned_to else None,
        due_date=s.due_date,
    )


def _shipment_out(sh: Shipment) -> ShipmentOut:
    return ShipmentOut(
        id=sh.pk,
        sample=sh.sample.number,
        lab_kind=sh.lab_kind,
        lab_name=sh.lab_name,
        packet=sh.packet,
        shipped_at=sh.shipped_at,
        received_by=sh.received_by,
        received_at=sh.received_at,
        condition_on_arrival=sh.condition_on_arrival,
    )


def _result_out(r: TestResult, oos: int | None = None) -> ResultOut:
    return ResultOut(
        id=r.pk,
        batch=r.batch.number,
        sample=r.sample.number,
        test=r.criterion.method.code,
        method_version=r.method_version.version,
        criterion=r.criterion.printed,
        value_number=r.value_number,
        value_text=r.value_text,
        unit=r.unit,
        printed=r.printed,
        evaluation=r.evaluation,
        status=r.status,
        equipment_id=r.equipment.equipment_id if r.equipment else None,
        file_name=r.file_name,
        file_sha256=r.file_sha256,
        entered_by=r.entered_by.username,
        entered_at=r.entered_at,
        reviewed_by=r.reviewed_by.username if r.reviewed_by else None,
        reviewed_at=r.reviewed_at,
        retest_of_id=r.retest_of_id,
        invalidation_reason=r.invalidation_reason,
        oos_deviation_id=oos,
    )


def _results(user: User) -> Any:
    return selectors.results_for(user).select_related("equipment")


def _one_result(user: User, result_id: int) -> ResultOut:
    r = _results(user).filter(pk=result_id).first()
    if r is None:
        raise NotFound(f"result {result_id} does not exist", field="result_id")
    oos = OosInvestigation.objects.filter(result=r).values_list("deviation_id", flat=True).first()
    return _result_out(r, oos)


def _oos_out(o: OosInvestigation) -> OosOut:
    return OosOut(
        id=o.pk,
        result_id=o.result_id,
        batch=o.batch.number,
        deviation_id=o.deviation_id,
        deviation=o.deviation.number,
        phase=o.phase,
        opened_at=o.opened_at,
        assignable_cause=o.assignable_cause,
        phase_i_summary=o.phase_i_summary,
        phase_ii_summary=o.phase_ii_summary,
    )


# --- methods and specifications -------------------------------------------------------------
@router.get("/methods", response={200: list[MethodOut], **ERRORS})
def list_methods(request: HttpRequest, page: Query[Page]) -> list[MethodOut]:
    _reader(request)
    rows = TestMethod.objects.prefetch_related("versions").order_by("name")
    return [_method_out(m) for m in page_of(rows, page)]


@router.post("/methods", response={201: MethodOut, **ERRORS})
def create_method(request: HttpRequest, payload: MethodIn) -> Status[MethodOut]:
    m = services.create_method(actor=api_user(request), **payload.dict())
    return Status(201, _method_out(m))


@router.post("/methods/{method_id}/versions", response={201: MethodOut, **ERRORS})
def add_method_version(
    request: HttpRequest, method_id: int, payload: MethodVersionIn
) -> Status[MethodOut]:
    v = services.add_method_version(actor=api_user(request), method_id=method_id, **payload.dict())
    return Status(201, _method_out(v.method))


@router.get("/specifications", response={200: list[SpecificationOut], **ERRORS})
def list_specifications(request: HttpRequest, page: Query[Page]) -> list[SpecificationOut]:
    _reader(request)
    rows = (
        Specification.objects.select_related("product", "approved_by")
        .prefetch_related("criteria__method")
        .order_by("product_id", "stage", "-version")
    )
    return [_spec_out(s) for s in page_of(rows, page)]


@router.post("/specifications", response={201: SpecificationOut, **ERRORS})
def create_specification(
    request: HttpRequest, payload: SpecificationIn
) -> Status[SpecificationOut]:
    data = payload.dict()
    s = services.create_specification(actor=api_user(request), **data)
    return Status(201, _spec_out(s))


@router.post("/specifications/{spec_id}/approve", response={200: SpecificationOut, **ERRORS})
def approve_specification(
    request: HttpRequest, spec_id: int, payload: QcSignIn
) -> SpecificationOut:
    s = services.approve_specification(
        actor=api_user(request), specification_id=spec_id, request=request, **payload.dict()
    )
    return _spec_out(s)


# --- samples --------------------------------------------------------------------------------
@router.get("/samples", response={200: list[QcSampleOut], **ERRORS})
def list_samples(request: HttpRequest, filters: Query[SampleFilter]) -> list[QcSampleOut]:
    user = _reader(request)
    rows = api_rows(SampleFilterSet, filters, selectors.samples_for(user), request)
    return [_sample_out(s) for s in page_of(rows.order_by("-created_at"), filters)]


@router.post("/samples", response={201: QcSampleOut, **ERRORS})
def register_sample(request: HttpRequest, payload: SampleIn) -> Status[QcSampleOut]:
    s = services.register_sample(actor=api_user(request), **payload.dict())
    return Status(201, _sample_out(s))


@router.post("/samples/{sample_id}/aliquots", response={201: QcSampleOut, **ERRORS})
def make_aliquot(request: HttpRequest, sample_id: int, payload: AliquotIn) -> Status[QcSampleOut]:
    s = services.make_aliquot(actor=api_user(request), sample_id=sample_id, **payload.dict())
    return Status(201, _sample_out(s))


@router.post("/samples/{sample_id}/shipments", response={201: ShipmentOut, **ERRORS})
def ship_sample(request: HttpRequest, sample_id: int, payload: ShipIn) -> Status[ShipmentOut]:
    sh = services.ship_sample(actor=api_user(request), sample_id=sample_id, **payload.dict())
    return Status(201, _shipment_out(sh))


@router.post("/shipments/{shipment_id}/receipt", response={200: ShipmentOut, **ERRORS})
def receive_sample(request: HttpRequest, shipment_id: int, payload: SampleReceiptIn) -> ShipmentOut:
    sh = services.receive_sample(actor=api_user(request), shipment_id=shipment_id, **payload.dict())
    return _shipment_out(sh)


# --- results --------------------------------------------------------------------------------
@router.get("/results", response={200: list[ResultOut], **ERRORS})
def list_results(request: HttpRequest, filters: Query[ResultFilter]) -> list[ResultOut]:
    user = _reader(request)
    rows = api_rows(ResultFilterSet, filters, _results(user), request).order_by("-entered_at")
    window = page_of(rows, filters)
    oos = dict(
        OosInvestigation.objects.filter(result__in=[r.pk for r in window]).values_list(
            "result_id", "deviation_id"
        )
    )
    return [_result_out(r, oos.get(r.pk)) for r in window]


@router.post("/results", response={201: ResultOut, **ERRORS})
def enter_result(request: HttpRequest, payload: ResultIn) -> Status[ResultOut]:
    user = api_user(request)
    r = services.enter_result(actor=user, **payload.dict())
    return Status(201, _one_result(user, r.pk))


@router.get("/results/{result_id}", response={200: ResultOut, **ERRORS})
def get_result(request: HttpRequest, result_id: int) -> ResultOut:
    return _one_result(_reader(request), result_id)


@router.post("/results/{result_id}/review", response={200: ResultOut, **ERRORS})
def review_result(request: HttpRequest, result_id: int, payload: ResultReviewIn) -> ResultOut:
    user = api_user(request)
    services.review_result(actor=user, result_id=result_id, request=request, **payload.dict())
    return _one_result(user, result_id)


@router.post("/results/{result_id}/invalidation", response={200: ResultOut, **ERRORS})
def request_invalidation(
    request: HttpRequest, result_id: int, payload: InvalidationReasonIn
) -> ResultOut:
    user = api_user(request)
    services.request_invalidation(actor=user, result_id=result_id, **payload.dict())
    return _one_result(user, result_id)


@router.post("/results/{result_id}/invalidation/approve", response={200: ResultOut, **ERRORS})
def approve_invalidation(request: HttpRequest, result_id: int, payload: QcSignIn) -> ResultOut:
    user = api_user(request)
    services.approve_invalidation(
        actor=user, result_id=result_id, request=request, **payload.dict()
    )
    return _one_result(user, result_id)


# --- OOS ------------------------------------------------------------------------------------
@router.get("/oos", response={200: list[OosOut], **ERRORS})
def list_oos(request: HttpRequest, page: Query[Page]) -> list[OosOut]:
    user = _reader(request)
    return [_oos_out(o) for o in page_of(selectors.oos_for(user).order_by("-opened_at"), page)]


@router.post("/oos/{oos_id}/phase-i", response={200: OosOut, **ERRORS})
def conclude_phase_i(request: HttpRequest, oos_id: int, payload: PhaseIIn) -> OosOut:
    services.conclude_phase_i(actor=api_user(request), oos_id=oos_id, **payload.dict())
    return _oos_out(selectors.oos_for(api_user(request)).get(pk=oos_id))


@router.post("/oos/{oos_id}/phase-ii", response={200: OosOut, **ERRORS})
def conclude_phase_ii(request: HttpRequest, oos_id: int, payload: SummaryIn) -> OosOut:
    services.conclude_phase_ii(actor=api_user(request), oos_id=oos_id, **payload.dict())
    return _oos_out(selectors.oos_for(api_user(request)).get(pk=oos_id))


# --- batches, worklist ----------------------------------------------------------------------
@router.get("/batches/{batch_id}/release-testing", response={200: ReleaseTestingOut, **ERRORS})
def release_testing(request: HttpRequest, batch_id: int) -> ReleaseTestingOut:
    from vein2vein.manufacturing import selectors as mfg_selectors

    user = _reader(request)
    if not mfg_selectors.batches_for(user).filter(pk=batch_id).exists():
        raise NotFound(f"batch {batch_id} does not exist", field="batch_id")
    t = selectors.release_testing(batch_id)
    return ReleaseTestingOut(
        batch_id=t.batch_id,
        specification=t.specification,
        complete=t.complete,
        all_in_spec=t.all_in_spec,
        lines=[ReleaseLineOut(**line.__dict__) for line in t.lines],
        oos_deviation_ids=list(t.oos_deviation_ids),
    )


@router.get("/worklist", response={200: list[WorkItemOut], **ERRORS})
def worklist(request: HttpRequest, page: Query[Page]) -> list[WorkItemOut]:
    user = _reader(request)
    return [
        WorkItemOut(
            kind=i.kind,
            due=i.due,
            sample_id=i.sample.pk,
            sample=i.sample.number,
            batch=i.sample.batch.number,
            test=i.test,
            result_id=i.result.pk if i.result else None,
        )
        for i in page_of(selectors.worklist(user), page)
    ]


# --- instrument imports ---------------------------------------------------------------------
@router.post("/imports/counter", response={201: list[ResultOut], **ERRORS})
def import_counter(
    request: HttpRequest, data: Form[CounterImportForm], file: File[UploadedFile]
) -> Status[list[ResultOut]]:
    """A cell-counter export: each row assigned to a sample becomes its cell-count results."""
    user = api_user(request)
    try:
        raw = json.loads(data.assignments)
        assignments = {int(k): int(v) for k, v in raw.items()}
    except (ValueError, TypeError, AttributeError):
        raise ValidationFailed(
            'assignments must be a JSON object {"row index": sample id}', field="assignments"
        ) from None
    made = services.import_counter_results(
        actor=user,
        instrument=data.instrument,
        content=file.read(),
        filename=file.name or "export",
        assignments=assignments,
        equipment_id=data.equipment_id,
    )
    return Status(201, [_one_result(user, r.pk) for r in made])


@router.post("/imports/flow", response={201: ResultOut, **ERRORS})
def import_flow(
    request: HttpRequest, data: Form[FlowImportForm], file: File[UploadedFile]
) -> Status[ResultOut]:
    """An FCS file gated with the flow method's Gating-ML: the gate's % becomes the result."""
    user = api_user(request)
    r = services.import_flow_result(
        actor=user, content=file.read(), filename=file.name or "data.fcs", **data.dict()
    )
    return Status(201, _one_result(user, r.pk))
