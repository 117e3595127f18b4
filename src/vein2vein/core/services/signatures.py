"""Applying an e-signature: password re-entry, meaning, role, four eyes, bound to a content hash."""

from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import authenticate
from django.db import models, transaction
from django.http import HttpRequest

from .. import audit
from ..choices import SECOND_PERSON_MEANINGS, Role, SignatureMeaning
from ..errors import PermissionRefused, SignatureRefused, ValidationFailed
from ..models import Signature, User
from ..permissions import SIGNING_ROLES, active_roles, can_sign
from ..signing import (
    performer_of,
    record_content_hash,
    record_site,
    record_zone,
    require_second_person,
)
from ..time import now
from ..transactions import in_service_transaction as _in_service_transaction
from . import _validate


def _console_request() -> HttpRequest:
    """A stand-in request for signatures made outside the web (lockout needs one)."""
    request = HttpRequest()
    request.META["REMOTE_ADDR"] = "127.0.0.1"
    request.META["HTTP_USER_AGENT"] = "vein2vein-service"
    request.path = "/sign"
    request.method = "POST"
    return request


def check_password_for_signing(user: User, password: str, request: HttpRequest | None) -> None:
    """Re-authenticate the signer. A wrong password counts toward the account's lockout.

    Call it before opening the transaction that applies the signature: inside one, the record
    of a failed attempt would be rolled back with the refusal and never count toward lockout.
    """
    if _in_service_transaction():
        raise RuntimeError(
            "check_password_for_signing must run outside transaction.atomic(), "
            "or failed attempts are rolled back and never lock the account"
        )
    req = request if request is not None else _console_request()
    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(req, credentials):
        raise SignatureRefused(
            "the account is locked after repeated failures; ask an administrator"
        )
    if not isinstance(password, str) or not password:
        raise ValidationFailed("password is required to sign", field="password")
    authenticated = authenticate(req, username=user.get_username(), password=password)
    if authenticated is None or authenticated.pk != user.pk:
        if getattr(req, "axes_locked_out", False) or AxesProxyHandler.is_locked(req, credentials):
            raise SignatureRefused(
                "password is incorrect; the account is now locked", field="password"
            )
        raise SignatureRefused("password is incorrect", field="password")


def _meaning(meaning: str) -> SignatureMeaning:
    if meaning not in SignatureMeaning.values:
        raise ValidationFailed(
            f"meaning must be one of: {', '.join(SignatureMeaning.values)}", field="meaning"
        )
    return SignatureMeaning(meaning)


def _signing_roles(meaning: SignatureMeaning, record: models.Model) -> frozenset[str] | None:
    """The roles a record's own workflow lets sign `meaning` (a model's `SIGNING_ROLES`, e.g. a
    material lot released by QC or QA), or None for the general map."""
    own = getattr(type(record), "SIGNING_ROLES", None)
    if own is not None and meaning in own:
        return frozenset(own[meaning]) - {Role.ADMIN, Role.INSPECTOR}
    return None


def _require_signing_role(actor: User, meaning: SignatureMeaning, record: models.Model) -> None:
    site = record_site(record)
    own = _signing_roles(meaning, record)
    allowed_here = (
        bool(active_roles(actor, site) & own) if own is not None else can_sign(actor, meaning, site)
    )
    if not allowed_here:
        where = f" at {site.code}" if site else ""
        allowed = ", ".join(sorted(own if own is not None else SIGNING_ROLES[meaning]))
        raise PermissionRefused(
            f"signing as '{meaning}' needs one of these roles{where}: {allowed}"
        )


def apply_signature(
    *,
    actor: User,
    record: models.Model,
    meaning: str,
    reason: str = "",
    performed_by: User | None = None,
) -> Signature:
    """Apply a signature whose password was already checked, inside the caller's transaction.

    For services whose step *is* a signature (close a deviation, approve a document): they call
    `check_password_for_signing` first, then open their transaction, change the record, and
    call this, so the signature covers the record as it stands after the change.
    """
    if not _in_service_transaction():
        raise RuntimeError("apply_signature must run inside the caller's transaction.atomic()")
    sig_meaning = _meaning(meaning)
    _require_signing_role(actor, sig_meaning, record)
    why = _validate.text(reason, "reason", max_length=2000, required=False)
    # Lock and re-read the record: the hash must cover what is stored, not a stale copy.
    record = type(record)._default_manager.select_for_update().get(pk=record.pk)
    if sig_meaning in SECOND_PERSON_MEANINGS:
        require_second_person(
            performer=performed_by or performer_of(record), second=actor, action=meaning
        )
    digest = record_content_hash(record)
    record_type, record_id = audit.record_ref(record)
    if Signature.objects.filter(
        record_type=record_type,
        record_id=record_id,
        signer=actor,
        meaning=sig_meaning,
        content_hash=digest,
    ).exists():
        raise ValidationFailed(
            f"you have already signed this record as '{meaning}'", field="meaning"
        )
    signature = Signature.objects.create(
        signer=actor,
        signer_name=actor.printed_name,
        meaning=sig_meaning,
        record_type=record_type,
        record_id=record_id,
        content_hash=digest,
        signed_at=now(),
        time_zone=record_zone(record),
        reason=why,
    )
    audit.append_event(
        actor=actor,
        action=f"signature.{sig_meaning.value}",
        record=record,
        changes={
            "signature": {"old": None, "new": signature.pk},
            "meaning": {"old": None, "new": sig_meaning.value},
            "content_hash": {"old": None, "new": digest},
        },
        reason=why,
    )
    return signature


def sign_record(
    *,
    actor: User,
    record: models.Model,
    meaning: str,
    password: str,
    reason: str = "",
    request: HttpRequest | None = None,
    performed_by: User | None = None,
) -> Signature:
    """Sign `record` with `meaning`. The signature stores a SHA-256 of the signed content, so
    a later change to the record shows the signature as no longer valid.

    A record whose signatures belong to its own workflow (a document's review and approval)
    declares `GENERIC_SIGNATURE_MEANINGS`, the meanings this general path may add to it.
    """
    sig_meaning = _meaning(meaning)
    allowed = getattr(type(record), "GENERIC_SIGNATURE_MEANINGS", None)
    if allowed is not None and sig_meaning not in allowed:
        raise ValidationFailed(
            f"a {record._meta.verbose_name} is signed as '{meaning}' only through its own "
            "workflow step",
            field="meaning",
        )
    _require_signing_role(actor, sig_meaning, record)
    _validate.text(reason, "reason", max_length=2000, required=False)
    check_password_for_signing(actor, password, request)
    with transaction.atomic():
        return apply_signature(
            actor=actor, record=record, meaning=meaning, reason=reason, performed_by=performed_by
        )
