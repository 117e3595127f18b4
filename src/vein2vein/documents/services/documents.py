"""Creating documents (with a safely allocated number) and withdrawing them from use."""

from __future__ import annotations

import datetime as dt
import re

from django.core.files import File
from django.db import transaction

from vein2vein.core import audit, numbering
from vein2vein.core.errors import Conflict, NotFound, ValidationFailed
from vein2vein.core.models import User
from vein2vein.core.permissions import active_roles, require
from vein2vein.core.time import now

from ..choices import DEFAULT_REVIEW_PERIOD_MONTHS, NUMBER_PREFIX, DocumentKind, VersionStatus
from ..models import Document, DocumentVersion
from ..permissions import AUTHOR_ROLES, DocPerm
from . import _common as c

NUMBER_RE = re.compile(r"^([A-Z]{2,4})-(\d{4,6})$")
NUMBER_DIGITS = 4


def _kind(kind: object) -> DocumentKind:
    if kind not in DocumentKind.values:
        raise ValidationFailed(
            f"kind must be one of: {', '.join(DocumentKind.values)}", field="kind"
        )
    return DocumentKind(str(kind))


def _owner(owner: object, actor: User) -> User:
    if owner is None or owner == "":
        return actor
    if isinstance(owner, int) and not isinstance(owner, bool):
        found = User.objects.filter(pk=owner).first()
        if found is None:
            raise ValidationFailed(f"owner {owner} is not a user", field="owner")
        owner = found
    if not isinstance(owner, User):
        raise ValidationFailed("owner must be a user", field="owner")
    if not owner.is_active or not active_roles(owner) & AUTHOR_ROLES:
        raise ValidationFailed(
            f"owner {owner.username} must be an active user with an author role "
            f"({', '.join(sorted(AUTHOR_ROLES))})",
            field="owner",
        )
    return owner


def _review_period(months: object) -> int:
    if isinstance(months, bool) or not isinstance(months, int):
        raise ValidationFailed(
            "review_period_months must be a whole number", field="review_period_months"
        )
    if not 1 <= months <= c.MAX_REVIEW_PERIOD_MONTHS:
        raise ValidationFailed(
            f"review_period_months must be between 1 and {c.MAX_REVIEW_PERIOD_MONTHS}",
            field="review_period_months",
        )
    return months


def _explicit_number(number: object, kind: DocumentKind) -> str:
    if not isinstance(number, str):
        raise ValidationFailed("number must be text like SOP-0042", field="number")
    value = number.strip().upper()
    prefix = NUMBER_PREFIX[kind]
    found = NUMBER_RE.match(value)
    if not found:
        raise ValidationFailed(
            f"number must look like {prefix}-0042: the prefix, '-', then 4 to 6 digits",
            field="number",
        )
    if found.group(1) != prefix:
        raise ValidationFailed(
            f"number {value} does not fit the kind {kind.label}: it must start with {prefix}-",
            field="number",
        )
    return value


def _allocate(kind: DocumentKind, explicit: str | None) -> str:
    """Inside the caller's transaction: lock the kind's counter (core.numbering), then hand out
    the next free number (or check the explicit one is free). Creation of numbers is
    serialised per prefix, so two authors never receive the same one."""
    prefix = NUMBER_PREFIX[kind]
    if explicit is not None:
        numbering.hold(prefix, site=None, yearly=False)
        if Document.objects.filter(number=explicit).exists():
            raise ValidationFailed(f"number {explicit} is already used", field="number")
        return explicit
    while True:  # skip a number taken explicitly: the counter moves past it
        _, n = numbering.allocate(prefix, site=None, yearly=False)
        candidate = f"{prefix}-{n:0{NUMBER_DIGITS}d}"
        if not Document.objects.filter(number=candidate).exists():
            return candidate


def create_document(
    *,
    actor: User,
    kind: str,
    title: str,
    owner: User | int | None = None,
    number: str | None = None,
    review_period_months: int = DEFAULT_REVIEW_PERIOD_MONTHS,
) -> Document:
    """A new controlled document; its content comes with its first version."""
    require(actor, DocPerm.AUTHOR)
    doc_kind = _kind(kind)
    clean_title = c.text(title, "title", max_length=200)
    doc_owner = _owner(owner, actor)
    period = _review_period(review_period_months)
    explicit = None if number in (None, "") else _explicit_number(number, doc_kind)
    with transaction.atomic():
        document = Document.objects.create(
            number=_allocate(doc_kind, explicit),
            title=clean_title,
            kind=doc_kind,
            owner=doc_owner,
            review_period_months=period,
            created_at=now(),
        )
        audit.append_event(
            actor=actor,
            action="documents.document.created",
            record=document,
            changes=audit.created(audit.snapshot(document, Document.RECORD_FIELDS)),
        )
    return document


def draft_new_document(
    *,
    actor: User,
    kind: str,
    title: str,
    change_summary: str,
    file: File | None = None,  # type: ignore[type-arg]
    effective_date: dt.date | None = None,
    owner: User | int | None = None,
    number: str | None = None,
    review_period_months: int = DEFAULT_REVIEW_PERIOD_MONTHS,
) -> DocumentVersion:
    """A new document and its first draft, together or not at all (the 'new document' form)."""
    from .versions import create_version

    with transaction.atomic():
        document = create_document(
            actor=actor,
            kind=kind,
            title=title,
            owner=owner,
            number=number,
            review_period_months=review_period_months,
        )
        return create_version(
            actor=actor,
            document=document,
            change_summary=change_summary,
            file=file,
            effective_date=effective_date,
        )


def obsolete_document(*, actor: User, document_id: int, reason: str) -> Document:
    """Withdraw a document from use: its effective, approved and draft versions become
    obsolete and no new version may be drafted. A version in review must be finished or
    returned to draft first (in review -> obsolete is not a transition)."""
    require(actor, DocPerm.OBSOLETE)
    why = c.reason(reason)
    if isinstance(document_id, bool) or not isinstance(document_id, int):
        raise ValidationFailed("document_id must be a number", field="document_id")
    with transaction.atomic():
        document = (
            Document.objects.select_for_update(no_key=True, of=("self",))
            .filter(pk=document_id)
            .first()
        )
        if document is None:
            raise NotFound(f"document {document_id} does not exist", field="document_id")
        if document.obsoleted_at is not None:
            raise Conflict(f"{document.number} is already obsolete", field="document_id")
        versions = list(
            DocumentVersion.objects.select_for_update(no_key=True, of=("self",))
            .filter(document=document, status__in=[*c.IN_FLIGHT, VersionStatus.EFFECTIVE])
            .order_by("pk")
        )
        for version in versions:
            if version.status == VersionStatus.IN_REVIEW:
                raise Conflict(
                    f"{version} is in review: return it to draft or finish the review first",
                    field="document_id",
                )
        for version in versions:
            changes = c.move(version, VersionStatus.OBSOLETE) | c.stamp(version, "retired_at")
            version.save(update_fields=["status", "retired_at"])
            audit.append_event(
                actor=actor,
                action="documents.version.obsoleted",
                record=version,
                changes=changes,
                reason=why,
            )
        document.obsoleted_at = now()
        document.save(update_fields=["obsoleted_at"])
        audit.append_event(
            actor=actor,
            action="documents.document.obsoleted",
            record=document,
            changes={"obsoleted_at": {"old": None, "new": document.obsoleted_at}},
            reason=why,
        )
    return document
