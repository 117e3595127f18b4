"""A version's lifecycle: draft -> in review -> approved -> effective -> superseded/obsolete.

Review and approval are e-signatures (the password is checked before the transaction, so a
wrong one counts toward lockout); the version's signed content covers the document, version,
change summary, file SHA-256 and effective date, so what was reviewed is what is approved.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.files import File
from django.db import transaction
from django.http import HttpRequest

from vein2vein.core import audit, hooks
from vein2vein.core.choices import SignatureMeaning
from vein2vein.core.errors import (
    Conflict,
    DomainError,
    InterlockBlocked,
    PermissionRefused,
    SignatureRefused,
    ValidationFailed,
)
from vein2vein.core.files import CheckedFile, delete_orphan, make_read_only, stored_sha256
from vein2vein.core.models import User
from vein2vein.core.permissions import require
from vein2vein.core.services import apply_signature, check_password_for_signing
from vein2vein.core.time import now

from ..choices import VersionStatus
from ..models import Document, DocumentVersion
from ..permissions import DocPerm, can_sign_as, signing_roles
from ..selectors import current_reviews
from ..version_files import check_controlled_file
from . import _common as c

UNSET: Any = object()


# --- drafting -------------------------------------------------------------------------------
def _summary(value: object) -> str:
    return c.text(value, "change_summary", max_length=c.MAX_SUMMARY)


def _future_date(value: object) -> dt.date | None:
    day = c.optional_date(value, "effective_date")
    if day is not None and day < c.today():
        raise ValidationFailed(
            f"effective_date {day} is in the past: choose today or a later date",
            field="effective_date",
        )
    return day


def _store(version: DocumentVersion, upload: File, checked: CheckedFile, saved: list[str]) -> None:  # type: ignore[type-arg]
    """Write the checked upload to storage and prove the stored bytes are the hashed ones."""
    version.file.save(checked.stored_name, upload, save=False)
    saved.append(version.file.name)
    if stored_sha256(version.file.name) != checked.sha256:
        raise ValidationFailed(
            "file changed while it was being stored; upload it again", field="file"
        )
    version.file_name = checked.original_name
    version.file_sha256 = checked.sha256


def create_version(
    *,
    actor: User,
    document: Document,
    change_summary: str,
    file: File | None = None,  # type: ignore[type-arg]
    effective_date: dt.date | None = None,
) -> DocumentVersion:
    """A new draft version. One version is worked on at a time: a draft, a version in review or
    an approved one waiting for its date must be finished (or obsoleted) first."""
    require(actor, DocPerm.AUTHOR)
    if not isinstance(document, Document):
        raise ValidationFailed("document must be a controlled document", field="document")
    summary = _summary(change_summary)
    day = _future_date(effective_date)
    checked = check_controlled_file(file, document.kind) if file is not None else None
    saved: list[str] = []
    try:
        with transaction.atomic():
            doc = Document.objects.select_for_update(no_key=True, of=("self",)).get(pk=document.pk)
            if doc.obsoleted_at is not None:
                raise Conflict(f"{doc.number} is obsolete: no new versions", field="document")
            pending = doc.versions.filter(status__in=c.IN_FLIGHT).order_by("version").first()
            if pending is not None:
                raise Conflict(
                    f"{pending} is {pending.get_status_display().lower()}: finish or obsolete "
                    "it before drafting another version",
                    field="document",
                )
            last = doc.versions.order_by("-version").values_list("version", flat=True).first()
            version = DocumentVersion.objects.create(
                document=doc,
                version=(last or 0) + 1,
                status=VersionStatus.DRAFT,
                change_summary=summary,
                effective_date=day,
                created_by=actor,
                created_at=now(),
            )
            if checked is not None and file is not None:
                _store(version, file, checked, saved)
                version.save(update_fields=["file", "file_name", "file_sha256"])
            audit.append_event(
                actor=actor,
                action="documents.version.created",
                record=version,
                changes=audit.created(audit.snapshot(version, c.VERSION_FIELDS)),
            )
    except BaseException:
        for name in saved:
            delete_orphan(name)
        raise
    return version


def update_draft(
    *,
    actor: User,
    version_id: int,
    change_summary: str = UNSET,
    effective_date: dt.date | None = UNSET,
    file: File | None = None,  # type: ignore[type-arg]
) -> DocumentVersion:
    """Change a draft (its author only): summary, proposed effective date, or a new PDF.
    Once submitted, nothing of its content can change."""
    require(actor, DocPerm.AUTHOR)
    values: dict[str, Any] = {}
    if change_summary is not UNSET:
        values["change_summary"] = _summary(change_summary)
    if effective_date is not UNSET:
        values["effective_date"] = _future_date(effective_date)
    kind = c.load_version(version_id).document.kind if file is not None else ""
    checked = check_controlled_file(file, kind) if file is not None else None
    saved: list[str] = []
    try:
        with transaction.atomic():
            version = c.lock_version(c.version_pk(version_id))
            c.require_status(version, VersionStatus.DRAFT, doing="changed")
            if version.created_by_id != actor.pk:
                raise PermissionRefused(
                    f"only the author of {version} ({version.created_by.username}) may change it",
                    field="version_id",
                )
            before = audit.snapshot(version, c.VERSION_FIELDS)
            for key, value in values.items():
                setattr(version, key, value)
            if checked is not None and file is not None:
                _store(version, file, checked, saved)
            changes = audit.diff(before, audit.snapshot(version, c.VERSION_FIELDS))
            if not changes:
                raise ValidationFailed("nothing to change: every value is as it was", field=None)
            update = list(changes)
            if checked is not None:
                update.append("file")
            version.save(update_fields=sorted(set(update)))
            audit.append_event(
                actor=actor, action="documents.version.updated", record=version, changes=changes
            )
    except BaseException:
        for name in saved:
            delete_orphan(name)
        raise
    return version


def submit_for_review(*, actor: User, version_id: int) -> DocumentVersion:
    """The author sends the draft for review; from now on its file is read-only."""
    require(actor, DocPerm.AUTHOR)
    with transaction.atomic():
        version = c.lock_version(c.version_pk(version_id))
        c.require_status(version, VersionStatus.DRAFT, doing="submitted for review")
        if version.created_by_id != actor.pk:
            raise PermissionRefused(
                f"only the author of {version} ({version.created_by.username}) may submit it",
                field="version_id",
            )
        if not version.file or not version.file_sha256:
            raise ValidationFailed(f"{version} has no PDF: upload its file first", field="file")
        if version.effective_date is not None and version.effective_date < c.today():
            raise ValidationFailed(
                f"effective_date {version.effective_date} has passed: change it in the draft",
                field="effective_date",
            )
        changes = c.move(version, VersionStatus.IN_REVIEW) | c.stamp(version, "submitted_at")
        version.save(update_fields=["status", "submitted_at"])
        audit.append_event(
            actor=actor, action="documents.version.submitted", record=version, changes=changes
        )
        # A master batch record's YAML is parsed and checked by manufacturing now: a version
        # that could not run a batch never reaches review.
        hooks.emit(hooks.DOCUMENT_VERSION_SUBMITTED, version=version, actor=actor)
        # At once, not on commit: stored files are never written again in any case (a new
        # PDF for a draft is a new file), so a rollback leaves nothing wrong behind.
        make_read_only(version.file.name)
    return version


def return_to_draft(*, actor: User, version_id: int, reason: str) -> DocumentVersion:
    """Send a version in review back to its author (by the author or a reviewer), with why.
    Review signatures given before count no more: a resubmission needs a new review."""
    require(actor, DocPerm.AUTHOR)
    why = c.reason(reason)
    with transaction.atomic():
        version = c.lock_version(c.version_pk(version_id))
        c.require_status(version, VersionStatus.IN_REVIEW, doing="returned to draft")
        is_author = version.created_by_id == actor.pk
        reviewers = signing_roles(version.document.kind, SignatureMeaning.REVIEWED)
        if not is_author and not can_sign_as(
            actor, version.document.kind, SignatureMeaning.REVIEWED
        ):
            raise PermissionRefused(
                f"only the author or a reviewer ({', '.join(sorted(reviewers))}) "
                f"may return {version} to draft",
                field="version_id",
            )
        changes = c.move(version, VersionStatus.DRAFT)
        changes["submitted_at"] = {"old": audit.jsonable(version.submitted_at), "new": None}
        version.submitted_at = None
        version.save(update_fields=["status", "submitted_at"])
        audit.append_event(
            actor=actor,
            action="documents.version.returned",
            record=version,
            changes=changes,
            reason=why,
        )
    return version


# --- review and approval (e-signatures) -----------------------------------------------------
def _require_intact_file(actor: User | None, version: DocumentVersion, doing: str) -> None:
    """Interlock: the stored PDF must still be the one hashed at upload. Recorded if not."""
    if stored_sha256(version.file.name) == version.file_sha256:
        return
    message = (
        f"the stored file of {version} no longer matches its SHA-256 {version.file_sha256[:12]}…: "
        f"it cannot be {doing}; report it to QA"
    )
    audit.record_blocked_attempt(
        actor=actor, action="documents.version.file_integrity", record=version, reason=message
    )
    raise InterlockBlocked(message, field="file")


def _require_signer(actor: User, version: DocumentVersion, meaning: SignatureMeaning) -> None:
    kind = version.document.kind
    if not can_sign_as(actor, kind, meaning):
        raise PermissionRefused(
            f"signing {version} as '{meaning.value}' needs one of these roles: "
            f"{', '.join(sorted(signing_roles(kind, meaning)))}",
            field="password",
        )
    if version.created_by_id == actor.pk:
        verb = "review" if meaning == SignatureMeaning.REVIEWED else "approve"
        raise SignatureRefused(
            f"the author of {version} cannot {verb} it; a second person must sign",
            field="password",
        )


def review_version(
    *,
    actor: User,
    version_id: int,
    password: str,
    reason: str = "",
    request: HttpRequest | None = None,
) -> DocumentVersion:
    """Sign a version in review as 'reviewed' (QA reviewer, QA approver or supervisor; never
    its author). The version stays in review until a QA approver approves it."""
    version = c.load_version(version_id)
    c.require_status(version, VersionStatus.IN_REVIEW, doing="reviewed")
    _require_signer(actor, version, SignatureMeaning.REVIEWED)
    if any(s.signer_id == actor.pk for s in current_reviews(version)):
        raise Conflict(f"you have already reviewed {version}", field="version_id")
    why = c.text(reason, "reason", max_length=2000, required=False)
    _require_intact_file(actor, version, "reviewed")
    proof = check_password_for_signing(actor, password, request)
    with transaction.atomic():
        version = c.lock_version(version.pk)
        c.require_status(version, VersionStatus.IN_REVIEW, doing="reviewed")
        apply_signature(
            proof=proof,
            actor=actor,
            record=version,
            meaning=SignatureMeaning.REVIEWED,
            reason=why,
            performed_by=version.created_by,
        )
    return version


def approve_version(
    *,
    actor: User,
    version_id: int,
    password: str,
    effective_date: dt.date | None = None,
    reason: str = "",
    request: HttpRequest | None = None,
) -> DocumentVersion:
    """Sign a reviewed version as 'approved' (QA approver; not its author, not its reviewer).

    The effective date is part of what was reviewed: `effective_date`, when given, must be the
    reviewed one. With no date, or one today or past, the version becomes effective at once (in
    this transaction, superseding the previous one); with a later date it waits, approved, for
    `activate_due_versions`.
    """
    version = c.load_version(version_id)
    c.require_status(version, VersionStatus.IN_REVIEW, doing="approved")
    _require_signer(actor, version, SignatureMeaning.APPROVED)
    reviews = current_reviews(version)
    if not reviews:
        raise Conflict(
            f"{version} has no review signature yet: it must be reviewed before approval",
            field="version_id",
        )
    if all(s.signer_id == actor.pk for s in reviews):
        raise SignatureRefused(
            f"you reviewed {version}: a different person must approve it", field="password"
        )
    day = c.optional_date(effective_date, "effective_date")
    if day is not None and day != version.effective_date:
        reviewed = version.effective_date or "on approval"
        raise ValidationFailed(
            f"effective_date was reviewed as {reviewed}; to change it, return {version} to "
            "draft and have it reviewed again",
            field="effective_date",
        )
    why = c.text(reason, "reason", max_length=2000, required=False)
    _require_intact_file(actor, version, "approved")
    proof = check_password_for_signing(actor, password, request)
    with transaction.atomic():
        version = c.lock_version(version.pk)
        c.require_status(version, VersionStatus.IN_REVIEW, doing="approved")
        if not any(s.signer_id != actor.pk for s in current_reviews(version)):
            raise Conflict(
                f"{version} has no review signature by another person", field="version_id"
            )
        changes = c.move(version, VersionStatus.APPROVED) | c.stamp(version, "approved_at")
        version.save(update_fields=["status", "approved_at"])
        audit.append_event(
            actor=actor,
            action="documents.version.approved",
            record=version,
            changes=changes,
            reason=why,
        )
        apply_signature(
            proof=proof,
            actor=actor,
            record=version,
            meaning=SignatureMeaning.APPROVED,
            reason=why,
            performed_by=version.created_by,
        )
        today = c.today()
        if version.effective_date is None or version.effective_date <= today:
            _activate(version, actor=actor, today=today)
    return version


# --- effective ------------------------------------------------------------------------------
def _activate(version: DocumentVersion, *, actor: User | None, today: dt.date) -> None:
    """Inside the caller's transaction, with the document locked: supersede the effective
    version, make this one effective, start its periodic review clock, tell the other apps."""
    c.require_status(version, VersionStatus.APPROVED, doing="made effective")
    if version.effective_date is not None and version.effective_date > today:
        raise Conflict(
            f"{version} is effective from {version.effective_date}, not before",
            field="version_id",
        )
    previous = (
        DocumentVersion.objects.select_for_update(no_key=True, of=("self",))
        .filter(document_id=version.document_id, status=VersionStatus.EFFECTIVE)
        .first()
    )
    if previous is not None:
        changes = c.move(previous, VersionStatus.SUPERSEDED) | c.stamp(previous, "retired_at")
        previous.save(update_fields=["status", "retired_at"])
        audit.append_event(
            actor=actor,
            action="documents.version.superseded",
            record=previous,
            changes=changes,
            reason=f"superseded by version {version.version}",
        )
    changes = c.move(version, VersionStatus.EFFECTIVE) | c.stamp(version, "effective_at")
    due = c.add_months(today, version.document.review_period_months)
    changes["next_review_due"] = {"old": audit.jsonable(version.next_review_due), "new": due}
    version.next_review_due = due
    version.save(update_fields=["status", "effective_at", "next_review_due"])
    audit.append_event(
        actor=actor, action="documents.version.effective", record=version, changes=changes
    )
    hooks.emit(hooks.DOCUMENT_VERSION_EFFECTIVE, version=version, actor=actor)


def make_effective(*, actor: User, version_id: int) -> DocumentVersion:
    """Document control makes an approved version effective (once its date has come)."""
    require(actor, DocPerm.CONTROL)
    version = c.load_version(version_id)
    c.require_status(version, VersionStatus.APPROVED, doing="made effective")
    _require_intact_file(actor, version, "made effective")
    with transaction.atomic():
        version = c.lock_version(version.pk)
        _activate(version, actor=actor, today=c.today())
    return version


def activate_due_versions(
    *, actor: User | None = None, today: dt.date | None = None, document: Document | None = None
) -> list[DocumentVersion]:
    """Make effective every approved version whose effective date has come (all documents, or
    one). Run daily (`vein2vein documents activate-due`, the Celery task) and lazily wherever
    the effective version is read. A version whose file fails its check stays approved and
    the refusal is recorded; the others go ahead. Without an actor, the system acts."""
    if actor is not None:
        require(actor, DocPerm.CONTROL)
    day = today or c.today()
    due = DocumentVersion.objects.filter(
        status=VersionStatus.APPROVED, effective_date__lte=day
    ).order_by("pk")
    if document is not None:
        due = due.filter(document=document)
    activated: list[DocumentVersion] = []
    for pk in list(due.values_list("pk", flat=True)):
        try:
            _require_intact_file(actor, c.load_version(pk), "made effective")
            with transaction.atomic():
                version = c.lock_version(pk)
                if version.status != VersionStatus.APPROVED:
                    continue  # someone else activated or obsoleted it meanwhile
                _activate(version, actor=actor, today=day)
        except DomainError:
            continue
        activated.append(version)
    return activated


# --- obsolete -------------------------------------------------------------------------------
def obsolete_version(*, actor: User, version_id: int, reason: str) -> DocumentVersion:
    """Retire one version: a draft (its author or a QA approver), or an approved or effective
    one (QA approver). A version in review goes back to draft first."""
    require(actor, DocPerm.AUTHOR)
    why = c.reason(reason)
    with transaction.atomic():
        version = c.lock_version(c.version_pk(version_id))
        c.require_status(
            version,
            VersionStatus.DRAFT,
            VersionStatus.APPROVED,
            VersionStatus.EFFECTIVE,
            doing="made obsolete",
        )
        own_draft = version.status == VersionStatus.DRAFT and version.created_by_id == actor.pk
        if not own_draft:
            require(actor, DocPerm.OBSOLETE)
        changes = c.move(version, VersionStatus.OBSOLETE) | c.stamp(version, "retired_at")
        version.save(update_fields=["status", "retired_at"])
        audit.append_event(
            actor=actor,
            action="documents.version.obsoleted",
            record=version,
            changes=changes,
            reason=why,
        )
    return version


def record_file_integrity_failure(*, actor: User | None, version: DocumentVersion) -> None:
    """A read found the stored PDF changed or missing: record it (after any rollback)."""
    audit.record_blocked_attempt(
        actor=actor,
        action="documents.version.file_read",
        record=version,
        reason=f"stored file of {version} no longer matches SHA-256 {version.file_sha256}",
    )
