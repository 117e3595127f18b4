"""Receipt at the manufacturing site, handoffs, and the stability clock.

Every change of hands is a custody event, and none is recorded without a scan that proves
the material's identity. A scan that does not match refuses the step, writes the refused
attempt to the audit trail and raises an identity deviation; nothing else changes.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.db import transaction
from django.http import HttpRequest

from vein2vein.core import audit
from vein2vein.core.choices import SignatureMeaning
from vein2vein.core.errors import Conflict, NotFound, ValidationFailed
from vein2vein.core.models import User
from vein2vein.core.permissions import require
from vein2vein.core.services import apply_signature, check_password_for_signing
from vein2vein.core.time import now
from vein2vein.quality.choices import DeviationCategory
from vein2vein.quality.services import raise_deviation

from ..choices import (
    CLOCK_RUNNING,
    CUSTODY_STATUSES,
    HANDOFF_TARGETS,
    RECEIPT_VERDICTS,
    CustodyKind,
    OrderAction,
    OrderStatus,
    ReceiptDecision,
    order_allows,
)
from ..models import CustodyEvent, Receipt, TherapyOrder
from ..permissions import ChainPerm
from . import _common as c
from .identity import (
    IdentityRefused,
    mask_personal,
    refuse_identity,
    verify_bag_label,
    verify_identity,
)
from .orders import _item, _stability_deviation

log = logging.getLogger(__name__)

MAX_SCANS = 10


def _scans(value: object) -> list[str]:
    """The scans of a bag label: a list, or text with one scan per line (as a keyboard-wedge
    scanner types them, each followed by Enter)."""
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationFailed("scans must be a list of scanned texts", field="scans")
    scans = [v.strip() for v in value if v.strip()]
    if not scans:
        raise ValidationFailed("scans is required: scan the bag label", field="scans")
    if len(scans) > MAX_SCANS:
        raise ValidationFailed(f"at most {MAX_SCANS} scans", field="scans")
    for s in scans:
        c.text(s, "scans", max_length=300)
    return scans


def _outside(value: Decimal | None, low: Decimal, high: Decimal) -> bool:
    return value is not None and not low <= value <= high


def _require_outside_transaction(name: str) -> None:
    if c.in_service_transaction():
        raise RuntimeError(
            f"{name} must run outside transaction.atomic(): a refused scan is recorded in "
            "its own transaction, which an outer rollback would undo"
        )


def receive_collection(
    *,
    actor: User,
    order_id: int,
    scans: object,
    arrival_temperature_c: object,
    decision: str = ReceiptDecision.ACCEPTED,
    rejection_reason: str = "",
    logger_serial: str = "",
    logger_min_c: object = None,
    logger_max_c: object = None,
    logger_summary: str = "",
    location: str = "Goods-in",
    occurred_at: object = None,
) -> Receipt:
    """Receive the apheresis bag at manufacturing: DIN, COI identifier and the patient's
    date of birth must all be scanned and match the order, or nothing is received."""
    _require_outside_transaction("receive_collection")
    found = c.order(order_id)
    at = found.manufacturing_site
    require(actor, ChainPerm.RECEIVE, at)
    scanned = _scans(scans)
    arrival = c.required_temperature(arrival_temperature_c, "arrival_temperature_c")
    verdict = c.choice(decision, "decision", RECEIPT_VERDICTS)
    why = (
        c.reason(rejection_reason, "rejection_reason")
        if verdict == ReceiptDecision.REJECTED
        else c.text(rejection_reason, "rejection_reason", max_length=2000, required=False)
    )
    serial = c.text(logger_serial, "logger_serial", max_length=60, required=False)
    low = c.temperature(logger_min_c, "logger_min_c", required=False)
    high = c.temperature(logger_max_c, "logger_max_c", required=False)
    if low is not None and high is not None and low > high:
        raise ValidationFailed("logger_min_c is above logger_max_c", field="logger_min_c")
    summary = c.text(logger_summary, "logger_summary", max_length=4000, required=False)
    place = c.text(location, "location", max_length=200)
    when = c.occurred(occurred_at)
    if not order_allows(OrderAction.RECEIVE, found.status):
        raise Conflict(
            f"order {found.coi} is {OrderStatus(found.status).label.lower()}; only collected "
            "material in transit can be received",
            field="order_id",
        )
    try:
        matches = verify_bag_label(found, scanned)
    except IdentityRefused as refusal:
        refuse_identity(
            actor=actor,
            o=found,
            action="chain.receipt",
            at_site=at,
            scanned=scanned,
            refusal=refusal,
            field="scans",
        )
    product = found.product
    temperature_ok = not any(
        _outside(v, product.fresh_min_c, product.fresh_max_c) for v in (arrival, low, high)
    )
    # An accepted bag outside the range is received into quarantine: it is here, its clock
    # runs on, but no batch starts from it until QA dispositions it (disposition_receipt).
    quarantined = verdict == ReceiptDecision.ACCEPTED and not temperature_ok
    stored = ReceiptDecision.QUARANTINE if quarantined else verdict
    with transaction.atomic():
        o = c.locked_order(found.pk)
        target = (
            OrderStatus.RECEIVED if verdict == ReceiptDecision.ACCEPTED else OrderStatus.REJECTED
        )
        c.check_transition(o, target)
        before = o.status
        raised: list[str] = []
        if not temperature_ok:
            dev = raise_deviation(
                source=o,
                category=DeviationCategory.TEMPERATURE,
                title=f"Apheresis for {o.coi} arrived outside {product.fresh_min_c} to "
                f"{product.fresh_max_c} °C",
                description=(
                    f"Receipt of order {o.coi} at {at.code}: arrival {arrival} °C, data logger "
                    f"{serial or '(no serial)'} min {low} °C / max {high} °C; the product's "
                    f"fresh range is {product.fresh_min_c} to {product.fresh_max_c} °C."
                ),
                actor=actor,
                site=at,
            )
            raised.append(dev.number)
        fields = ["status", "last_event_seq", "current_custodian", "current_location"]
        if (
            o.stability_deadline is not None
            and when > o.stability_deadline
            and not o.stability_deviation
        ):
            o.stability_deviation = _stability_deviation(o, actor=actor).number
            raised.append(o.stability_deviation)
            fields.append("stability_deviation")
        receipt = Receipt(
            order=o,
            site=at,
            received_by=actor,
            received_at=when,
            scans=[mask_personal(s) for s in scanned],
            matched=[m.summary for m in matches],
            arrival_temperature_c=arrival,
            logger_serial=serial,
            logger_min_c=low,
            logger_max_c=high,
            logger_summary=summary,
            temperature_ok=temperature_ok,
            decision=stored,
            rejection_reason=why,
            deviations=raised,
        )
        receipt.save(force_insert=True)
        o.status = target
        c.append_custody(
            o=o,
            actor=actor,
            at_site=at,
            kind=(
                CustodyKind.RECEIVED
                if verdict == ReceiptDecision.ACCEPTED
                else CustodyKind.RECEIPT_REJECTED
            ),
            item=_item_before(o, before),
            to_custodian=f"{actor.printed_name} ({at.code})",
            to_location=place,
            occurred_at=receipt.received_at,
            status_after=target,
            temperature_c=arrival,
            scanned_text=" | ".join(mask_personal(s) for s in scanned)[:300],
            matched=", ".join(dict.fromkeys(k for m in matches for k in m.matched)),
            note=(
                f"Quarantined: outside {product.fresh_min_c} to {product.fresh_max_c} °C, "
                f"deviation {', '.join(raised)}; QA disposition pending"
                if quarantined
                else why
            ),
        )
        o.save(update_fields=fields)
        audit.append_event(
            actor=actor,
            action="chain.receipt.recorded",
            record=receipt,
            changes=audit.created(
                {"order": o.coi, **audit.snapshot(receipt, Receipt.RECORD_FIELDS)}
            ),
            reason=why,
        )
        changes = {"status": {"old": before, "new": target}}
        if "stability_deviation" in fields:
            changes["stability_deviation"] = {"old": "", "new": o.stability_deviation}
        audit.append_event(
            actor=actor, action=f"chain.order.{target}", record=o, changes=changes, reason=why
        )
    return receipt


# QA's disposition of a quarantined receipt and the meaning of its signature.
DISPOSITIONS: dict[str, SignatureMeaning] = {
    ReceiptDecision.ACCEPTED: SignatureMeaning.APPROVED,
    ReceiptDecision.REJECTED: SignatureMeaning.REJECTED,
}


def receipt_of(order_id: object) -> Receipt:
    found = (
        Receipt.objects.select_related("order", "site", "received_by", "disposition_by")
        .filter(order_id=c.record_id(order_id, "order_id"))
        .first()
    )
    if found is None:
        raise NotFound(f"order {order_id} has not been received", field="order_id")
    return found


def disposition_receipt(
    *,
    actor: User,
    order_id: int,
    decision: str,
    reason: str,
    password: str,
    request: HttpRequest | None = None,
) -> Receipt:
    """QA's disposition of a quarantined receipt, signed: accepted (the material may start a
    batch) or rejected (the order is rejected). The receiver cannot disposition their own
    receipt (four eyes), and a receipt that is not quarantined is refused."""
    _require_outside_transaction("disposition_receipt")
    found = receipt_of(order_id)
    require(actor, ChainPerm.RECEIPT_DISPOSITION, found.site)
    verdict = c.choice(decision, "decision", sorted(DISPOSITIONS))
    why = c.reason(reason)
    if found.decision != ReceiptDecision.QUARANTINE:
        raise Conflict(
            f"the receipt of order {found.order.coi} is "
            f"{ReceiptDecision(found.decision).label.lower()}, not quarantined: there is "
            "nothing to disposition",
            field="order_id",
        )
    proof = check_password_for_signing(actor, password, request)
    with transaction.atomic():
        o = c.locked_order(found.order_id)
        receipt = Receipt.objects.select_for_update(no_key=True, of=("self",)).get(pk=found.pk)
        if receipt.decision != ReceiptDecision.QUARANTINE:
            raise Conflict(
                f"the receipt of order {o.coi} was dispositioned meanwhile", field="order_id"
            )
        before = audit.snapshot(receipt, Receipt.RECORD_FIELDS)
        receipt.decision = verdict
        receipt.disposition_by = actor
        receipt.disposition_at = now()
        receipt.disposition_reason = why
        if verdict == ReceiptDecision.REJECTED:
            receipt.rejection_reason = why
        receipt.save(
            update_fields=[
                "decision",
                "disposition_by",
                "disposition_at",
                "disposition_reason",
                "rejection_reason",
            ]
        )
        audit.append_event(
            actor=actor,
            action=f"chain.receipt.disposition_{verdict}",
            record=receipt,
            changes=audit.diff(before, audit.snapshot(receipt, Receipt.RECORD_FIELDS)),
            reason=why,
        )
        if verdict == ReceiptDecision.REJECTED:
            c.check_transition(o, OrderStatus.REJECTED)
            status_before = o.status
            item = _item(o)
            o.status = OrderStatus.REJECTED
            c.append_custody(
                o=o,
                actor=actor,
                at_site=receipt.site,
                kind=CustodyKind.RECEIPT_REJECTED,
                item=item,
                to_custodian=o.current_custodian,
                to_location=o.current_location,
                occurred_at=receipt.disposition_at,
                status_after=OrderStatus.REJECTED,
                note=f"QA rejected the quarantined receipt: {why}",
            )
            o.save(
                update_fields=["status", "last_event_seq", "current_custodian", "current_location"]
            )
            audit.append_event(
                actor=actor,
                action="chain.order.rejected",
                record=o,
                changes={"status": {"old": status_before, "new": OrderStatus.REJECTED}},
                reason=why,
            )
        # Four eyes: apply_signature refuses the receiver (the performer) as the signer, and
        # the refusal rolls the disposition back with it.
        apply_signature(
            proof=proof, actor=actor, record=receipt, meaning=DISPOSITIONS[verdict], reason=why
        )
    receipt.refresh_from_db()
    return receipt


def _item_before(o: TherapyOrder, status: str) -> str:
    saved = o.status
    o.status = status
    try:
        return _item(o)
    finally:
        o.status = saved


def hand_off(
    *,
    actor: User,
    order_id: int,
    scanned_text: str,
    to_custodian: str,
    to_location: str,
    temperature_c: object = None,
    to_status: str = "",
    item: str = "",
    note: str = "",
    occurred_at: object = None,
) -> CustodyEvent:
    """Hand the material on. The scan must match the order (DIN, COI identifier or patient
    identifier); a mismatch is refused, recorded and raises a deviation."""
    _require_outside_transaction("hand_off")
    found = c.order(order_id)
    at = c.require_at_any(
        actor,
        ChainPerm.HANDOFF,
        [found.collection_site, found.manufacturing_site, found.ordering_site],
        "recording a handoff",
    )
    scan = c.text(scanned_text, "scanned_text", max_length=300)
    who = c.text(to_custodian, "to_custodian", max_length=200)
    where = c.text(to_location, "to_location", max_length=200)
    temp = c.temperature(temperature_c, "temperature_c", required=False)
    target = c.choice(to_status, "to_status", sorted(HANDOFF_TARGETS), required=False)
    what = c.text(item, "item", max_length=200, required=False)
    remark = c.text(note, "note", max_length=2000, required=False)
    when = c.occurred(occurred_at)
    if not order_allows(OrderAction.HANDOFF, found.status):
        raise Conflict(
            f"order {found.coi} is {OrderStatus(found.status).label.lower()}: there is no "
            "material to hand on",
            field="order_id",
        )
    try:
        match = verify_identity(found, scan)
    except IdentityRefused as refusal:
        refuse_identity(
            actor=actor,
            o=found,
            action="chain.custody.handoff",
            at_site=at,
            scanned=[scan],
            refusal=refusal,
            field="scanned_text",
        )
    with transaction.atomic():
        o = c.locked_order(found.pk)
        before = o.status
        if target:
            c.check_transition(o, target)
            o.status = target
        elif o.status not in CUSTODY_STATUSES:
            raise Conflict(f"order {o.coi} changed meanwhile; try again", field="order_id")
        event = c.append_custody(
            o=o,
            actor=actor,
            at_site=at,
            kind=CustodyKind.HANDOFF,
            item=what or _item(o),
            to_custodian=who,
            to_location=where,
            occurred_at=when,
            status_after=o.status,
            temperature_c=temp,
            scanned_text=mask_personal(scan),
            matched=match.summary,
            note=remark,
        )
        o.save(update_fields=["status", "last_event_seq", "current_custodian", "current_location"])
        changes = audit.created(audit.snapshot(event, CustodyEvent.RECORD_FIELDS))
        if before != o.status:
            changes["status"] = {"old": before, "new": o.status}
        audit.append_event(
            actor=actor, action="chain.custody.handoff", record=event, changes=changes
        )
    return event


def check_stability_clocks(*, at: dt.datetime | None = None) -> list[str]:
    """Raise a deviation for every order whose fresh material ran out of time before
    manufacturing started (once per order). Run by Celery beat and `vein2vein chain
    check-clocks`; returns the COI identifiers it raised deviations for."""
    moment = at or now()
    due = TherapyOrder.objects.filter(
        status__in=CLOCK_RUNNING,
        stability_deadline__lt=moment,
        manufacturing_started_at__isnull=True,
        stability_deviation="",
    ).values_list("pk", flat=True)
    raised: list[str] = []
    for pk in list(due):
        with transaction.atomic():
            o = c.locked_order(pk)
            if o.stability_deviation or o.status not in CLOCK_RUNNING:
                continue
            o.stability_deviation = _stability_deviation(o, actor=None).number
            o.save(update_fields=["stability_deviation"])
            audit.append_event(
                actor=None,
                action="chain.order.stability_expired",
                record=o,
                changes={
                    "stability_deviation": {"old": "", "new": o.stability_deviation},
                    "stability_deadline": {"old": None, "new": o.stability_deadline},
                },
            )
            raised.append(o.coi)
    if raised:
        log.warning("stability time exceeded for %s", ", ".join(raised))
    return raised
