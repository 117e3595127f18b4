"""The QA disposition of a batch: release, reject or quarantine hold, each signed, never
overwritten. Release only when the batch is ready; an exceptional release of an
out-of-specification product only on the treating physician's documented request, with a QA
justification, its own signature meaning and a notice for the clinical site."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.http import HttpRequest

from vein2vein.chain.choices import OrderStatus
from vein2vein.chain.services import advance_order
from vein2vein.core import audit
from vein2vein.core.choices import SignatureMeaning
from vein2vein.core.errors import (
    Conflict,
    InterlockBlocked,
    NotFound,
    SignatureRefused,
    ValidationFailed,
)
from vein2vein.core.files import check_pdf, delete_orphan
from vein2vein.core.models import User
from vein2vein.core.permissions import require
from vein2vein.core.services import _validate, apply_signature, check_password_for_signing
from vein2vein.core.time import now
from vein2vein.manufacturing.models import Batch, StepEntry
from vein2vein.manufacturing.selectors import record_sha256

from .. import selectors
from ..choices import Decision
from ..models import ClinicalNotice, Disposition
from ..permissions import RelPerm

ACTION = "release.disposition"

MEANINGS: dict[str, SignatureMeaning] = {
    Decision.RELEASE: SignatureMeaning.RELEASED,
    Decision.REJECT: SignatureMeaning.REJECTED,
    Decision.HOLD: SignatureMeaning.APPROVED,
}


def _batch(batch_id: object) -> Batch:
    pk = _validate.record_id(batch_id, "batch_id")
    b = Batch.objects.select_related("site", "order", "master_record").filter(pk=pk).first()
    if b is None:
        raise NotFound(f"batch {batch_id} does not exist", field="batch_id")
    return b


def _involved(b: Batch, actor: User) -> bool:
    """Whether `actor` started the batch, or performed or verified any entry of it."""
    return (
        b.started_by_id == actor.pk
        or StepEntry.objects.filter(batch=b, performed_by=actor).exists()
        or StepEntry.objects.filter(batch=b, verified_by=actor).exists()
    )


def _allowed(b: Batch, decision: str) -> Disposition | None:
    current = selectors.current_disposition(b.pk)
    if decision not in selectors.allowed_decisions(current):
        assert current is not None
        raise Conflict(
            f"batch {b.number} is {current.get_decision_display().lower()}: that decision is "
            f"final; it cannot be {Decision(decision).label.lower()} now",
            field="decision",
        )
    return current


def _physician(
    name: object, requested_at: object, reference: object
) -> tuple[str, dt.datetime, str]:
    who = _validate.text(name, "physician_name", max_length=150)
    if requested_at in (None, ""):
        raise ValidationFailed(
            "physician_requested_at is required: when the physician asked",
            field="physician_requested_at",
        )
    when = _validate.moment(requested_at, "physician_requested_at")
    ref = _validate.text(reference, "physician_reference", max_length=200)
    return who, when, ref


def _refuse(actor: User, b: Batch, message: str, field: str) -> InterlockBlocked:
    audit.record_blocked_attempt(actor=actor, action=ACTION, record=b, reason=message)
    return InterlockBlocked(message, field=field)


def _not_ready(r: selectors.Readiness) -> str:
    return "; ".join(f"{i.title}: {i.detail}" for i in r.missing)


def dispose(
    *,
    actor: User,
    batch_id: int,
    decision: str,
    reason: str,
    password: str,
    exceptional: bool = False,
    physician_name: str = "",
    physician_requested_at: object = None,
    physician_reference: str = "",
    physician_file: object = None,
    request: HttpRequest | None = None,
) -> Disposition:
    """Record QA's signed decision on a reviewed batch.

    Release: refused unless every readiness item is met; with `exceptional`, an
    out-of-specification product whose only unmet item is its release testing (no result
    missing or unreviewed), on the physician's request (who, when, reference, optionally the
    request as a PDF), signed as 'exceptional_release', with a notice for the ordering site.
    Reject: final; the order is rejected and the product can never ship. Hold: quarantine,
    to be followed by release or reject. Nobody who started the batch or performed or verified
    a step of it may dispose of it.
    """
    b = _batch(batch_id)
    require(actor, RelPerm.DISPOSE, b.site)
    what = _validate.choice(decision, "decision", Decision.values)
    why = _validate.text(reason, "reason", max_length=4000)
    if not isinstance(exceptional, bool):
        raise ValidationFailed("exceptional must be true or false", field="exceptional")
    if exceptional and what != Decision.RELEASE:
        raise ValidationFailed("only a release can be exceptional", field="exceptional")
    request_of: tuple[str, dt.datetime, str] | None = None
    if exceptional:
        request_of = _physician(physician_name, physician_requested_at, physician_reference)
    elif physician_name or physician_requested_at or physician_reference or physician_file:
        raise ValidationFailed(
            "a physician's request belongs to an exceptional release only", field="exceptional"
        )
    checked = check_pdf(physician_file) if physician_file is not None else None
    if _involved(b, actor):
        raise SignatureRefused(
            f"you started, performed or verified steps of {b.number}: a different QA approver "
            "must dispose of it",
            field="password",
        )
    _allowed(b, what)
    ready = selectors.readiness(b.pk)
    if what == Decision.RELEASE:
        _check_release(actor, b, ready, exceptional)
    proof = check_password_for_signing(actor, password, request)
    stored = ""
    try:
        with transaction.atomic():
            locked = Batch.objects.select_for_update(no_key=True, of=("self",)).get(pk=b.pk)
            current = _allowed(locked, what)
            ready = selectors.readiness(b.pk)
            if what == Decision.RELEASE:
                _recheck(b, ready, exceptional)
            d = Disposition(
                batch=b,
                decision=what,
                follows=current,
                exceptional=exceptional,
                reason=why,
                readiness=ready.snapshot(),
                record_sha256=record_sha256(b),
                decided_by=actor,
                decided_at=now(),
            )
            if request_of is not None:
                d.physician_name, d.physician_requested_at, d.physician_reference = request_of
            if checked is not None:
                d.physician_file_name = checked.original_name
                d.physician_file_sha256 = checked.sha256
                d.physician_file.save(checked.stored_name, physician_file, save=False)
                stored = d.physician_file.name or ""
            d.save(force_insert=True)
            audit.append_event(
                actor=actor,
                action=f"{ACTION}.{what}",
                record=d,
                changes=audit.created(audit.snapshot(d, Disposition.RECORD_FIELDS)),
                reason=why,
            )
            meaning = SignatureMeaning.EXCEPTIONAL_RELEASE if exceptional else MEANINGS[what]
            apply_signature(proof=proof, actor=actor, record=d, meaning=meaning, reason=why)
            if exceptional:
                _notice(actor, b, d, ready)
            _advance(actor, b, what, why)
    except BaseException:
        if stored:
            delete_orphan(stored)
        raise
    return d


def _check_release(actor: User, b: Batch, ready: selectors.Readiness, exceptional: bool) -> None:
    if exceptional:
        if ready.ready:
            raise Conflict(
                f"batch {b.number} is within specification and ready: release it normally, "
                "not as an exceptional release",
                field="exceptional",
            )
        if not ready.out_of_spec_only:
            raise _refuse(
                actor,
                b,
                f"batch {b.number} cannot be released even exceptionally: an exceptional "
                f"release covers out-of-specification results only. {_not_ready(ready)}",
                "batch_id",
            )
        return
    if not ready.ready:
        raise _refuse(
            actor, b, f"batch {b.number} is not ready for release: {_not_ready(ready)}", "batch_id"
        )


def _recheck(b: Batch, ready: selectors.Readiness, exceptional: bool) -> None:
    """The same check under the batch's lock: something may have changed since."""
    ok = ready.out_of_spec_only if exceptional else ready.ready
    if not ok:
        raise Conflict(
            f"batch {b.number} changed while you signed: {_not_ready(ready)}", field="batch_id"
        )


def _notice(actor: User, b: Batch, d: Disposition, ready: selectors.Readiness) -> None:
    """The record the clinical site sees: what is out of specification and on whose request."""
    site = b.order.ordering_site if b.order is not None else b.site
    tests = ready.item("release_testing").detail
    when = d.physician_requested_at
    text = (
        f"Batch {b.number} (COI {b.coi or b.donor_lot}) is released exceptionally, out of "
        f"specification: {tests}. Released on the request of the treating physician "
        f"{d.physician_name} of {when:%Y-%m-%d %H:%M} UTC (reference {d.physician_reference}). "
        f"QA justification: {d.reason}"
    )
    n = ClinicalNotice.objects.create(
        disposition=d, site=site, batch=b, text=text, created_at=now()
    )
    audit.append_event(
        actor=actor,
        action="release.notice.recorded",
        record=n,
        changes=audit.created(audit.snapshot(n, ClinicalNotice.RECORD_FIELDS)),
    )


def _advance(actor: User, b: Batch, what: str, why: str) -> None:
    o = b.order
    if o is None:
        return
    if what == Decision.RELEASE and o.status == OrderStatus.IN_QC:
        advance_order(
            actor=actor,
            order_id=o.pk,
            to_status=OrderStatus.RELEASED,
            reason=f"batch {b.number} released by QA",
        )
    elif what == Decision.REJECT and o.status in {OrderStatus.IN_QC, OrderStatus.IN_MANUFACTURING}:
        advance_order(
            actor=actor,
            order_id=o.pk,
            to_status=OrderStatus.REJECTED,
            reason=f"batch {b.number} rejected by QA: {why}",
        )


__all__ = ["dispose"]
