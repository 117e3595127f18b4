"""Reading e-signatures: the content a signature binds, validity, manifestation, four eyes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models

from vein2vein.standards.audit_chain import content_hash

from .audit import jsonable, record_ref
from .errors import NotFound, SignatureRefused, ValidationFailed
from .models import Signature, Site, User
from .time import format_in_zone

_SKIPPED_FIELDS = {"updated_at"}


def signed_content(record: models.Model) -> dict[str, Any]:
    """What a signature over `record` covers: its `signed_content()`, else its concrete fields."""
    method = getattr(record, "signed_content", None)
    if callable(method):
        content = method()
    else:
        content = {
            f.name: getattr(record, f.attname)
            for f in record._meta.concrete_fields
            if f.name not in _SKIPPED_FIELDS
        }
    return {k: jsonable(v) for k, v in content.items()}


def record_content_hash(record: models.Model) -> str:
    return content_hash(signed_content(record))


def resolve_record(record_type: str, record_id: str) -> models.Model:
    """The record named by a generic reference ('app_label.model', pk)."""
    try:
        model = apps.get_model(record_type)
    except (LookupError, ValueError) as exc:
        raise ValidationFailed(
            f"record_type {record_type!r} is not a known record", field="record_type"
        ) from exc
    obj: models.Model | None = (
        model._default_manager.filter(pk=record_id).first() if str(record_id).isdigit() else None
    )
    if obj is None:
        raise NotFound(f"{record_type} {record_id} does not exist", field="record_id")
    return obj


def record_site(record: models.Model) -> Site | None:
    if isinstance(record, Site):
        return record
    site = getattr(record, "site", None)
    return site if isinstance(site, Site) else None


def record_zone(record: models.Model) -> str:
    site = record_site(record)
    return site.time_zone if site else settings.TIME_ZONE


def signatures_for(record: models.Model) -> list[Signature]:
    record_type, record_id = record_ref(record)
    return list(
        Signature.objects.filter(record_type=record_type, record_id=record_id).select_related(
            "signer"
        )
    )


def is_valid(signature: Signature, record: models.Model | None = None) -> bool:
    """True while the record's content is still what was signed."""
    if record is None:
        try:
            record = resolve_record(signature.record_type, signature.record_id)
        except (NotFound, ValidationFailed):
            return False
    return record_content_hash(record) == signature.content_hash


@dataclass(frozen=True)
class Manifestation:
    """Printed name, date and time with zone, and meaning (21 CFR 11.50)."""

    printed_name: str
    username: str
    meaning: str
    signed_at: str
    valid: bool
    reason: str

    def __str__(self) -> str:
        text = f"{self.printed_name} ({self.username}) — {self.meaning} — {self.signed_at}"
        return text if self.valid else f"{text} — NO LONGER VALID: the record changed after signing"


def manifestation(signature: Signature, record: models.Model | None = None) -> Manifestation:
    return Manifestation(
        printed_name=signature.signer_name,
        username=signature.signer.get_username(),
        meaning=signature.get_meaning_display(),
        signed_at=format_in_zone(signature.signed_at, signature.time_zone),
        valid=is_valid(signature, record),
        reason=signature.reason,
    )


def require_second_person(*, performer: User | None, second: User, action: str = "verify") -> None:
    """Four eyes: the person who performed the work may not also verify or approve it."""
    if performer is not None and performer.pk == second.pk:
        raise SignatureRefused(
            f"the performer cannot {action} their own work; a second person must sign",
            field="meaning",
        )


def performer_of(record: models.Model) -> User | None:
    """Who performed the work: the record's `performed_by`, else the 'performed' signer."""
    performer = getattr(record, "performed_by", None)
    if isinstance(performer, User):
        return performer
    record_type, record_id = record_ref(record)
    sig = (
        Signature.objects.filter(record_type=record_type, record_id=record_id, meaning="performed")
        .select_related("signer")
        .first()
    )
    return sig.signer if sig else None
