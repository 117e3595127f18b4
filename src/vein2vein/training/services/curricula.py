"""Curricula and qualification types: master data that supervisors and QA maintain."""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction

from vein2vein.core import audit
from vein2vein.core.choices import Role
from vein2vein.core.errors import Conflict, NotFound, ValidationFailed
from vein2vein.core.models import User
from vein2vein.core.permissions import GMP_ROLES, require
from vein2vein.core.services import _validate
from vein2vein.core.time import now

from .. import selectors
from ..choices import MAX_DUE_DAYS, MAX_VALIDITY_MONTHS, QualificationKind
from ..models import Curriculum, CurriculumItem, QualificationType, TrainingAssignment
from ..permissions import TrainingPerm
from ._common import default_due_days, site_or_404, whole_number
from .assignments import assign_document

_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,39}$")
TYPE_EDITABLE_FIELDS = ("name", "kind", "subject", "description", "validity_months", "is_active")
CURRICULUM_EDITABLE_FIELDS = ("name", "description")


# --- qualification types --------------------------------------------------------------------
def _clean_type(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "code" in data:
        code = _validate.text(data["code"], "code", max_length=40).upper()
        if not _CODE_RE.match(code):
            raise ValidationFailed(
                "code must be 2-40 characters: capital letters, digits and '-'", field="code"
            )
        out["code"] = code
    if "name" in data:
        out["name"] = _validate.text(data["name"], "name", max_length=200)
    if "kind" in data:
        if data["kind"] not in QualificationKind.values:
            raise ValidationFailed(
                f"kind must be one of: {', '.join(QualificationKind.values)}", field="kind"
            )
        out["kind"] = str(data["kind"])
    if "subject" in data:
        out["subject"] = _validate.text(data["subject"], "subject", max_length=200, required=False)
    if "description" in data:
        out["description"] = _validate.text(
            data["description"], "description", max_length=2000, required=False
        )
    if "validity_months" in data:
        out["validity_months"] = whole_number(
            data["validity_months"], "validity_months", low=1, high=MAX_VALIDITY_MONTHS
        )
    if "is_active" in data:
        if not isinstance(data["is_active"], bool):
            raise ValidationFailed("is_active must be true or false", field="is_active")
        out["is_active"] = data["is_active"]
    needs_subject = out.get("kind") in (
        QualificationKind.PROCESS_STEP,
        QualificationKind.INSTRUMENT,
    )
    if needs_subject and "subject" in out and not out["subject"]:
        raise ValidationFailed(
            "subject is required for a process step or instrument: name it", field="subject"
        )
    return out


def create_qualification_type(
    *,
    actor: User,
    code: str,
    name: str,
    kind: str,
    validity_months: int,
    subject: str = "",
    description: str = "",
) -> QualificationType:
    """A kind of qualification with its validity, e.g. APS for 6 months."""
    require(actor, TrainingPerm.MANAGE)
    values = _clean_type(
        {
            "code": code,
            "name": name,
            "kind": kind,
            "validity_months": validity_months,
            "subject": subject,
            "description": description,
        }
    )
    with transaction.atomic():
        if QualificationType.objects.filter(code=values["code"]).exists():
            raise ValidationFailed(f"code {values['code']} is already used", field="code")
        kind_row = QualificationType.objects.create(created_at=now(), **values)
        audit.append_event(
            actor=actor,
            action="training.qualification_type.created",
            record=kind_row,
            changes=audit.created(audit.snapshot(kind_row, QualificationType.RECORD_FIELDS)),
        )
    return kind_row


def update_qualification_type(
    *, actor: User, code: str, reason: str, **fields: Any
) -> QualificationType:
    """Correct a type. A new validity applies to later grants; earlier expiry dates stand."""
    require(actor, TrainingPerm.MANAGE)
    _validate.only_editable(fields, TYPE_EDITABLE_FIELDS)
    values = _clean_type(fields)
    why = _validate.reason(reason)
    code = _validate.text(code, "code", max_length=40).upper()
    with transaction.atomic():
        kind_row = (
            QualificationType.objects.select_for_update(no_key=True, of=("self",))
            .filter(code=code)
            .first()
        )
        if kind_row is None:
            raise NotFound(f"qualification type {code} does not exist", field="code")
        fields_now = (*QualificationType.RECORD_FIELDS, "is_active")
        before = audit.snapshot(kind_row, fields_now)
        for key, value in values.items():
            setattr(kind_row, key, value)
        if (
            kind_row.kind
            in (
                QualificationKind.PROCESS_STEP,
                QualificationKind.INSTRUMENT,
            )
            and not kind_row.subject
        ):
            raise ValidationFailed(
                "subject is required for a process step or instrument: name it", field="subject"
            )
        changes = audit.diff(before, audit.snapshot(kind_row, fields_now))
        if not changes:
            raise ValidationFailed("nothing to change: every value is as it was", field=None)
        kind_row.save(update_fields=[*changes, "updated_at"])
        audit.append_event(
            actor=actor,
            action="training.qualification_type.updated",
            record=kind_row,
            changes=changes,
            reason=why,
        )
    return kind_row


# --- curricula ------------------------------------------------------------------------------
def _role(value: object) -> str:
    if value not in Role.values:
        raise ValidationFailed(f"role must be one of: {', '.join(Role.values)}", field="role")
    if value not in GMP_ROLES:
        raise ValidationFailed(f"{value} enters no GMP data and has no curriculum", field="role")
    return str(value)


def create_curriculum(
    *,
    actor: User,
    role: str,
    name: str,
    site_id: int | None = None,
    description: str = "",
) -> Curriculum:
    """One curriculum per role, for all sites (site_id None) or one site."""
    require(actor, TrainingPerm.MANAGE)
    site = site_or_404(site_id) if site_id is not None else None
    if site is not None:
        require(actor, TrainingPerm.MANAGE, site)
    role_value = _role(role)
    title = _validate.text(name, "name", max_length=200)
    about = _validate.text(description, "description", max_length=2000, required=False)
    with transaction.atomic():
        if Curriculum.objects.filter(role=role_value, site=site).exists():
            where = site.code if site else "all sites"
            raise ValidationFailed(
                f"a curriculum for {role_value} at {where} already exists", field="role"
            )
        curriculum = Curriculum.objects.create(
            role=role_value,
            site=site,
            name=title,
            description=about,
            created_by=actor,
            created_at=now(),
        )
        audit.append_event(
            actor=actor,
            action="training.curriculum.created",
            record=curriculum,
            changes=audit.created(audit.snapshot(curriculum, Curriculum.RECORD_FIELDS)),
        )
    return curriculum


def _locked_curriculum(actor: User, curriculum_id: int) -> Curriculum:
    curriculum = (
        Curriculum.objects.select_for_update(no_key=True, of=("self",))
        .select_related("site")
        .filter(pk=curriculum_id)
        .first()
    )
    if curriculum is None:
        raise NotFound(f"curriculum {curriculum_id} does not exist", field="curriculum_id")
    require(actor, TrainingPerm.MANAGE, curriculum.site)
    return curriculum


def update_curriculum(*, actor: User, curriculum_id: int, reason: str, **fields: Any) -> Curriculum:
    require(actor, TrainingPerm.MANAGE)
    _validate.only_editable(fields, CURRICULUM_EDITABLE_FIELDS)
    values: dict[str, str] = {}
    if "name" in fields:
        values["name"] = _validate.text(fields["name"], "name", max_length=200)
    if "description" in fields:
        values["description"] = _validate.text(
            fields["description"], "description", max_length=2000, required=False
        )
    why = _validate.reason(reason)
    with transaction.atomic():
        curriculum = _locked_curriculum(actor, curriculum_id)
        before = audit.snapshot(curriculum, Curriculum.RECORD_FIELDS)
        for key, value in values.items():
            setattr(curriculum, key, value)
        changes = audit.diff(before, audit.snapshot(curriculum, Curriculum.RECORD_FIELDS))
        if not changes:
            raise ValidationFailed("nothing to change: every value is as it was", field=None)
        curriculum.save(update_fields=[*changes, "updated_at"])
        audit.append_event(
            actor=actor,
            action="training.curriculum.updated",
            record=curriculum,
            changes=changes,
            reason=why,
        )
    return curriculum


def add_curriculum_document(
    *,
    actor: User,
    curriculum_id: int,
    document_number: str,
    trainer_led: bool = False,
    due_days: int | None = None,
) -> tuple[CurriculumItem, list[TrainingAssignment]]:
    """Add a document to read (whichever version is effective). Everyone who holds the role
    is assigned its effective version at once, in the same transaction."""
    require(actor, TrainingPerm.MANAGE)
    number = _validate.text(document_number, "document_number", max_length=20).upper()
    if not isinstance(trainer_led, bool):
        raise ValidationFailed("trainer_led must be true or false", field="trainer_led")
    days = (
        default_due_days()
        if due_days is None
        else whole_number(due_days, "due_days", low=1, high=MAX_DUE_DAYS)
    )
    document = selectors.get_document(number)
    if document is None:
        raise ValidationFailed(f"document {number} does not exist", field="document_number")
    with transaction.atomic():
        curriculum = _locked_curriculum(actor, curriculum_id)
        if curriculum.items.filter(document=document, removed_at__isnull=True).exists():
            raise ValidationFailed(
                f"{number} is already in {curriculum.name}", field="document_number"
            )
        item = CurriculumItem.objects.create(
            curriculum=curriculum,
            document=document,
            trainer_led=trainer_led,
            due_days=days,
            added_by=actor,
            added_at=now(),
        )
        audit.append_event(
            actor=actor,
            action="training.curriculum.document_added",
            record=curriculum,
            changes={
                "item": {"old": None, "new": item.pk},
                "document": {"old": None, "new": number},
                "trainer_led": {"old": None, "new": trainer_led},
                "due_days": {"old": None, "new": days},
            },
        )
        created = assign_document(document=document, actor=actor)
    return item, created


def add_curriculum_qualification(
    *, actor: User, curriculum_id: int, qualification_code: str
) -> CurriculumItem:
    """Add a qualification the role must hold."""
    require(actor, TrainingPerm.MANAGE)
    code = _validate.text(qualification_code, "qualification_code", max_length=40).upper()
    kind = QualificationType.objects.filter(code=code, is_active=True).first()
    if kind is None:
        raise ValidationFailed(
            f"qualification type {code} does not exist or is inactive", field="qualification_code"
        )
    with transaction.atomic():
        curriculum = _locked_curriculum(actor, curriculum_id)
        if curriculum.items.filter(qualification_type=kind, removed_at__isnull=True).exists():
            raise ValidationFailed(
                f"{code} is already in {curriculum.name}", field="qualification_code"
            )
        item = CurriculumItem.objects.create(
            curriculum=curriculum,
            qualification_type=kind,
            added_by=actor,
            added_at=now(),
        )
        audit.append_event(
            actor=actor,
            action="training.curriculum.qualification_added",
            record=curriculum,
            changes={
                "item": {"old": None, "new": item.pk},
                "qualification_type": {"old": None, "new": code},
            },
        )
    return item


def remove_curriculum_item(*, actor: User, item_id: int, reason: str) -> CurriculumItem:
    """Take an item off a curriculum, with the reason. Records already made stay as they are."""
    require(actor, TrainingPerm.MANAGE)
    why = _validate.reason(reason)
    with transaction.atomic():
        item = (
            CurriculumItem.objects.select_for_update(no_key=True, of=("self",))
            .select_related("document", "qualification_type")
            .filter(pk=item_id)
            .first()
        )
        if item is None:
            raise NotFound(f"curriculum item {item_id} does not exist", field="item_id")
        curriculum = _locked_curriculum(actor, item.curriculum_id)
        if item.removed_at is not None:
            raise Conflict(f"{item.requirement} was already removed from {curriculum.name}")
        item.removed_at = now()
        item.removed_by = actor
        item.remove_reason = why
        item.save(update_fields=["removed_at", "removed_by", "remove_reason"])
        audit.append_event(
            actor=actor,
            action="training.curriculum.item_removed",
            record=curriculum,
            changes={
                "item": {"old": item.pk, "new": None},
                "requirement": {"old": item.requirement, "new": None},
            },
            reason=why,
        )
    return item
