"""Applying an e-signature: password re-entry, meaning, role, four eyes, bound to a content hash."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

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
    signable_entry,
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


# Only this module holds the seal, so only check_password_for_signing can make a proof.
_PROOF_SEAL = object()
# A proof is spent on the signature(s) of one user action, not kept for later.
PROOF_LIFETIME = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class PasswordProof:
    """That `user_id` re-entered their password at `checked_at` (21 CFR 11.200(a)).

    `apply_signature` requires one for its signer, so no caller can apply a signature without
    the password check having run first.
    """

    user_id: int
    checked_at: dt.datetime
    _seal: object = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._seal is not _PROOF_SEAL:
            raise RuntimeError("a PasswordProof is made only by check_password_for_signing")


def check_password_for_signing(
    user: User, password: str, request: HttpRequest | None
) -> PasswordProof:
    """Re-authenticate the signer; the proof it returns is what `apply_signature` requires.

    A wrong password counts toward the account's lockout. Call it before opening the
    transaction that applies the signature: inside one, the record of a failed attempt would be
    rolled back with the refusal and never count toward lockout.
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
    return PasswordProof(user_id=user.pk, checked_at=now(), _seal=_PROOF_SEAL)


def _require_proof(proof: object, actor: User) -> None:
    """A programming error, not a user's: a signature without its own signer's password check."""
    if not isinstance(proof, PasswordProof) or proof._seal is not _PROOF_SEAL:
        raise RuntimeError("apply_signature needs the proof from check_password_for_signing")
    if proof.user_id != actor.pk:
        raise RuntimeError("the password proof belongs to another user than the signer")
    if now() - proof.checked_at > PROOF_LIFETIME:
        raise RuntimeError("the password proof has expired: check the password again")


def _meaning(meaning: str) -> SignatureMeaning:
    if meaning not in SignatureMeaning.values:
        raise ValidationFailed(
            f"meaning must be one of: {', '.join(SignatureMeaning.values)}", field="meaning"
        )
    return SignatureMeaning(meaning)


def _require_registered_meaning(record: models.Model, meaning: SignatureMeaning) -> None:
    entry = signable_entry(record)
    if meaning not in entry.meanings:
        raise ValidationFailed(
            f"a {record._meta.verbose_name} is not signed as '{meaning}'; it is signed as: "
            f"{', '.join(sorted(entry.meanings))}",
            field="meaning",
        )


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
    proof: PasswordProof,
    actor: User,
    record: models.Model,
    meaning: str,
    reason: str = "",
    performed_by: User | None = None,
) -> Signature:
    """Apply a signature inside the caller's transaction, given the signer's password proof.

    For services whose step *is* a signature (close a deviation, approve a document): they call
    `check_password_for_signing` first, then open their transaction, change the record, and
    call this, so the signature covers the record as it stands after the change.
    """
    _require_proof(proof, actor)
    if not _in_service_transaction():
        raise RuntimeError("apply_signature must run inside the caller's transaction.atomic()")
    sig_meaning = _meaning(meaning)
    _require_registered_meaning(record, sig_meaning)
    _require_signing_role(actor, sig_meaning, record)
    why = _validate.text(reason, "reason", max_length=2000, required=False)
    # Lock and re-read the record: the hash must cover what is stored, not a stale copy.
    record = (
        type(record)._default_manager.select_for_update(no_key=True, of=("self",)).get(pk=record.pk)
    )
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
            # The row's own fields, so verify can tell an edited Signature row (ADR 0002).
            "signer_name": {"old": None, "new": signature.signer_name},
            "signed_at": {"old": None, "new": signature.signed_at},
            "time_zone": {"old": None, "new": signature.time_zone},
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
    """Sign `record` with `meaning` through the general route. The signature stores a SHA-256
    of the signed content, so a later change to the record shows the signature as no longer
    valid.

    Only a model registered with `core.signing.signable` is signed, and only with its
    `general` meanings; a record whose signatures belong to its own workflow (a document's
    review and approval) is signed through that workflow's service.
    """
    sig_meaning = _meaning(meaning)
    if sig_meaning not in signable_entry(record).general:
        raise ValidationFailed(
            f"a {record._meta.verbose_name} is signed as '{meaning}' only through its own "
            "workflow step",
            field="meaning",
        )
    _require_signing_role(actor, sig_meaning, record)
    _validate.text(reason, "reason", max_length=2000, required=False)
    proof = check_password_for_signing(actor, password, request)
    with transaction.atomic():
        return apply_signature(
            proof=proof,
            actor=actor,
            record=record,
            meaning=meaning,
            reason=reason,
            performed_by=performed_by,
        )
