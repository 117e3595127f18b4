"""Qualifications: granted by a supervisor with an e-signature (meaning approved), valid for the
type's months, revoked with a reason. Expiry is computed when checked, never stored."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from vein2vein.core import audit
from vein2vein.core.choices import SignatureMeaning
from vein2vein.core.errors import Conflict, NotFound, SignatureRefused, ValidationFailed
from vein2vein.core.models import RoleAssignment, User
from vein2vein.core.permissions import require
from vein2vein.core.services import _validate
from vein2vein.core.services.signatures import apply_signature, check_password_for_signing
from vein2vein.core.time import now

from ..choices import QualificationStatus
from ..models import Qualification, QualificationType
from ..permissions import TrainingPerm
from ._common import add_months, site_or_404, user_or_404


def _set(values: dict[str, Any]) -> dict[str, Any]:
    """The fields a new record sets (a blank revocation is not news)."""
    return {k: v for k, v in values.items() if v is not None}


def grant_qualification(
    *,
    actor: User,
    user_id: int,
    qualification_code: str,
    site_id: int,
    password: str,
    note: str = "",
    request: HttpRequest | None = None,
) -> Qualification:
    """A supervisor at `site` qualifies another person who works there, signing with their
    password. A grant of a type the person already holds supersedes the earlier one."""
    require(actor, TrainingPerm.QUALIFY)
    site = site_or_404(site_id)
    require(actor, TrainingPerm.QUALIFY, site)
    person = user_or_404(user_id)
    if person.pk == actor.pk:
        raise SignatureRefused(
            "a supervisor cannot grant a qualification to themselves; another supervisor must",
            field="user_id",
        )
    code = _validate.text(qualification_code, "qualification_code", max_length=40).upper()
    kind = QualificationType.objects.filter(code=code, is_active=True).first()
    if kind is None:
        raise ValidationFailed(
            f"qualification type {code} does not exist or is inactive", field="qualification_code"
        )
    if not (
        person.is_active
        and RoleAssignment.objects.filter(user=person, site=site, revoked_at__isnull=True).exists()
    ):
        raise ValidationFailed(
            f"{person.printed_name} holds no active role at {site.code}", field="user_id"
        )
    basis = _validate.text(note, "note", max_length=2000, required=False)
    proof = check_password_for_signing(actor, password, request)
    with transaction.atomic():
        at = now()
        previous = (
            Qualification.objects.select_for_update(no_key=True, of=("self",))
            .filter(user=person, qualification_type=kind, status=QualificationStatus.ACTIVE)
            .first()
        )
        if previous is not None:
            previous.status = QualificationStatus.SUPERSEDED
            previous.superseded_at = at
            previous.save(update_fields=["status", "superseded_at", "updated_at"])
            audit.append_event(
                actor=actor,
                action="training.qualification.superseded",
                record=previous,
                changes={
                    "status": {"old": QualificationStatus.ACTIVE, "new": previous.status},
                    "superseded_at": {"old": None, "new": at},
                },
                reason="a new grant of the same qualification",
            )
        qualification = Qualification.objects.create(
            user=person,
            qualification_type=kind,
            site=site,
            granted_by=actor,
            granted_at=at,
            expires_at=add_months(at, kind.validity_months),
            note=basis,
        )
        audit.append_event(
            actor=actor,
            action="training.qualification.granted",
            record=qualification,
            changes=audit.created(_set(audit.snapshot(qualification, Qualification.RECORD_FIELDS))),
            reason=basis,
        )
        apply_signature(
            proof=proof,
            actor=actor,
            record=qualification,
            meaning=SignatureMeaning.APPROVED,
            reason=basis or f"{kind.name} granted",
            performed_by=person,
        )
    return qualification


def revoke_qualification(*, actor: User, qualification_id: int, reason: str) -> Qualification:
    """Withdraw a qualification before it expires (e.g. a failed gowning assessment)."""
    require(actor, TrainingPerm.QUALIFY)
    why = _validate.reason(reason)
    with transaction.atomic():
        qualification = (
            Qualification.objects.select_for_update(no_key=True, of=("self",))
            .select_related("qualification_type", "user", "site")
            .filter(pk=qualification_id)
            .first()
        )
        if qualification is None:
            raise NotFound(
                f"qualification {qualification_id} does not exist", field="qualification_id"
            )
        require(actor, TrainingPerm.QUALIFY, qualification.site)
        if qualification.status != QualificationStatus.ACTIVE:
            raise Conflict(
                f"{qualification} is already {qualification.get_status_display().lower()}"
            )
        before = audit.snapshot(qualification, Qualification.RECORD_FIELDS)
        qualification.status = QualificationStatus.REVOKED
        qualification.revoked_at = now()
        qualification.revoked_by = actor
        qualification.revoke_reason = why
        changes = audit.diff(before, audit.snapshot(qualification, Qualification.RECORD_FIELDS))
        qualification.save(update_fields=[*changes, "revoke_reason", "updated_at"])
        audit.append_event(
            actor=actor,
            action="training.qualification.revoked",
            record=qualification,
            changes=changes,
            reason=why,
        )
    return qualification
