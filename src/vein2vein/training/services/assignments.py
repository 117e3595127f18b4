"""Read-and-understood assignments: made when a version becomes effective, signed by the trainee,
and, when trainer-led, signed off by a trainer (a second person holding a trainer role)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.http import HttpRequest

from vein2vein.core import audit
from vein2vein.core.choices import SignatureMeaning
from vein2vein.core.errors import Conflict, NotFound, PermissionRefused, SignatureRefused
from vein2vein.core.models import User
from vein2vein.core.permissions import SIGNING_ROLES, can_sign, require, require_role
from vein2vein.core.services import _validate
from vein2vein.core.services.signatures import apply_signature, check_password_for_signing
from vein2vein.core.time import now
from vein2vein.documents.choices import VersionStatus
from vein2vein.documents.models import Document, DocumentVersion

from .. import selectors
from ..choices import OPEN_ASSIGNMENT_STATUSES, TRAINER_ROLES, AssignmentStatus
from ..models import CurriculumItem, TrainingAssignment
from ..permissions import TrainingPerm


def _supersede_older(version: DocumentVersion, actor: User | None, at: dt.datetime) -> None:
    """Open assignments for any other version of the document are moot: close them."""
    stale = (
        TrainingAssignment.objects.select_for_update(no_key=True, of=("self",))
        .filter(
            document_version__document_id=version.document_id,
            status__in=OPEN_ASSIGNMENT_STATUSES,
        )
        .exclude(document_version=version)
        .select_related("document_version")
        .order_by("pk")
    )
    for assignment in stale:
        reason = f"v{version.version} of {version.document.number} became effective"
        before = audit.snapshot(assignment, TrainingAssignment.RECORD_FIELDS)
        assignment.status = AssignmentStatus.SUPERSEDED
        assignment.superseded_at = at
        assignment.superseded_reason = reason
        assignment.save(
            update_fields=["status", "superseded_at", "superseded_reason", "updated_at"]
        )
        audit.append_event(
            actor=actor,
            action="training.assignment.superseded",
            record=assignment,
            changes=audit.diff(
                before, audit.snapshot(assignment, TrainingAssignment.RECORD_FIELDS)
            ),
            reason=reason,
        )


def _assign_version(version: DocumentVersion, actor: User | None) -> list[TrainingAssignment]:
    """Inside the caller's transaction: assign `version` to everyone whose curriculum lists its
    document and who has no assignment for it yet. Idempotent."""
    # One assigner per version at a time: two runs never race to create the same row.
    DocumentVersion.objects.select_for_update(no_key=True, of=("self",)).filter(
        pk=version.pk
    ).first()
    at = now()
    _supersede_older(version, actor, at)
    already = set(
        TrainingAssignment.objects.filter(document_version=version).values_list(
            "trainee_id", flat=True
        )
    )
    created: list[TrainingAssignment] = []
    for user, site, item in selectors.holders_of_document(version.document):
        if user.pk in already:
            continue
        assignment = TrainingAssignment.objects.create(
            trainee=user,
            document_version=version,
            site=site,
            curriculum_item=item,
            trainer_led=item.trainer_led,
            assigned_by=actor,
            assigned_at=at,
            due_at=at + dt.timedelta(days=item.due_days),
        )
        audit.append_event(
            actor=actor,
            action="training.assignment.created",
            record=assignment,
            changes=audit.created(
                {
                    k: v
                    for k, v in audit.snapshot(assignment, TrainingAssignment.RECORD_FIELDS).items()
                    if v is not None
                }
            ),
            reason=f"{version} is effective and in the {item.curriculum.name} curriculum",
        )
        created.append(assignment)
    return created


def assign_version(
    *, version: DocumentVersion, actor: User | None = None
) -> list[TrainingAssignment]:
    """A version became effective: assign it to every role holder whose curriculum lists the
    document (the documents hook calls this inside its own transaction). Returns new rows."""
    if version.status != VersionStatus.EFFECTIVE:
        return []
    with transaction.atomic():
        return _assign_version(version, actor)


def assign_document(*, document: Document, actor: User | None = None) -> list[TrainingAssignment]:
    """Assign the effective version of `document`, if it has one, to whoever lacks it."""
    version = selectors.effective_version(document)
    return assign_version(version=version, actor=actor) if version is not None else []


def sync_assignments(*, actor: User | None = None) -> list[TrainingAssignment]:
    """Bring assignments in line with curricula and role grants (new role holders, items
    added); idempotent. `actor=None` is the system (the Celery task)."""
    if actor is not None:
        require(actor, TrainingPerm.SYNC)
    document_ids = (
        CurriculumItem.objects.filter(removed_at__isnull=True, document__isnull=False)
        .values_list("document_id", flat=True)
        .distinct()
    )
    created: list[TrainingAssignment] = []
    with transaction.atomic():
        for document in Document.objects.filter(pk__in=list(document_ids)).order_by("number"):
            created += assign_document(document=document, actor=actor)
    return created


# --- signing --------------------------------------------------------------------------------
def _assignment(assignment_id: int) -> TrainingAssignment:
    assignment = (
        TrainingAssignment.objects.select_related("trainee", "site", "document_version__document")
        .filter(pk=assignment_id)
        .first()
    )
    if assignment is None:
        raise NotFound(f"training assignment {assignment_id} does not exist", field="assignment_id")
    return assignment


def _locked(assignment_id: int) -> TrainingAssignment:
    return (
        TrainingAssignment.objects.select_for_update(no_key=True, of=("self",))
        .select_related("document_version__document", "site")
        .get(pk=assignment_id)
    )


def _require_status(assignment: TrainingAssignment, status: AssignmentStatus, doing: str) -> None:
    if assignment.status != status:
        raise Conflict(
            f"{assignment.document_version} for {assignment.trainee.printed_name} is "
            f"'{assignment.get_status_display()}': it cannot be {doing}"
        )


def sign_assignment(
    *,
    actor: User,
    assignment_id: int,
    password: str,
    reason: str = "",
    request: HttpRequest | None = None,
) -> TrainingAssignment:
    """The trainee signs 'read and understood' (meaning performed) with their password. A
    trainer-led item then waits for the trainer; any other item is complete."""
    assignment = _assignment(assignment_id)
    if assignment.trainee_id != actor.pk:
        raise PermissionRefused(
            f"only the trainee ({assignment.trainee.printed_name}) may sign this "
            "read-and-understood assignment",
            field="assignment_id",
        )
    if not can_sign(actor, SignatureMeaning.PERFORMED, assignment.site):
        allowed = ", ".join(sorted(SIGNING_ROLES[SignatureMeaning.PERFORMED]))
        raise PermissionRefused(
            f"signing as 'performed' needs one of these roles at {assignment.site.code}: {allowed}"
        )
    _require_status(assignment, AssignmentStatus.ASSIGNED, "signed by the trainee")
    why = _validate.text(reason, "reason", max_length=2000, required=False)
    proof = check_password_for_signing(actor, password, request)
    with transaction.atomic():
        assignment = _locked(assignment.pk)
        _require_status(assignment, AssignmentStatus.ASSIGNED, "signed by the trainee")
        before = audit.snapshot(assignment, TrainingAssignment.RECORD_FIELDS)
        at = now()
        assignment.trainee_signed_at = at
        if assignment.trainer_led:
            assignment.status = AssignmentStatus.AWAITING_TRAINER
        else:
            assignment.status = AssignmentStatus.COMPLETED
            assignment.completed_at = at
        changes = audit.diff(before, audit.snapshot(assignment, TrainingAssignment.RECORD_FIELDS))
        assignment.save(update_fields=[*changes, "updated_at"])
        audit.append_event(
            actor=actor,
            action="training.assignment.signed",
            record=assignment,
            changes=changes,
            reason=why,
        )
        apply_signature(
            proof=proof,
            actor=actor,
            record=assignment,
            meaning=SignatureMeaning.PERFORMED,
            reason=why or "Read and understood",
            performed_by=actor,
        )
    return assignment


def sign_off_assignment(
    *,
    actor: User,
    assignment_id: int,
    password: str,
    reason: str = "",
    request: HttpRequest | None = None,
) -> TrainingAssignment:
    """The trainer confirms a trainer-led item (meaning verified): another person than the
    trainee, holding supervisor or QA at the assignment's site."""
    assignment = _assignment(assignment_id)
    if assignment.trainee_id == actor.pk:
        raise SignatureRefused(
            "the trainee cannot sign off their own training; the trainer must be another person",
            field="assignment_id",
        )
    require_role(actor, TRAINER_ROLES, "signing off trainer-led training", assignment.site)
    if not assignment.trainer_led:
        raise Conflict(f"{assignment.document_version} is not trainer-led: no trainer signs it")
    _require_status(assignment, AssignmentStatus.AWAITING_TRAINER, "signed off by the trainer")
    why = _validate.text(reason, "reason", max_length=2000, required=False)
    proof = check_password_for_signing(actor, password, request)
    with transaction.atomic():
        assignment = _locked(assignment.pk)
        _require_status(assignment, AssignmentStatus.AWAITING_TRAINER, "signed off by the trainer")
        before = audit.snapshot(assignment, TrainingAssignment.RECORD_FIELDS)
        at = now()
        assignment.trainer = actor
        assignment.trainer_signed_at = at
        assignment.completed_at = at
        assignment.status = AssignmentStatus.COMPLETED
        changes = audit.diff(before, audit.snapshot(assignment, TrainingAssignment.RECORD_FIELDS))
        assignment.save(update_fields=[*changes, "updated_at"])
        audit.append_event(
            actor=actor,
            action="training.assignment.signed_off",
            record=assignment,
            changes=changes,
            reason=why,
        )
        apply_signature(
            proof=proof,
            actor=actor,
            record=assignment,
            meaning=SignatureMeaning.VERIFIED,
            reason=why or "Training given and understanding verified",
            performed_by=assignment.trainee,
        )
    return assignment
