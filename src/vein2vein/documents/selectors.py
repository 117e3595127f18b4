"""Reads shared by views, the API, the dashboard and other apps (training).

`effective_version(document)` (at=None, i.e. now) first makes effective any approved version
whose effective date has come, through the service, so the answer is right at the moment of
use even if the daily job has not run yet. With an explicit `at` it is a pure read of history.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet

from vein2vein.core.audit import record_ref
from vein2vein.core.choices import SignatureMeaning
from vein2vein.core.models import Signature, User
from vein2vein.core.permissions import has_perm
from vein2vein.core.selectors import timeline
from vein2vein.core.signing import record_content_hash
from vein2vein.core.time import now

from .choices import DocumentKind, VersionStatus
from .models import Document, DocumentVersion, PeriodicReview
from .permissions import DocPerm, can_read_version, can_sign_as

NUMBER_RE = re.compile(r"^[A-Z]{2,4}-\d{4,6}$")
EVER_EFFECTIVE = (VersionStatus.EFFECTIVE, VersionStatus.SUPERSEDED, VersionStatus.OBSOLETE)
IN_FLIGHT = (VersionStatus.DRAFT, VersionStatus.IN_REVIEW, VersionStatus.APPROVED)


def current_day() -> dt.date:
    """The document-control calendar day (see services._common.today)."""
    from .services import _common

    return _common.today()


def get_document(number: str) -> Document | None:
    """The document with this number (case and surrounding spaces ignored), or None; a string
    that cannot be a number (e.g. with a NUL byte) is None without asking the database."""
    if not isinstance(number, str):
        return None
    value = number.strip().upper()
    if not NUMBER_RE.match(value):
        return None
    return Document.objects.filter(number=value).first()


def activate_due(document: Document | None = None) -> None:
    """Make due approved versions effective now (one document, or all) when there are any:
    a cheap check first, the service only when something is due."""
    due = DocumentVersion.objects.filter(
        status=VersionStatus.APPROVED, effective_date__lte=current_day()
    )
    if document is not None:
        due = due.filter(document=document)
    if due.exists():
        from .services import activate_due_versions

        activate_due_versions(document=document)


def effective_version(document: Document, at: dt.datetime | None = None) -> DocumentVersion | None:
    """The version in effect at `at` (default now): effective then, retired later or never."""
    if at is None:
        activate_due(document)
        at = now()
    return (
        DocumentVersion.objects.filter(
            document=document, status__in=EVER_EFFECTIVE, effective_at__lte=at
        )
        .filter(Q(retired_at__isnull=True) | Q(retired_at__gt=at))
        .select_related("document")
        .order_by("-effective_at")
        .first()
    )


def effective_versions(
    documents: Iterable[Document], at: dt.datetime | None = None
) -> dict[int, DocumentVersion | None]:
    """`effective_version` of several documents at once, by document pk: one check for due
    versions and one query for all of them."""
    wanted = {d.pk: d for d in documents}
    if not wanted:
        return {}
    if at is None:
        due = DocumentVersion.objects.filter(
            status=VersionStatus.APPROVED,
            effective_date__lte=current_day(),
            document_id__in=list(wanted),
        )
        for document_id in sorted(set(due.values_list("document_id", flat=True))):
            activate_due(wanted[document_id])
        at = now()
    found: dict[int, DocumentVersion | None] = dict.fromkeys(wanted)
    candidates = (
        DocumentVersion.objects.filter(
            document_id__in=list(wanted), status__in=EVER_EFFECTIVE, effective_at__lte=at
        )
        .filter(Q(retired_at__isnull=True) | Q(retired_at__gt=at))
        .select_related("document")
        .order_by("document_id", "-effective_at")
    )
    for version in candidates:
        if found[version.document_id] is None:
            found[version.document_id] = version
    return found


def _signatures(version: DocumentVersion, meaning: SignatureMeaning) -> QuerySet[Signature]:
    record_type, record_id = record_ref(version)
    return Signature.objects.filter(
        record_type=record_type, record_id=record_id, meaning=meaning
    ).select_related("signer")


def current_reviews(version: DocumentVersion) -> list[Signature]:
    """Review signatures that count for approval: given since the latest submission, still
    valid for the version's content, by someone other than the author who holds a review role
    for this kind (REQUIRED_SIGNATURES), whichever way they signed."""
    if version.submitted_at is None:
        return []  # a draft: nothing counts until it is submitted (again)
    qs = _signatures(version, SignatureMeaning.REVIEWED).filter(signed_at__gte=version.submitted_at)
    digest = record_content_hash(version)
    kind = version.document.kind
    return [
        s
        for s in qs.order_by("signed_at")
        if s.content_hash == digest
        and s.signer_id != version.created_by_id
        and can_sign_as(s.signer, kind, SignatureMeaning.REVIEWED)
    ]


def approval(version: DocumentVersion) -> Signature | None:
    return _signatures(version, SignatureMeaning.APPROVED).order_by("-signed_at").first()


# --- lists ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DocumentRow:
    document: Document
    effective: DocumentVersion | None
    pending: DocumentVersion | None
    overdue: bool


def _rows(documents: Iterable[Document], today: dt.date) -> list[DocumentRow]:
    rows = []
    for doc in documents:
        versions = list(doc.versions.all())  # prefetched
        effective = next((v for v in versions if v.status == VersionStatus.EFFECTIVE), None)
        pending = next((v for v in versions if v.status in IN_FLIGHT), None)
        overdue = bool(
            effective and effective.next_review_due and effective.next_review_due < today
        )
        rows.append(DocumentRow(doc, effective, pending, overdue))
    return rows


def documents(
    user: User,
    *,
    kind: str | None = None,
    status: str | None = None,
    text: str | None = None,
    overdue: bool = False,
) -> list[DocumentRow]:
    """Documents this user may see, filtered (`narrow_documents`), as rows."""
    qs = narrow_documents(
        visible_documents(user), kind=kind, status=status, text=text, overdue=overdue
    )
    return document_rows(qs)


def visible_documents(user: User) -> QuerySet[Document]:
    """Documents this user may see, by number, with their visible versions prefetched. Readers
    without access to unreleased versions see documents with an effective version only, and
    no pending versions."""
    activate_due()
    unreleased = has_perm(user, DocPerm.VIEW_UNRELEASED)
    qs = Document.objects.select_related("owner").order_by("number")
    if not unreleased:
        qs = qs.filter(versions__status=VersionStatus.EFFECTIVE)
    visible = EVER_EFFECTIVE if unreleased else (VersionStatus.EFFECTIVE,)
    statuses = (*visible, *IN_FLIGHT) if unreleased else visible
    return qs.distinct().prefetch_related(
        Prefetch(
            "versions",
            queryset=DocumentVersion.objects.filter(status__in=statuses).order_by("-version"),
        )
    )


def narrow_documents(
    qs: QuerySet[Document],
    *,
    kind: str | None = None,
    status: str | None = None,
    text: str | None = None,
    overdue: bool = False,
) -> QuerySet[Document]:
    """kind; a version in `status`; number or title containing `text`; periodic review
    overdue (the effective version's review date before today), in the database."""
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(versions__status=status)
    if text:
        qs = qs.filter(Q(number__icontains=text) | Q(title__icontains=text))
    if overdue:
        qs = qs.filter(
            versions__status=VersionStatus.EFFECTIVE, versions__next_review_due__lt=current_day()
        )
    return qs


def document_rows(documents: Iterable[Document]) -> list[DocumentRow]:
    """What a list shows of each document (its effective and pending version), for one page."""
    return _rows(documents, current_day())


def visible_versions(user: User, document: Document) -> list[DocumentVersion]:
    return [
        v
        for v in document.versions.select_related("created_by").order_by("-version")
        if can_read_version(user, v)
    ]


def overdue_reviews(today: dt.date | None = None) -> QuerySet[DocumentVersion]:
    """Effective versions whose periodic review date has passed, most overdue first."""
    return (
        DocumentVersion.objects.filter(
            status=VersionStatus.EFFECTIVE, next_review_due__lt=today or current_day()
        )
        .select_related("document", "document__owner")
        .order_by("next_review_due", "document__number")
    )


def reviews_due_within(days: int, today: dt.date | None = None) -> QuerySet[DocumentVersion]:
    day = today or current_day()
    return (
        DocumentVersion.objects.filter(
            status=VersionStatus.EFFECTIVE,
            next_review_due__gte=day,
            next_review_due__lte=day + dt.timedelta(days=days),
        )
        .select_related("document", "document__owner")
        .order_by("next_review_due", "document__number")
    )


def periodic_reviews(version: DocumentVersion) -> QuerySet[PeriodicReview]:
    return version.periodic_reviews.select_related("reviewed_by")


# --- work queues ----------------------------------------------------------------------------
def _current_reviews_of(versions: Iterable[DocumentVersion]) -> dict[int, list[Signature]]:
    """`current_reviews` of several versions, by version pk, from one query of signatures."""
    versions = list(versions)
    out: dict[int, list[Signature]] = {v.pk: [] for v in versions}
    submitted = [v for v in versions if v.submitted_at is not None]
    if not submitted:
        return out
    refs = {v.pk: record_ref(v) for v in submitted}
    by_record: dict[tuple[str, str], list[Signature]] = {}
    for signature in (
        Signature.objects.filter(
            record_type__in={t for t, _ in refs.values()},
            record_id__in=[i for _, i in refs.values()],
            meaning=SignatureMeaning.REVIEWED,
        )
        .select_related("signer")
        .order_by("signed_at", "pk")
    ):
        by_record.setdefault((signature.record_type, signature.record_id), []).append(signature)
    for version in submitted:
        assert version.submitted_at is not None
        digest = record_content_hash(version)
        kind = version.document.kind
        out[version.pk] = [
            s
            for s in by_record.get(refs[version.pk], [])
            if s.signed_at >= version.submitted_at
            and s.content_hash == digest
            and s.signer_id != version.created_by_id
            and can_sign_as(s.signer, kind, SignatureMeaning.REVIEWED)
        ]
    return out


def review_queue(user: User) -> tuple[list[DocumentVersion], list[DocumentVersion]]:
    """(awaiting_my_review, awaiting_my_approval) from one read of the versions in review."""
    pending = [
        v
        for v in DocumentVersion.objects.filter(status=VersionStatus.IN_REVIEW)
        .exclude(created_by=user)
        .select_related("document", "created_by")
        .order_by("submitted_at")
    ]
    may_review = {
        v.pk for v in pending if can_sign_as(user, v.document.kind, SignatureMeaning.REVIEWED)
    }
    may_approve = {
        v.pk for v in pending if can_sign_as(user, v.document.kind, SignatureMeaning.APPROVED)
    }
    reviews = _current_reviews_of(v for v in pending if v.pk in may_review | may_approve)
    to_review = [v for v in pending if v.pk in may_review and not reviews[v.pk]]
    to_approve = [
        v
        for v in pending
        if v.pk in may_approve and any(s.signer_id != user.pk for s in reviews[v.pk])
    ]
    return to_review, to_approve


def awaiting_my_review(user: User) -> list[DocumentVersion]:
    """Versions in review that still need a review this user may give: not their own, and no
    review counted since the latest submission (one review is needed, then approval)."""
    return review_queue(user)[0]


def awaiting_my_approval(user: User) -> list[DocumentVersion]:
    """Reviewed versions this user may approve: not their own, reviewed by someone else."""
    return review_queue(user)[1]


def my_drafts(user: User) -> QuerySet[DocumentVersion]:
    return (
        DocumentVersion.objects.filter(created_by=user, status=VersionStatus.DRAFT)
        .select_related("document")
        .order_by("document__number")
    )


def version_timeline(version: DocumentVersion) -> list[dict[str, object]]:
    """The version's events and signatures, with its periodic reviews' ones folded in."""
    items = timeline(*record_ref(version))
    for review in version.periodic_reviews.all():
        items += timeline(*record_ref(review))
    items.sort(key=lambda item: (item["at"], 0 if item["kind"] == "event" else 1))
    return items


def document_timeline(document: Document) -> list[dict[str, object]]:
    return timeline(*record_ref(document))


KINDS = DocumentKind.choices
STATUSES = VersionStatus.choices


def documents_of_kind(kind: DocumentKind | str) -> QuerySet[Document]:
    return Document.objects.filter(kind=kind).order_by("number")
