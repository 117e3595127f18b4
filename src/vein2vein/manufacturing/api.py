"""manufacturing API at /api/v1/manufacturing; thin: parse, call a service or selector, serialize.

Routes: master records (list, get with its steps, the YAML as approved, the published JSON
schema, check a YAML without writing, import a YAML as a new draft MBR version); batches
(list, start, get with every step's state, the next steps and progress), step execution
(record a step, verify an entry, correct an entry), hold, resume, complete, abort (QA
signature), the QA review by exception (read it, sign it) and the batch's samples.

Steps are recorded with a JSON body: attachment steps (a file) are recorded through the batch
page of the UI only. A caller reads the batches of the sites where they hold a role
(`selectors.batches_for`); a batch elsewhere is "not found", for reads and writes alike.
Master records are organisation-wide, like the documents they come from. Bodies that carry
the MBR file name it `yaml_text`; a refusal of its content names the YAML path in the detail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status

from vein2vein.core.actors import api_user
from vein2vein.core.api import ERRORS
from vein2vein.core.errors import DomainError, NotFound
from vein2vein.core.models import User
from vein2vein.core.pagination import Page, page_of
from vein2vein.core.permissions import require
from vein2vein.web.lists import api_rows

from . import mbr, selectors, services
from .choices import BatchStatus
from .filters import BatchFilterSet, MasterRecordFilterSet
from .models import Batch, BatchSample, MasterRecord, StepEntry
from .permissions import MfgPerm
from .schemas import (
    MAX_ID,
    AbortIn,
    BatchDetailOut,
    BatchFilter,
    BatchOut,
    CorrectIn,
    EntryOut,
    ExceptionOut,
    ImportIn,
    MasterRecordDetailOut,
    MasterRecordFilter,
    MasterRecordOut,
    MbrStepOut,
    ProgressOut,
    ReasonIn,
    ReviewIn,
    ReviewOut,
    SampleOut,
    StartIn,
    StepIn,
    StepStateOut,
    ValidateOut,
    VerifyIn,
    YamlIn,
)

router = Router(tags=["manufacturing"])

_STEP_FIELDS = frozenset(
    {"key", "kind", "title", "instruction", "operation", "operation_title", "index", "after"}
    | {"requires", "verify"}
)


_BODY_FIELDS = {"file": "yaml_text", "document": "document_id"}


def _view(request: HttpRequest) -> User:
    user = api_user(request)
    require(user, MfgPerm.VIEW)
    return user


def _in_range(pk: int) -> bool:
    return 1 <= pk <= MAX_ID


def _master_record(master_record_id: int) -> MasterRecord:
    found = (
        selectors.master_records().select_related("parsed_by").filter(pk=master_record_id).first()
        if _in_range(master_record_id)
        else None
    )
    if found is None:
        raise NotFound(f"master record {master_record_id} does not exist", field="master_record_id")
    return found


def _batches(user: User) -> QuerySet[Batch]:
    return selectors.batches_for(user).select_related("started_by")


def _batch(user: User, batch_id: int) -> Batch:
    """A batch the caller may read, or 404 (a batch at someone else's sites is not shown)."""
    found = _batches(user).filter(pk=batch_id).first() if _in_range(batch_id) else None
    if found is None:
        raise NotFound(
            f"batch {batch_id} does not exist or is not at one of your sites", field="batch_id"
        )
    return found


def _entry(user: User, entry_id: int) -> StepEntry:
    """A step entry of a batch the caller may read, or 404."""
    found = (
        StepEntry.objects.select_related("performed_by", "verified_by")
        .filter(pk=entry_id, batch_id__in=selectors.batches_for(user).values("pk"))
        .first()
        if _in_range(entry_id)
        else None
    )
    if found is None:
        raise NotFound(
            f"step entry {entry_id} does not exist or is not at one of your sites",
            field="entry_id",
        )
    return found


@contextmanager
def _yaml_field() -> Iterator[None]:
    """The services name the MBR file `file` (as uploaded on the authoring page) and the
    documents app its document `document`; this API's body calls them `yaml_text` and
    `document_id`."""
    try:
        yield
    except DomainError as exc:
        exc.field = _BODY_FIELDS.get(exc.field or "", exc.field)
        raise


# --- serializers ------------------------------------------------------------------------------
def _master_record_out(mr: MasterRecord) -> MasterRecordOut:
    v = mr.document_version
    return MasterRecordOut(
        id=mr.pk,
        document_id=v.document_id,
        document_number=v.document.number,
        version=v.version,
        version_status=v.status,
        effective_date=v.effective_date,
        effective_at=v.effective_at,
        product=mr.product.code,
        process_version=mr.process_version,
        title=mr.title,
        step_count=mr.step_count,
        file_sha256=mr.file_sha256,
        definition_sha256=mr.definition_sha256,
        parsed_by=mr.parsed_by.username,
        parsed_at=mr.parsed_at,
    )


def _mbr_step_out(step: dict[str, Any]) -> MbrStepOut:
    return MbrStepOut(
        key=step["key"],
        kind=step["kind"],
        title=step["title"],
        instruction=step.get("instruction", ""),
        operation=step["operation"],
        operation_title=step["operation_title"],
        index=step["index"],
        after=list(step.get("after", [])),
        requires=list(step.get("requires", [])),
        verify=bool(step.get("verify")),
        spec={k: v for k, v in step.items() if k not in _STEP_FIELDS},
    )


def _master_record_detail(mr: MasterRecord) -> MasterRecordDetailOut:
    definition = mr.definition
    return MasterRecordDetailOut(
        **_master_record_out(mr).dict(),
        description=definition.get("description", ""),
        parameters=definition.get("parameters", {}),
        steps=[_mbr_step_out(s) for s in mbr.steps(definition)],
    )


def _batch_out(b: Batch) -> BatchOut:
    mr = b.master_record
    return BatchOut(
        id=b.pk,
        number=b.number,
        master_record_id=mr.pk,
        mbr=str(mr.document_version),
        product=mr.product.code,
        process_version=mr.process_version,
        site=b.site.code,
        order_id=b.order_id,
        coi=b.coi,
        donor_lot=b.donor_lot,
        status=b.status,
        status_label=BatchStatus(b.status).label,
        started_by=b.started_by.username,
        started_at=b.started_at,
        recorded_at=b.recorded_at,
        hold_reason=b.hold_reason,
        completed_at=b.completed_at,
        reviewed_at=b.reviewed_at,
        review_comment=b.review_comment,
        aborted_at=b.aborted_at,
        abort_reason=b.abort_reason,
    )


def _plain(value: Decimal | None) -> Decimal | None:
    """A stored number without the column's trailing zeros (2, not 2.0000000000; 68500000,
    not 6.85E+7)."""
    if value is None:
        return None
    n = value.normalize()
    exponent = n.as_tuple().exponent
    return n.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else n


def _entry_out(e: StepEntry) -> EntryOut:
    return EntryOut(
        id=e.pk,
        batch_id=e.batch_id,
        seq=e.seq,
        step_key=e.step_key,
        step_kind=e.step_kind,
        status=e.status,
        value_text=e.value_text,
        value_number=_plain(e.value_number),
        unit=e.unit,
        details=e.details,
        flag=e.flag,
        comment=e.comment,
        deviation=e.deviation,
        performed_by=e.performed_by.username,
        performed_at=e.performed_at,
        recorded_at=e.recorded_at,
        late=e.is_late,
        file_name=e.file_name,
        file_sha256=e.file_sha256,
        verified_by=e.verified_by.username if e.verified_by else None,
        verified_at=e.verified_at,
        corrects_id=e.corrects_id,
        correction_reason=e.correction_reason,
    )


def _batch_detail(b: Batch) -> BatchDetailOut:
    done, total = selectors.progress(b)
    return BatchDetailOut(
        **_batch_out(b).dict(),
        steps=[
            StepStateOut(
                key=s.key,
                kind=s.step["kind"],
                title=s.step["title"],
                operation=s.step["operation"],
                index=s.step["index"],
                verify=bool(s.step.get("verify")),
                state=s.state,
                entry=_entry_out(s.entry) if s.entry is not None else None,
                history=[_entry_out(e) for e in s.history],
            )
            for s in selectors.step_states(b)
        ],
        next_steps=[s.key for s in selectors.next_steps(b)],
        progress=ProgressOut(done=done, total=total),
    )


def _sample_out(s: BatchSample) -> SampleOut:
    return SampleOut(
        number=s.number,
        batch_id=s.batch_id,
        entry_id=s.entry_id,
        sample_type=s.sample_type,
        tests=[str(t) for t in s.tests],
        quantity=s.quantity,
        unit=s.unit,
        drawn_by=s.drawn_by.username,
        drawn_at=s.drawn_at,
        label_text=s.label_text,
        voided_at=s.voided_at,
        void_reason=s.void_reason,
    )


def _exception_out(x: selectors.Exception_) -> ExceptionOut:
    return ExceptionOut(
        kind=x.kind,
        title=x.title,
        detail=x.detail,
        entry_id=x.entry.pk if x.entry is not None else None,
        step_key=x.entry.step_key if x.entry is not None else None,
        deviation=x.deviation.number if x.deviation is not None else None,
        deviation_status=x.deviation.status if x.deviation is not None else None,
        event_seq=x.event.seq if x.event is not None else None,
    )


# --- master records ---------------------------------------------------------------------------
@router.get("/master-records", response={200: list[MasterRecordOut], **ERRORS})
def list_master_records(
    request: HttpRequest, filters: Query[MasterRecordFilter]
) -> list[MasterRecordOut]:
    _view(request)
    qs = api_rows(
        MasterRecordFilterSet,
        filters,
        selectors.master_records().select_related("parsed_by"),
        request,
    )
    return [_master_record_out(mr) for mr in page_of(qs, filters)]


@router.get(
    "/master-records/{int:master_record_id}", response={200: MasterRecordDetailOut, **ERRORS}
)
def get_master_record(request: HttpRequest, master_record_id: int) -> MasterRecordDetailOut:
    """One MBR version with its parameters and every step in execution order."""
    _view(request)
    return _master_record_detail(_master_record(master_record_id))


@router.get("/master-records/{int:master_record_id}/yaml", response={200: None, **ERRORS})
def export_master_record(request: HttpRequest, master_record_id: int) -> HttpResponse:
    """The YAML file as reviewed and approved (text/yaml), with its SHA-256 in a header."""
    _view(request)
    mr = _master_record(master_record_id)
    body = mr.yaml_text.encode("utf-8")
    response = HttpResponse(body, content_type="text/yaml; charset=utf-8")
    name = f"{mr.document_version.document.number}-v{mr.document_version.version}.yaml"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-SHA256"] = hashlib.sha256(body).hexdigest()
    return response


@router.get("/mbr-schema", response={200: dict[str, Any], **ERRORS})
def mbr_schema(request: HttpRequest) -> dict[str, Any]:
    """The published JSON schema of an MBR file (vein2vein-mbr/1)."""
    _view(request)
    return mbr.schema()


@router.post("/master-records/validate", response={200: ValidateOut, **ERRORS})
def validate_master_record(request: HttpRequest, payload: YamlIn) -> ValidateOut:
    """Check a YAML MBR against the schema and the database (products, parts, equipment kinds,
    training) without writing anything; 400 naming the YAML path of the first problem."""
    _view(request)
    with _yaml_field():
        definition = services.validate_mbr(text=payload.yaml_text)
    return ValidateOut(
        ok=True,
        product=definition["product"],
        process_version=definition["process_version"],
        title=definition["title"],
        operations=len(definition["operations"]),
        steps=len(mbr.steps(definition)),
    )


@router.post("/master-records", response={201: MasterRecordDetailOut, **ERRORS})
def import_master_record(request: HttpRequest, payload: ImportIn) -> Status[MasterRecordDetailOut]:
    """Import a YAML MBR as a new draft version (of a new MBR document, or of `document_id`).
    The documents API then submits, reviews and approves it; only then does it start batches."""
    with _yaml_field():
        mr = services.import_master_record(actor=api_user(request), **payload.dict())
    return Status(201, _master_record_detail(_master_record(mr.pk)))


# --- batches ----------------------------------------------------------------------------------
@router.get("/batches", response={200: list[BatchOut], **ERRORS})
def list_batches(request: HttpRequest, filters: Query[BatchFilter]) -> list[BatchOut]:
    user = _view(request)
    qs = api_rows(BatchFilterSet, filters, _batches(user), request)
    return [_batch_out(b) for b in page_of(qs, filters)]


@router.post("/batches", response={201: BatchDetailOut, **ERRORS})
def start_batch(request: HttpRequest, payload: StartIn) -> Status[BatchDetailOut]:
    """Start a batch of the effective MBR for a received order (autologous) or a donor lot
    (allogeneic, with `master_record_id` and `site_id`). An MBR that is not approved and
    effective is refused (409) and the attempt recorded."""
    user = api_user(request)
    b = services.start_batch(actor=user, **payload.dict())
    return Status(201, _batch_detail(_batch(user, b.pk)))


@router.get("/batches/{int:batch_id}", response={200: BatchDetailOut, **ERRORS})
def get_batch(request: HttpRequest, batch_id: int) -> BatchDetailOut:
    """The batch, every step's state (with its current entry and superseded ones), the steps
    that may be recorded now, and progress."""
    user = _view(request)
    return _batch_detail(_batch(user, batch_id))


@router.post("/batches/{int:batch_id}/steps/{step_key}", response={201: EntryOut, **ERRORS})
def record_step(
    request: HttpRequest, batch_id: int, step_key: str, payload: StepIn
) -> Status[EntryOut]:
    """Record one step: `value` for numeric, choice and text steps, `scan` for material,
    equipment and COI checks, `password` for a sign-off. An interlock (step out of order,
    operator not qualified, lot or equipment not usable, COI mismatch, timer broken, batch on
    hold) refuses with 409 and the reason, and the attempt is recorded. A value outside the
    action limits needs a `comment` and raises a deviation. Attachment steps take a file and
    are recorded through the batch page of the UI only, not through this JSON route."""
    user = api_user(request)
    _batch(user, batch_id)
    entry = services.record_step(
        actor=user, batch_id=batch_id, step_key=step_key, request=request, **payload.dict()
    )
    return Status(201, _entry_out(_entry(user, entry.pk)))


@router.post("/entries/{int:entry_id}/verify", response={200: EntryOut, **ERRORS})
def verify_entry(request: HttpRequest, entry_id: int, payload: VerifyIn) -> EntryOut:
    """The second person signs the entry ('verified'); the performer is refused (409)."""
    user = api_user(request)
    _entry(user, entry_id)
    services.verify_entry(actor=user, entry_id=entry_id, request=request, **payload.dict())
    return _entry_out(_entry(user, entry_id))


@router.post("/entries/{int:entry_id}/correct", response={201: EntryOut, **ERRORS})
def correct_entry(request: HttpRequest, entry_id: int, payload: CorrectIn) -> Status[EntryOut]:
    """Correct a value with a reason: a new entry supersedes this one, which stays readable;
    a step that needs verification is verified again. Answers the new entry."""
    user = api_user(request)
    _entry(user, entry_id)
    entry = services.correct_entry(actor=user, entry_id=entry_id, **payload.dict())
    return Status(201, _entry_out(_entry(user, entry.pk)))


@router.post("/batches/{int:batch_id}/hold", response={200: BatchOut, **ERRORS})
def hold_batch(request: HttpRequest, batch_id: int, payload: ReasonIn) -> BatchOut:
    user = api_user(request)
    _batch(user, batch_id)
    services.hold_batch(actor=user, batch_id=batch_id, reason=payload.reason)
    return _batch_out(_batch(user, batch_id))


@router.post("/batches/{int:batch_id}/resume", response={200: BatchOut, **ERRORS})
def resume_batch(request: HttpRequest, batch_id: int, payload: ReasonIn) -> BatchOut:
    user = api_user(request)
    _batch(user, batch_id)
    services.resume_batch(actor=user, batch_id=batch_id, reason=payload.reason)
    return _batch_out(_batch(user, batch_id))


@router.post("/batches/{int:batch_id}/complete", response={200: BatchOut, **ERRORS})
def complete_batch(request: HttpRequest, batch_id: int) -> BatchOut:
    """Close execution once every step is done and verified; the batch waits for QA review."""
    user = api_user(request)
    _batch(user, batch_id)
    services.complete_batch(actor=user, batch_id=batch_id)
    return _batch_out(_batch(user, batch_id))


@router.post("/batches/{int:batch_id}/abort", response={200: BatchOut, **ERRORS})
def abort_batch(request: HttpRequest, batch_id: int, payload: AbortIn) -> BatchOut:
    """End a batch that cannot be finished: a QA approver signs with the reason."""
    user = api_user(request)
    _batch(user, batch_id)
    services.abort_batch(actor=user, batch_id=batch_id, request=request, **payload.dict())
    return _batch_out(_batch(user, batch_id))


@router.get("/batches/{int:batch_id}/review", response={200: ReviewOut, **ERRORS})
def get_review(request: HttpRequest, batch_id: int) -> ReviewOut:
    """The review by exception: only out-of-limit entries, comments, corrections, deviations
    and their status, late entries, refused attempts, timer breaks; and the record's SHA-256."""
    user = _view(request)
    b = _batch(user, batch_id)
    return ReviewOut(
        batch_id=b.pk,
        number=b.number,
        status=b.status,
        exceptions=[_exception_out(x) for x in selectors.review_exceptions(b)],
        record_sha256=selectors.record_sha256(b),
    )


@router.post("/batches/{int:batch_id}/review", response={200: BatchOut, **ERRORS})
def review_batch(request: HttpRequest, batch_id: int, payload: ReviewIn) -> BatchOut:
    """QA signs the review of a completed batch ('reviewed'); it then goes to disposition."""
    user = api_user(request)
    _batch(user, batch_id)
    services.review_batch(actor=user, batch_id=batch_id, request=request, **payload.dict())
    return _batch_out(_batch(user, batch_id))


@router.get("/batches/{int:batch_id}/samples", response={200: list[SampleOut], **ERRORS})
def list_samples(request: HttpRequest, batch_id: int, page: Query[Page]) -> list[SampleOut]:
    user = _view(request)
    return [_sample_out(s) for s in page_of(selectors.samples_of(_batch(user, batch_id)), page)]
