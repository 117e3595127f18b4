"""Reading e-signatures: the content a signature binds, validity, manifestation, four eyes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.apps import apps
from django.conf import settings
from django.db import models

from vein2vein.standards.audit_chain import content_hash

from .audit import jsonable, record_ref
from .choices import SignatureMeaning
from .errors import NotFound, SignatureRefused, ValidationFailed
from .models import Signature, Site, User
from .time import format_in_zone

_SKIPPED_FIELDS = {"updated_at"}

M = TypeVar("M", bound=type[models.Model])


@dataclass(frozen=True)
class Signable:
    """How a model is signed: the allow-list entry without which nothing signs it.

    `meanings` are every meaning a signature on it may carry (its workflow's and the general
    route's); `general` those the general route (the Sign… dialog, POST /api/v1/signatures)
    may add; `site_of` finds the site whose roles decide who may sign (None: a record shared
    by every site); `performer_of` finds who did the work, which a second-person meaning needs.
    """

    record_type: str
    meanings: frozenset[str]
    general: frozenset[str]
    site_of: Callable[[Any], Site | None]
    performer_of: Callable[[Any], User | None]


_SIGNABLE: dict[str, Signable] = {}


def signable(
    *,
    meanings: Iterable[str],
    site: Callable[[Any], Site | None],
    performer: Callable[[Any], User | None],
    general: Iterable[str] = (),
) -> Callable[[M], M]:
    """Register a model as signable (class decorator on the model)."""

    def register(model: M) -> M:
        record_type = f"{model._meta.app_label}.{model._meta.model_name}"
        allowed = frozenset(str(m) for m in meanings)
        also = frozenset(str(m) for m in general)
        if not also <= allowed:
            raise ValueError(f"{record_type}: general meanings must be among its meanings")
        _SIGNABLE[record_type] = Signable(record_type, allowed, also, site, performer)
        return model

    return register


def signable_types() -> dict[str, Signable]:
    return dict(_SIGNABLE)


def signable_entry(record: models.Model | str) -> Signable:
    """The allow-list entry of a record (or 'app_label.model'); refused when it has none."""
    record_type = (
        record if isinstance(record, str) else f"{record._meta.app_label}.{record._meta.model_name}"
    )
    entry = _SIGNABLE.get(record_type)
    if entry is None:
        raise ValidationFailed(
            f"record_type {record_type!r} is not a signable record", field="record_type"
        )
    return entry


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


def resolve_signable(record_type: str, record_id: str) -> models.Model:
    """The record the general signing route names, only when its type is on the allow-list."""
    signable_entry(record_type)
    return resolve_record(record_type, record_id)


def record_site(record: models.Model) -> Site | None:
    """The site whose roles govern signing `record`: its registered `site_of`, else its
    `site`."""
    entry = _SIGNABLE.get(f"{record._meta.app_label}.{record._meta.model_name}")
    if entry is not None:
        return entry.site_of(record)
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
    """Four eyes: the person who performed the work may not also verify or approve it, and a
    second-person signature is refused while who performed it is unknown."""
    if performer is None:
        raise SignatureRefused(
            f"who performed this work is not recorded, so no one can {action} it as a second "
            "person",
            field="meaning",
        )
    if performer.pk == second.pk:
        raise SignatureRefused(
            f"the performer cannot {action} their own work; a second person must sign",
            field="meaning",
        )


def performed_signer(record: models.Model) -> User | None:
    """Who signed `record` as 'performed', if anyone did."""
    record_type, record_id = record_ref(record)
    sig = (
        Signature.objects.filter(record_type=record_type, record_id=record_id, meaning="performed")
        .select_related("signer")
        .first()
    )
    return sig.signer if sig else None


def performer_of(record: models.Model) -> User | None:
    """Who performed the work: the registered `performer_of`, else the 'performed' signer."""
    entry = _SIGNABLE.get(f"{record._meta.app_label}.{record._meta.model_name}")
    performer = entry.performer_of(record) if entry is not None else None
    return performer if isinstance(performer, User) else performed_signer(record)


def last_editor(record: models.Model) -> User | None:
    """Who last changed `record`, by its audit trail: the performer of a change under review."""
    from .models import AuditEvent

    record_type, record_id = record_ref(record)
    event = (
        AuditEvent.objects.filter(record_type=record_type, record_id=record_id)
        .exclude(action__startswith="signature.")
        .select_related("actor")
        .order_by("-seq")
        .first()
    )
    return event.actor if event is not None else None


# A site's master data is the general route's own record: any meaning, by roles held there,
# except an exceptional release, which only a batch's disposition carries (release app).
_SITE_MEANINGS = [m for m in SignatureMeaning.values if m != SignatureMeaning.EXCEPTIONAL_RELEASE]
signable(
    meanings=_SITE_MEANINGS,
    general=_SITE_MEANINGS,
    site=lambda site: site,
    performer=lambda site: performed_signer(site) or last_editor(site),
)(Site)
