"""A lot's life: received into quarantine with its inspection and CoA, then released or
rejected with an e-signature by QC/QA, put on hold and taken off hold with a reason.

Release rules (each refusal changes nothing): the lot is in quarantine; the signer holds a
release role at the lot's site (QC/QA; a supervisor too when the material needs no QC
release) and did not receive the lot; the supplier's status is *approved* (conditional and
disqualified suppliers' lots cannot be released) and it is on the material's approved list;
the lot has not expired; the receiving inspection passed; a material needing QC release has
its supplier's CoA on file. The password is checked before the transaction, so a wrong one
counts toward the account's lockout.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.files import File
from django.db import transaction
from django.http import HttpRequest

from vein2vein.core import audit
from vein2vein.core.choices import SignatureMeaning
from vein2vein.core.errors import Conflict, InterlockBlocked, SignatureRefused, ValidationFailed
from vein2vein.core.files import check_pdf, delete_orphan
from vein2vein.core.models import User
from vein2vein.core.permissions import require, require_role, roles_checked_once
from vein2vein.core.services import apply_signature, check_password_for_signing
from vein2vein.core.time import now

from ..choices import (
    HOLD_FROM,
    INSPECTION_ITEMS,
    REJECT_FROM,
    RELEASE_FROM,
    LotStatus,
    SupplierStatus,
    TransactionKind,
)
from ..models import InventoryTransaction, Lot
from ..permissions import MatPerm, release_roles
from ..selectors import supplier_approved_for
from . import _common as c


def _attributes(value: object) -> dict[str, str]:
    """Free attributes of a lot (e.g. a vector's titer): short text keys and values."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict) or len(value) > 20:
        raise ValidationFailed(
            "attributes must be an object of at most 20 entries", field="attributes"
        )
    out = {}
    for key, val in value.items():
        k = c.text(key, "attributes", max_length=60)
        out[k] = c.text(
            str(val) if isinstance(val, int | float) else val, "attributes", max_length=200
        )
    return out


def _inspection(value: object) -> dict[str, bool]:
    data = value if isinstance(value, dict) else {}
    if not isinstance(value, dict):
        raise ValidationFailed(
            "inspection must give each checklist item as true or false", field="inspection"
        )
    return {name: c.boolean(data.get(name), name) for name, _ in INSPECTION_ITEMS}


def _check_coa(file: object) -> Any:
    try:
        return check_pdf(file)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, field="coa_file") from None


def receive_lot(
    *,
    actor: User,
    site_id: int,
    material_id: int,
    supplier_id: int,
    supplier_lot: str,
    quantity: object,
    expiry_date: object,
    location: str,
    inspection: dict[str, bool],
    unit: str = "",
    remarks: str = "",
    coa_file: File | None = None,  # type: ignore[type-arg]
    attributes: dict[str, Any] | None = None,
) -> Lot:
    """Receive a lot into quarantine: allocate its internal id, store the CoA (SHA-256),
    record the receiving inspection and open its ledger with the received quantity.

    Any supplier may deliver (the lot waits in quarantine); only an approved supplier's lot is
    released. A failed inspection item is recorded as failed: such a lot can only be rejected.
    """
    site = c.site(site_id)
    require(actor, MatPerm.RECEIVE, site)
    material = c.material(material_id)
    supplier = c.supplier(supplier_id)
    lot_text = c.text(supplier_lot, "supplier_lot", max_length=80)
    qty = c.quantity(quantity)
    expiry = c.date(expiry_date, "expiry_date")
    where = c.text(location, "location", max_length=200)
    unit_text = c.text(unit, "unit", max_length=20, required=False) or material.unit
    if unit_text != material.unit:
        raise ValidationFailed(
            f"unit must be {material.unit}, the unit of measure of {material.part_number}",
            field="unit",
        )
    checks = _inspection(inspection)
    why = c.text(remarks, "remarks", max_length=2000, required=False)
    attrs = _attributes(attributes)
    checked = _check_coa(coa_file) if coa_file is not None else None
    saved: list[str] = []
    try:
        with transaction.atomic():
            at = now()
            lot = Lot(
                lot_number=c.allocate("LOT", site),
                material=material,
                supplier=supplier,
                supplier_lot=lot_text,
                site=site,
                location=where,
                quantity_received=qty,
                on_hand=qty,
                unit=unit_text,
                expiry_date=expiry,
                status=LotStatus.QUARANTINE,
                attributes=attrs,
                inspection_remarks=why,
                received_by=actor,
                received_at=at,
                **checks,
            )
            if checked is not None and coa_file is not None:
                c.store_coa(lot, coa_file, checked, saved)
            lot.save(force_insert=True)
            InventoryTransaction.objects.create(
                lot=lot,
                kind=TransactionKind.RECEIPT,
                quantity=qty,
                balance_after=qty,
                reason="received",
                actor=actor,
                occurred_at=at,
            )
            changes = audit.created(audit.snapshot(lot, Lot.RECORD_FIELDS))
            if checked is not None:
                changes["coa_file_name"] = {"old": None, "new": checked.original_name}
            audit.append_event(
                actor=actor, action="materials.lot.received", record=lot, changes=changes
            )
    except BaseException:
        for name in saved:
            delete_orphan(name)
        raise
    return lot


def release_blockers(lot: Lot, at: dt.datetime | None = None) -> list[str]:
    """Why this lot cannot be released, as a reader would say it; empty when it can."""
    moment = at or now()
    out = []
    if lot.supplier.status != SupplierStatus.APPROVED:
        out.append(
            f"supplier {lot.supplier} is {lot.supplier.get_status_display().lower()}, not approved"
        )
    elif not supplier_approved_for(lot):
        out.append(f"supplier {lot.supplier} is not approved for {lot.material.part_number}")
    if lot.is_expired(moment):
        out.append(f"the lot expired on {lot.expiry_date.isoformat()}")
    if not lot.inspection_passed:
        out.append("the receiving inspection failed: " + ", ".join(lot.failed_inspection_items))
    if lot.material.qc_release_required and not lot.coa_sha256:
        out.append("no certificate of analysis is on file")
    return out


def _check_disposition(actor: User, lot: Lot, allowed: frozenset[str], doing: str) -> None:
    if lot.status not in allowed:
        raise Conflict(
            f"{lot} is {lot.get_status_display().lower()}: it cannot be {doing}", field="lot_id"
        )
    if lot.received_by_id == actor.pk:
        raise SignatureRefused(
            f"you received {lot}: a second person must sign it as {doing}",
            field="password",
        )


@roles_checked_once()  # the disposition, release and signing checks ask the same rows
def _decide(
    *,
    actor: User,
    lot_id: int,
    password: str,
    reason: str,
    request: HttpRequest | None,
    release: bool,
) -> Lot:
    lot = c.lot(lot_id)
    require(actor, MatPerm.DISPOSITION, lot.site)
    doing = "released" if release else "rejected"
    if release:
        require_role(
            actor, release_roles(lot.material.qc_release_required), f"releasing {lot}", lot.site
        )
    why = c.text(reason, "reason", max_length=2000, required=not release)
    allowed = RELEASE_FROM if release else REJECT_FROM
    _check_disposition(actor, lot, allowed, doing)
    if release and (blockers := release_blockers(lot)):
        message = f"{lot} cannot be released: " + "; ".join(blockers)
        if not c.in_service_transaction():
            audit.record_blocked_attempt(
                actor=actor,
                action="materials.lot.release",
                record=lot,
                reason=message,
                details={"blockers": {"old": None, "new": blockers}},
            )
        raise InterlockBlocked(message, field="lot_id")
    proof = check_password_for_signing(actor, password, request)
    with transaction.atomic():
        lot = c.lock_lot(lot.pk, "received_by")
        _check_disposition(actor, lot, allowed, doing)
        if release and (blockers := release_blockers(lot)):
            raise InterlockBlocked(
                f"{lot} cannot be released: " + "; ".join(blockers), field="lot_id"
            )
        new = LotStatus.RELEASED if release else LotStatus.REJECTED
        changes = {
            "status": {"old": lot.status, "new": new},
            "disposition_by": {"old": None, "new": actor.username},
        }
        lot.status, lot.status_before_hold = new, ""
        lot.disposition_by, lot.disposition_at, lot.disposition_reason = actor, now(), why
        lot.save(
            update_fields=[
                "status",
                "status_before_hold",
                "disposition_by",
                "disposition_at",
                "disposition_reason",
            ]
        )
        audit.append_event(
            actor=actor, action=f"materials.lot.{doing}", record=lot, changes=changes, reason=why
        )
        apply_signature(
            proof=proof,
            actor=actor,
            record=lot,
            meaning=SignatureMeaning.RELEASED if release else SignatureMeaning.REJECTED,
            reason=why,
            performed_by=lot.received_by,
        )
    return lot


def release_lot(
    *,
    actor: User,
    lot_id: int,
    password: str,
    reason: str = "",
    request: HttpRequest | None = None,
) -> Lot:
    """Release a quarantined lot with an e-signature (meaning 'released')."""
    return _decide(
        actor=actor, lot_id=lot_id, password=password, reason=reason, request=request, release=True
    )


def reject_lot(
    *,
    actor: User,
    lot_id: int,
    password: str,
    reason: str,
    request: HttpRequest | None = None,
) -> Lot:
    """Reject a lot with an e-signature (meaning 'rejected'). Final: it is never used again;
    adjust its quantity to zero when it is destroyed or returned."""
    return _decide(
        actor=actor, lot_id=lot_id, password=password, reason=reason, request=request, release=False
    )


def hold_lot(*, actor: User, lot_id: int, reason: str) -> Lot:
    """Put a quarantined or released lot on hold: nobody uses it until it comes off hold."""
    lot = c.lot(lot_id)
    require(actor, MatPerm.HOLD, lot.site)
    why = c.reason(reason)
    with transaction.atomic():
        lot = c.lock_lot(lot.pk)
        if lot.status not in HOLD_FROM:
            raise Conflict(
                f"{lot} is {lot.get_status_display().lower()}: it cannot be put on hold",
                field="lot_id",
            )
        changes = {"status": {"old": lot.status, "new": LotStatus.ON_HOLD}}
        lot.status_before_hold, lot.status, lot.hold_reason = lot.status, LotStatus.ON_HOLD, why
        lot.save(update_fields=["status", "status_before_hold", "hold_reason"])
        audit.append_event(
            actor=actor, action="materials.lot.held", record=lot, changes=changes, reason=why
        )
    return lot


def release_hold(*, actor: User, lot_id: int, reason: str) -> Lot:
    """Take a lot off hold: it returns to the status it had before (quarantine or released)."""
    lot = c.lot(lot_id)
    require(actor, MatPerm.HOLD, lot.site)
    why = c.reason(reason)
    with transaction.atomic():
        lot = c.lock_lot(lot.pk)
        if lot.status != LotStatus.ON_HOLD:
            raise Conflict(f"{lot} is not on hold", field="lot_id")
        back = lot.status_before_hold or LotStatus.QUARANTINE
        changes = {"status": {"old": lot.status, "new": back}}
        lot.status, lot.status_before_hold, lot.hold_reason = back, "", ""
        lot.save(update_fields=["status", "status_before_hold", "hold_reason"])
        audit.append_event(
            actor=actor,
            action="materials.lot.hold_released",
            record=lot,
            changes=changes,
            reason=why,
        )
    return lot
