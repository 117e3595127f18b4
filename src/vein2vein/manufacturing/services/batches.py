"""A batch's life: start for an order (autologous) or a donor lot (allogeneic), hold and
resume with a reason, complete when every step is done, abort with a QA signature, and the
QA review by exception that sends it to disposition."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from vein2vein.chain.choices import OrderStatus
from vein2vein.chain.models import TherapyOrder
from vein2vein.chain.selectors import receipt_hold
from vein2vein.chain.services import advance_order
from vein2vein.core import audit, numbering
from vein2vein.core.choices import SignatureMeaning
from vein2vein.core.errors import (
    Conflict,
    InterlockBlocked,
    NotFound,
    PermissionRefused,
    SignatureRefused,
    ValidationFailed,
)
from vein2vein.core.files import stored_sha256
from vein2vein.core.models import User
from vein2vein.core.permissions import require
from vein2vein.core.services import apply_signature, check_password_for_signing
from vein2vein.core.time import now
from vein2vein.documents.choices import VersionStatus
from vein2vein.documents.services import record_file_integrity_failure
from vein2vein.equipment.models import Usage
from vein2vein.equipment.services import end_usage

from .. import mbr
from ..choices import (
    BATCH_ACTIONS,
    BATCH_TRANSITIONS,
    BatchAction,
    BatchStatus,
    EntryStatus,
    batch_action_allowed,
)
from ..models import Batch, MasterRecord, StepEntry
from ..permissions import MfgPerm
from . import _common as c
from .master_records import effective_master_record

BATCH_REF = "manufacturing.batch"


def _allow(b: Batch, action: str) -> None:
    """Refuse (409) an action the batch's status does not allow (choices.BATCH_ACTIONS, the
    table the batch page reads too); a status change must also be a BATCH_TRANSITIONS edge."""
    to = BATCH_ACTIONS[action][1]
    if not batch_action_allowed(b.status, action) or (
        to is not None and to not in BATCH_TRANSITIONS[b.status]
    ):
        label = BatchAction(action).label.lower()
        raise Conflict(
            f"batch {b.number} is {b.get_status_display().lower()}: it cannot be {label}"
            if to is None
            else f"batch {b.number} is {b.get_status_display().lower()}: it cannot become "
            f"{BatchStatus(to).label.lower()}",
            field="batch_id",
        )


def _master_record(
    actor: User, master_record_id: object, order: TherapyOrder | None
) -> MasterRecord:
    """The approved, effective master record to run; anything else is refused (interlock)."""
    if master_record_id not in (None, ""):
        mr = (
            MasterRecord.objects.select_related("document_version", "product")
            .filter(pk=c.record_id(master_record_id, "master_record_id"))
            .first()
        )
        if mr is None:
            raise NotFound(
                f"master record {master_record_id} does not exist", field="master_record_id"
            )
    elif order is not None:
        found = effective_master_record(order.product)
        if found is None:
            raise Conflict(
                f"product {order.product.code} has no effective master batch record: an "
                "approved MBR must be effective before a batch starts",
                field="master_record_id",
            )
        mr = found
    else:
        raise ValidationFailed(
            "master_record_id is required for a donor lot", field="master_record_id"
        )
    return mr


def _check_runnable(actor: User, mr: MasterRecord, order: TherapyOrder | None) -> str | None:
    """Why this master record may not start a batch, or None."""
    version = mr.document_version
    if version.status != VersionStatus.EFFECTIVE:
        return (
            f"{version} is {version.get_status_display().lower()}, not effective: only an "
            "approved, effective master batch record starts a batch"
        )
    if mr.file_sha256 != version.file_sha256:
        return f"the master record of {version} does not match the approved file"
    if order is not None and order.product_id != mr.product_id:
        return (
            f"{version} is for product {mr.product.code}; order {order.coi} is for "
            f"{order.product.code}"
        )
    return None


def start_batch(
    *,
    actor: User,
    order_id: int | None = None,
    donor_lot: str = "",
    master_record_id: int | None = None,
    site_id: int | None = None,
    started_at: object = None,
) -> Batch:
    """Start a batch of an effective MBR: for a received order (its COI identifier on the
    batch; the order moves into manufacturing, stopping its stability clock) or, allogeneic,
    for a donor lot at a site. `started_at` states an earlier start for a late entry (not
    before the material was received, never in the future); the review lists it as late."""
    order: TherapyOrder | None = None
    lot_text = c.text(donor_lot, "donor_lot", max_length=60, required=False)
    if order_id is not None:
        order = (
            TherapyOrder.objects.select_related("product", "manufacturing_site", "patient")
            .filter(pk=c.record_id(order_id, "order_id"))
            .first()
        )
        if order is None:
            raise NotFound(f"order {order_id} does not exist", field="order_id")
        site = order.manufacturing_site
    else:
        if not lot_text:
            raise ValidationFailed("order_id or donor_lot is required", field="order_id")
        from vein2vein.chain.services._common import site as site_of

        site = site_of(site_id)
    require(actor, MfgPerm.BATCH_START, site)
    mr = _master_record(actor, master_record_id, order)
    if order is not None and not mr.product.autologous:
        pass  # an allogeneic product may still be made for a named patient's order
    if order is None and mr.product.autologous:
        raise ValidationFailed(
            f"{mr.product.code} is autologous: start its batch from the patient's order",
            field="order_id",
        )
    if order is not None and order.status != OrderStatus.RECEIVED:
        raise Conflict(
            f"order {order.coi} is {order.get_status_display().lower()}: a batch starts from "
            "received, accepted material",
            field="order_id",
        )
    if order is not None and Batch.objects.filter(order=order).exists():
        raise Conflict(f"order {order.coi} already has a batch", field="order_id")
    record: Any = order if order is not None else ("manufacturing.masterrecord", str(mr.pk))
    # Interlock: material received outside its temperature range waits in quarantine for QA.
    held = receipt_hold(order) if order is not None else None
    if held is not None:
        audit.record_blocked_attempt(
            actor=actor, action="manufacturing.batch.start", record=record, reason=held
        )
        raise InterlockBlocked(held, field="order_id")
    why_not = _check_runnable(actor, mr, order)
    if why_not is not None:
        audit.record_blocked_attempt(
            actor=actor, action="manufacturing.batch.start", record=record, reason=why_not
        )
        raise InterlockBlocked(why_not, field="master_record_id")
    if stored_sha256(mr.document_version.file.name) != mr.file_sha256:
        record_file_integrity_failure(actor=actor, version=mr.document_version)
        raise Conflict(
            f"the stored file of {mr.document_version} no longer matches its SHA-256: no batch "
            "starts from it. Report it to QA.",
            field="master_record_id",
        )
    started = _start_time(order, started_at)
    with transaction.atomic():
        # B-MFG-PHL-2026-0001: a count per site and year, the year of the start at the site.
        year, n = numbering.allocate("B", site=site, yearly=True, scope=site.code, at=started)
        number = f"B-{site.code}-{year}-{n:04d}"
        if order is not None and Batch.objects.filter(order=order).exists():
            raise Conflict(f"order {order.coi} already has a batch", field="order_id")
        b = Batch.objects.create(
            number=number,
            master_record=mr,
            site=site,
            order=order,
            donor_lot=lot_text,
            coi=order.coi if order is not None else "",
            status=BatchStatus.IN_PROGRESS,
            started_by=actor,
            started_at=started,
            recorded_at=now(),
        )
        audit.append_event(
            actor=actor,
            action="manufacturing.batch.started",
            record=b,
            changes=audit.created(audit.snapshot(b, Batch.RECORD_FIELDS)),
        )
        if order is not None:
            advance_order(
                actor=actor,
                order_id=order.pk,
                to_status=OrderStatus.IN_MANUFACTURING,
                reason=f"batch {number} started ({mr.document_version})",
                custodian=actor.printed_name,
                location=f"{site.code} manufacturing",
                occurred_at=started,
            )
    return b


def _start_time(order: TherapyOrder | None, value: object) -> dt.datetime:
    if value in (None, ""):
        return now()
    when = c.moment(value, "started_at", not_after=now())
    receipt = getattr(order, "receipt", None) if order is not None else None
    if receipt is not None and when < receipt.received_at:
        raise ValidationFailed(
            f"started_at {c.utc(when)} is before the material was received "
            f"({c.utc(receipt.received_at)})",
            field="started_at",
        )
    return when


def _set_status(b: Batch, *, actor: User, to: str, action: str, why: str, **extra: Any) -> None:
    before = audit.snapshot(b, ("status", *extra))
    b.status = to
    for key, value in extra.items():
        setattr(b, key, value)
    b.save(update_fields=["status", *extra])
    audit.append_event(
        actor=actor,
        action=action,
        record=b,
        changes=audit.diff(before, audit.snapshot(b, ("status", *extra))),
        reason=why,
    )


def hold_batch(*, actor: User, batch_id: int, reason: str) -> Batch:
    """Stop execution with a reason; no step is recorded until it resumes."""
    found = c.batch(batch_id)
    require(actor, MfgPerm.BATCH_HOLD, found.site)
    why = c.reason(reason)
    with transaction.atomic():
        b = c.locked_batch(found.pk)
        _allow(b, BatchAction.HOLD)
        _set_status(
            b,
            actor=actor,
            to=BatchStatus.ON_HOLD,
            action="manufacturing.batch.held",
            why=why,
            hold_reason=why,
        )
    return b


def resume_batch(*, actor: User, batch_id: int, reason: str) -> Batch:
    found = c.batch(batch_id)
    require(actor, MfgPerm.BATCH_HOLD, found.site)
    why = c.reason(reason)
    with transaction.atomic():
        b = c.locked_batch(found.pk)
        _allow(b, BatchAction.RESUME)
        _set_status(
            b,
            actor=actor,
            to=BatchStatus.IN_PROGRESS,
            action="manufacturing.batch.resumed",
            why=why,
            hold_reason="",
        )
    return b


def open_steps(b: Batch) -> list[str]:
    """Keys of the MBR's steps that have no current, completed entry."""
    done = set(
        StepEntry.objects.filter(batch=b, status=EntryStatus.DONE).values_list(
            "step_key", flat=True
        )
    )
    return [s["key"] for s in mbr.steps(b.master_record.definition) if s["key"] not in done]


def _end_open_usages(b: Batch, actor: User) -> None:
    for usage in Usage.objects.filter(
        batch_type=BATCH_REF, batch_id=str(b.pk), ended_at__isnull=True
    ).order_by("pk"):
        end_usage(actor=actor, usage_id=usage.pk, releasing_batch=True)


def complete_batch(*, actor: User, batch_id: int) -> Batch:
    """Close execution once every step is done (and verified where the step needs it); the
    order moves to QC and the batch waits for QA review."""
    found = c.batch(batch_id)
    require(actor, MfgPerm.STEP_EXECUTE, found.site)
    with transaction.atomic():
        b = c.locked_batch(found.pk)
        _allow(b, BatchAction.COMPLETE)
        remaining = open_steps(b)
        if remaining:
            shown = ", ".join(remaining[:5]) + (" …" if len(remaining) > 5 else "")
            raise Conflict(
                f"batch {b.number} has {len(remaining)} step(s) not done or not verified: {shown}",
                field="batch_id",
            )
        _end_open_usages(b, actor)
        _set_status(
            b,
            actor=actor,
            to=BatchStatus.COMPLETED,
            action="manufacturing.batch.completed",
            why="",
            completed_at=now(),
        )
        if b.order is not None and b.order.status == OrderStatus.IN_MANUFACTURING:
            advance_order(
                actor=actor,
                order_id=b.order.pk,
                to_status=OrderStatus.IN_QC,
                reason=f"batch {b.number} completed; awaiting QC results and QA review",
            )
    return b


def abort_batch(
    *,
    actor: User,
    batch_id: int,
    reason: str,
    password: str,
    request: HttpRequest | None = None,
) -> Batch:
    """End a batch that cannot be finished: a QA approver signs (password re-entry) with the
    reason. The order is rejected: its material will not become product."""
    found = c.batch(batch_id)
    require(actor, MfgPerm.BATCH_ABORT, found.site)
    why = c.reason(reason)
    _allow(found, BatchAction.ABORT)
    proof = check_password_for_signing(actor, password, request)
    with transaction.atomic():
        b = c.locked_batch(found.pk)
        _allow(b, BatchAction.ABORT)
        _end_open_usages(b, actor)
        _set_status(
            b,
            actor=actor,
            to=BatchStatus.ABORTED,
            action="manufacturing.batch.aborted",
            why=why,
            aborted_at=now(),
            abort_reason=why,
        )
        apply_signature(
            proof=proof, actor=actor, record=b, meaning=SignatureMeaning.APPROVED, reason=why
        )
        if b.order is not None and b.order.status in {
            OrderStatus.IN_MANUFACTURING,
            OrderStatus.IN_QC,
        }:
            advance_order(
                actor=actor,
                order_id=b.order.pk,
                to_status=OrderStatus.REJECTED,
                reason=f"batch {b.number} aborted: {why}",
            )
    return b


def review_batch(
    *,
    actor: User,
    batch_id: int,
    password: str,
    comment: str = "",
    request: HttpRequest | None = None,
) -> Batch:
    """QA signs the review by exception of a completed batch ('reviewed'); nobody who performed
    or verified a step of it may review it. The batch then goes to disposition."""
    found = c.batch(batch_id)
    require(actor, MfgPerm.BATCH_REVIEW, found.site)
    note = c.text(comment, "comment", max_length=4000, required=False)
    _allow(found, BatchAction.REVIEW)
    involved = (
        StepEntry.objects.filter(batch=found).filter(performed_by=actor).exists()
        or StepEntry.objects.filter(batch=found, verified_by=actor).exists()
    )
    if involved:
        raise SignatureRefused(
            f"you performed or verified steps of {found.number}: a different person must review it",
            field="password",
        )
    proof = check_password_for_signing(actor, password, request)
    with transaction.atomic():
        b = c.locked_batch(found.pk)
        _allow(b, BatchAction.REVIEW)
        _set_status(
            b,
            actor=actor,
            to=BatchStatus.REVIEWED,
            action="manufacturing.batch.reviewed",
            why=note,
            reviewed_at=now(),
            review_comment=note,
        )
        apply_signature(
            proof=proof, actor=actor, record=b, meaning=SignatureMeaning.REVIEWED, reason=note
        )
    return b


__all__ = [
    "BATCH_REF",
    "PermissionRefused",
    "abort_batch",
    "complete_batch",
    "hold_batch",
    "open_steps",
    "resume_batch",
    "review_batch",
    "start_batch",
]
