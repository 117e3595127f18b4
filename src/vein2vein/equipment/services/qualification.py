"""IQ/OQ/PQ records: recorded against a controlled document in effect, approved by a QA
approver with an e-signature (never the person who recorded it)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.http import HttpRequest

from vein2vein.core import audit
from vein2vein.core.choices import SignatureMeaning
from vein2vein.core.errors import Conflict, NotFound, ValidationFailed
from vein2vein.core.models import User
from vein2vein.core.permissions import require
from vein2vein.core.services.signatures import apply_signature, check_password_for_signing
from vein2vein.core.signing import require_second_person
from vein2vein.core.time import now
from vein2vein.documents import selectors as documents
from vein2vein.documents.models import Document

from ..choices import QualificationStage, QualificationStatus, Result
from ..models import QualificationRecord
from ..permissions import EqPerm
from . import _common as c


def _document(value: object) -> tuple[Document, int]:
    """The controlled document (by number or instance) and the version in effect now."""
    doc = value if isinstance(value, Document) else documents.get_document(value)  # type: ignore[arg-type]
    if doc is None:
        raise NotFound(f"document {value} does not exist", field="document")
    version = documents.effective_version(doc)
    if version is None:
        raise ValidationFailed(
            f"{doc.number} has no effective version: a qualification is recorded against an "
            "approved, effective protocol",
            field="document",
        )
    return doc, version.version


def record_qualification(
    *,
    actor: User,
    equipment_id: str,
    stage: str,
    document: Document | str,
    result: str,
    performed_on: dt.date,
    remarks: str = "",
) -> QualificationRecord:
    """Record an executed IQ, OQ or PQ; it counts once a QA approver approves it."""
    unit = c.equipment(equipment_id)
    require(actor, EqPerm.MANAGE, unit.site)
    values = {
        "stage": c.choice(stage, "stage", QualificationStage.values),
        "result": c.choice(result, "result", Result.values),
        "performed_on": c.past_date(performed_on, "performed_on", unit.site),
        "remarks": c.text(remarks, "remarks", max_length=c.LONG, required=False),
    }
    doc, version = _document(document)
    with transaction.atomic():
        unit = c.equipment(equipment_id, lock=True)
        c.not_retired(unit)
        record = QualificationRecord.objects.create(
            equipment=unit,
            document=doc,
            document_version=version,
            performed_by=actor,
            recorded_at=now(),
            status=QualificationStatus.PENDING,
            **values,
        )
        audit.append_event(
            actor=actor,
            action="equipment.qualification.recorded",
            record=record,
            changes=audit.created(
                {
                    k: v
                    for k, v in audit.snapshot(record, QualificationRecord.RECORD_FIELDS).items()
                    if v != ""
                }
            ),
        )
    return record


def approve_qualification(
    *,
    actor: User,
    record_id: int,
    password: str,
    reason: str = "",
    request: HttpRequest | None = None,
) -> QualificationRecord:
    """A QA approver approves the record with an e-signature ('approved')."""
    record = c.fetch(QualificationRecord, record_id, "record_id")
    unit = record.equipment
    require(actor, EqPerm.QUALIFICATION_APPROVE, unit.site)
    if record.status != QualificationStatus.PENDING:
        raise Conflict(f"{record} is already {record.get_status_display().lower()}")
    require_second_person(performer=record.performed_by, second=actor, action="approve")
    why = c.text(reason, "reason", max_length=2000, required=False)
    proof = check_password_for_signing(actor, password, request)
    with transaction.atomic():
        c.equipment(unit.equipment_id, lock=True)
        record = c.fetch(QualificationRecord, record.pk, "record_id", lock=True)
        if record.status != QualificationStatus.PENDING:
            raise Conflict(f"{record} is already {record.get_status_display().lower()}")
        record.status = QualificationStatus.APPROVED
        record.approved_by = actor
        record.approved_at = now()
        record.save(update_fields=["status", "approved_by", "approved_at"])
        audit.append_event(
            actor=actor,
            action="equipment.qualification.approved",
            record=record,
            changes={"status": {"old": QualificationStatus.PENDING, "new": record.status}},
            reason=why,
        )
        apply_signature(
            proof=proof,
            actor=actor,
            record=record,
            meaning=SignatureMeaning.APPROVED,
            reason=why,
            performed_by=record.performed_by,
        )
    return record
