"""documents API; thin: parse, call a service or selector, serialize.

Routes: documents (list, create, detail, obsolete), versions (create with the PDF as
multipart, change a draft, submit, return, review, approve, make effective, obsolete,
periodic review, the PDF itself), the overdue review list and my signature queue.
"""

from __future__ import annotations

from django.http import FileResponse, HttpRequest
from django.urls import reverse
from ninja import File, Form, Query, Router, Status, UploadedFile

from vein2vein.core.actors import api_user
from vein2vein.core.api import ERRORS
from vein2vein.core.errors import NotFound, PermissionRefused
from vein2vein.core.pagination import Page, page_of
from vein2vein.core.permissions import require
from vein2vein.core.signing import manifestation, signatures_for
from vein2vein.web.lists import api_rows

from . import selectors, services
from .download import pdf_response
from .filters import DocumentFilterSet
from .models import Document, DocumentVersion, PeriodicReview
from .permissions import DocPerm, can_read_version
from .schemas import (
    DocumentApproveIn,
    DocumentDetailOut,
    DocumentFilter,
    DocumentIn,
    DocumentOut,
    DocumentsSignIn,
    ManifestationOut,
    PeriodicReviewOut,
    QueueOut,
    ReasonIn,
    VersionForm,
    VersionOut,
    VersionPatchForm,
)

router = Router(tags=["documents"])


def _document(number: str) -> Document:
    document = selectors.get_document(number)
    if document is None:
        raise NotFound(f"document {number} does not exist", field="number")
    return document


def _version_out(v: DocumentVersion) -> VersionOut:
    return VersionOut(
        id=v.pk,
        document_number=v.document.number,
        version=v.version,
        status=v.status,
        change_summary=v.change_summary,
        file_name=v.file_name,
        file_sha256=v.file_sha256,
        file_url=reverse("api:documents_version_file", kwargs={"version_id": v.pk})
        if v.file
        else None,
        effective_date=v.effective_date,
        next_review_due=v.next_review_due,
        created_by=v.created_by.username,
        created_at=v.created_at,
        submitted_at=v.submitted_at,
        approved_at=v.approved_at,
        effective_at=v.effective_at,
        retired_at=v.retired_at,
        signatures=[
            ManifestationOut(
                meaning=m.meaning,
                printed_name=m.printed_name,
                username=m.username,
                signed_at=m.signed_at,
                valid=m.valid,
                reason=m.reason,
            )
            for m in (manifestation(s, v) for s in signatures_for(v))
        ],
    )


def _document_out(row: selectors.DocumentRow) -> DocumentOut:
    d = row.document
    return DocumentOut(
        id=d.pk,
        number=d.number,
        title=d.title,
        kind=d.kind,
        owner=d.owner.username,
        review_period_months=d.review_period_months,
        created_at=d.created_at,
        obsoleted_at=d.obsoleted_at,
        effective_version=row.effective.version if row.effective else None,
        next_review_due=row.effective.next_review_due if row.effective else None,
        review_overdue=row.overdue,
    )


def _readable(request: HttpRequest, version_id: int) -> DocumentVersion:
    user = api_user(request)
    require(user, DocPerm.VIEW)
    version = (
        DocumentVersion.objects.select_related("document", "created_by")
        .filter(pk=version_id)
        .first()
    )
    if version is None:
        raise NotFound(f"document version {version_id} does not exist", field="version_id")
    if not can_read_version(user, version):
        raise PermissionRefused(
            f"reading {version} needs {DocPerm.VIEW_UNRELEASED}", field="version_id"
        )
    return version


def _fresh(version: DocumentVersion) -> VersionOut:
    return _version_out(
        DocumentVersion.objects.select_related("document", "created_by").get(pk=version.pk)
    )


# --- documents ------------------------------------------------------------------------------
@router.get("", response={200: list[DocumentOut], **ERRORS})
def list_documents(request: HttpRequest, filters: Query[DocumentFilter]) -> list[DocumentOut]:
    user = api_user(request)
    require(user, DocPerm.VIEW)
    rows = api_rows(DocumentFilterSet, filters, selectors.visible_documents(user), request)
    return [_document_out(r) for r in selectors.document_rows(page_of(rows, filters))]


@router.post("", response={201: DocumentOut, **ERRORS})
def create_document(request: HttpRequest, payload: DocumentIn) -> Status[DocumentOut]:
    document = services.create_document(
        actor=api_user(request),
        kind=payload.kind,
        title=payload.title,
        number=payload.number,
        owner=payload.owner_id,
        review_period_months=payload.review_period_months,
    )
    return Status(201, _document_out(selectors.DocumentRow(document, None, None, False)))


@router.get("/queues/mine", response={200: QueueOut, **ERRORS})
def my_queue(request: HttpRequest) -> QueueOut:
    """Versions waiting for my review or approval signature."""
    user = api_user(request)
    require(user, DocPerm.VIEW)
    to_review, to_approve = selectors.review_queue(user)
    return QueueOut(
        to_review=[_version_out(v) for v in to_review],
        to_approve=[_version_out(v) for v in to_approve],
    )


@router.get("/reviews/overdue", response={200: list[VersionOut], **ERRORS})
def overdue_reviews(request: HttpRequest, page: Query[Page]) -> list[VersionOut]:
    require(api_user(request), DocPerm.VIEW)
    rows = selectors.overdue_reviews().select_related("created_by")
    return [_version_out(v) for v in page_of(rows, page)]


@router.get("/versions/{version_id}", response={200: VersionOut, **ERRORS})
def get_version(request: HttpRequest, version_id: int) -> VersionOut:
    return _version_out(_readable(request, version_id))


@router.get(
    "/versions/{version_id}/file",
    response={200: None, **ERRORS},
    url_name="documents_version_file",
    openapi_extra={
        "responses": {200: {"description": "The PDF", "content": {"application/pdf": {}}}}
    },
)
def version_file(request: HttpRequest, version_id: int) -> FileResponse:
    """The PDF, inline, re-checked against its SHA-256 on the way out (409 if it changed)."""
    require(api_user(request), DocPerm.VIEW)
    return pdf_response(api_user(request), version_id)


@router.post("/versions/{version_id}/draft", response={200: VersionOut, **ERRORS})
def update_draft(
    request: HttpRequest,
    version_id: int,
    data: Form[VersionPatchForm],
    file: File[UploadedFile | None] = None,
) -> VersionOut:
    """Change a draft (multipart): summary, effective date, or a new PDF."""
    effective_date = data.effective_date
    if data.clear_effective_date:
        effective_date = None
    elif effective_date is None:
        effective_date = services.UNSET
    version = services.update_draft(
        actor=api_user(request),
        version_id=version_id,
        file=file,
        change_summary=services.UNSET if data.change_summary is None else data.change_summary,
        effective_date=effective_date,
    )
    return _fresh(version)


@router.post("/versions/{version_id}/submit", response={200: VersionOut, **ERRORS})
def submit(request: HttpRequest, version_id: int) -> VersionOut:
    return _fresh(services.submit_for_review(actor=api_user(request), version_id=version_id))


@router.post("/versions/{version_id}/return", response={200: VersionOut, **ERRORS})
def return_to_draft(request: HttpRequest, version_id: int, payload: ReasonIn) -> VersionOut:
    return _fresh(
        services.return_to_draft(
            actor=api_user(request), version_id=version_id, reason=payload.reason
        )
    )


@router.post("/versions/{version_id}/review", response={200: VersionOut, **ERRORS})
def review(request: HttpRequest, version_id: int, payload: DocumentsSignIn) -> VersionOut:
    version = services.review_version(
        actor=api_user(request),
        version_id=version_id,
        password=payload.password,
        reason=payload.reason,
        request=request,
    )
    return _fresh(version)


@router.post("/versions/{version_id}/approve", response={200: VersionOut, **ERRORS})
def approve(request: HttpRequest, version_id: int, payload: DocumentApproveIn) -> VersionOut:
    version = services.approve_version(
        actor=api_user(request),
        version_id=version_id,
        password=payload.password,
        effective_date=payload.effective_date,
        reason=payload.reason,
        request=request,
    )
    return _fresh(version)


@router.post("/versions/{version_id}/effective", response={200: VersionOut, **ERRORS})
def make_effective(request: HttpRequest, version_id: int) -> VersionOut:
    return _fresh(services.make_effective(actor=api_user(request), version_id=version_id))


@router.post("/versions/{version_id}/obsolete", response={200: VersionOut, **ERRORS})
def obsolete_version(request: HttpRequest, version_id: int, payload: ReasonIn) -> VersionOut:
    return _fresh(
        services.obsolete_version(
            actor=api_user(request), version_id=version_id, reason=payload.reason
        )
    )


@router.post("/versions/{version_id}/periodic-review", response={201: PeriodicReviewOut, **ERRORS})
def periodic_review(
    request: HttpRequest, version_id: int, payload: DocumentsSignIn
) -> Status[PeriodicReviewOut]:
    review: PeriodicReview = services.record_periodic_review(
        actor=api_user(request),
        version_id=version_id,
        password=payload.password,
        reason=payload.reason,
        request=request,
    )
    return Status(
        201,
        PeriodicReviewOut(
            id=review.pk,
            version_id=review.version_id,
            reviewed_by=review.reviewed_by.username,
            reviewed_at=review.reviewed_at,
            comment=review.comment,
            previous_due=review.previous_due,
            next_review_due=review.next_review_due,
        ),
    )


@router.post("/activate-due", response={200: list[VersionOut], **ERRORS})
def activate_due(request: HttpRequest) -> list[VersionOut]:
    """Make effective every approved version whose date has come (document control)."""
    return [_fresh(v) for v in services.activate_due_versions(actor=api_user(request))]


# --- one document (after the fixed paths) ---------------------------------------------------
@router.get("/{number}", response={200: DocumentDetailOut, **ERRORS})
def get_document(request: HttpRequest, number: str) -> DocumentDetailOut:
    user = api_user(request)
    require(user, DocPerm.VIEW)
    document = _document(number)
    effective = selectors.effective_version(document)
    versions = selectors.visible_versions(user, document)
    if not versions:
        raise PermissionRefused(
            f"{document.number} has no effective version you may read", field="number"
        )
    today = selectors.current_day()
    overdue = bool(effective and effective.next_review_due and effective.next_review_due < today)
    base = _document_out(selectors.DocumentRow(document, effective, None, overdue))
    return DocumentDetailOut(**base.dict(), versions=[_version_out(v) for v in versions])


@router.post("/{number}/versions", response={201: VersionOut, **ERRORS})
def create_version(
    request: HttpRequest,
    number: str,
    data: Form[VersionForm],
    file: File[UploadedFile | None] = None,
) -> Status[VersionOut]:
    """A new draft version (multipart: change_summary, effective_date, file=the PDF)."""
    require(api_user(request), DocPerm.AUTHOR)
    version = services.create_version(
        actor=api_user(request),
        document=_document(number),
        change_summary=data.change_summary,
        effective_date=data.effective_date,
        file=file,
    )
    return Status(201, _fresh(version))


@router.post("/{number}/obsolete", response={200: DocumentOut, **ERRORS})
def obsolete_document(request: HttpRequest, number: str, payload: ReasonIn) -> DocumentOut:
    document = services.obsolete_document(
        actor=api_user(request), document_id=_document(number).pk, reason=payload.reason
    )
    return _document_out(selectors.DocumentRow(document, None, None, False))
