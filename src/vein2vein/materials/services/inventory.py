"""The inventory ledger: consumption, adjustments and kits. Every change of a lot's quantity
is one InventoryTransaction row written in the same transaction as the lot's locked `on_hand`,
so the ledger's sum is always the quantity on hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import models, transaction

from vein2vein.core import audit
from vein2vein.core.errors import Conflict, InterlockBlocked, ValidationFailed
from vein2vein.core.models import User
from vein2vein.core.permissions import require
from vein2vein.core.time import now

from ..choices import TransactionKind
from ..models import InventoryTransaction, Kit, KitComponent, Lot, Material
from ..permissions import MatPerm
from ..selectors import Usability, check_material_usable
from . import _common as c


def _book(
    lot: Lot,
    *,
    actor: User,
    kind: TransactionKind,
    quantity: Decimal,
    at: dt.datetime,
    reason: str = "",
    reference: str = "",
    record: tuple[str, str] | None = None,
    kit: Kit | None = None,
) -> InventoryTransaction:
    """Inside the caller's transaction, with `lot` locked: one ledger row and the new on-hand."""
    balance = lot.on_hand + quantity
    if balance < 0:
        raise Conflict(
            f"{lot} has {lot.on_hand} {lot.unit} on hand: {abs(quantity)} cannot be taken",
            field="quantity",
        )
    row = InventoryTransaction.objects.create(
        lot=lot,
        kind=kind,
        quantity=quantity,
        balance_after=balance,
        reason=reason,
        reference=reference,
        record_type=record[0] if record else "",
        record_id=record[1] if record else "",
        kit=kit,
        actor=actor,
        occurred_at=at,
    )
    old = lot.on_hand
    lot.on_hand = balance
    lot.save(update_fields=["on_hand"])
    audit.append_event(
        actor=actor,
        action=f"materials.lot.{kind.value}",
        record=lot,
        changes={
            "on_hand": {"old": old, "new": balance},
            "transaction": {"old": None, "new": row.pk},
            **({"reference": {"old": None, "new": reference}} if reference else {}),
        },
        reason=reason,
    )
    return row


def _record(record: models.Model | tuple[str, str] | None) -> tuple[str, str] | None:
    return audit.record_ref(record) if record is not None else None


class _Refused(Exception):
    def __init__(self, result: Usability) -> None:
        self.result = result


def consume_lot(
    *,
    actor: User,
    lot_id: int,
    quantity: object,
    reference: str,
    part: Material | str | None = None,
    record: models.Model | tuple[str, str] | None = None,
    at: dt.datetime | None = None,
) -> InventoryTransaction:
    """Take `quantity` of a lot for a use (`reference`, e.g. "B-0007 step 4 activation", and the
    generic `record` of that use). The usability check runs inside the transaction with the
    lot locked, at the moment of use; a refusal is recorded as a blocked attempt.

    A caller already inside its own transaction should call `require_material_usable` first:
    the blocked-attempt event written here would otherwise roll back with the caller's work.
    """
    qty = c.quantity(quantity)
    ref = c.text(reference, "reference", max_length=200)
    rec = _record(record)
    if c.in_service_transaction():
        # Inside the caller's transaction (a batch step): the lot is locked and read once, and
        # checked (role, usability) before anything is written; a refusal rolls back with the
        # caller's work, which is why such a caller checks `require_material_usable` first.
        lot = c.lock_lot(c.pk(lot_id, "lot_id"))
        require(actor, MatPerm.INVENTORY, lot.site)
        result = check_material_usable(lot, part, qty, at)
        if not result.ok:
            raise _refused(actor, lot, result, ref)
        return _consume(lot, actor=actor, quantity=qty, reference=ref, record=rec)
    found = c.lot(lot_id)
    require(actor, MatPerm.INVENTORY, found.site)
    try:
        with transaction.atomic():
            lot = c.lock_lot(found.pk)
            result = check_material_usable(lot, part, qty, at)
            if not result.ok:
                raise _Refused(result)
            return _consume(lot, actor=actor, quantity=qty, reference=ref, record=rec)
    except _Refused as refused:
        raise _refused(actor, found, refused.result, ref) from None


def _consume(
    lot: Lot, *, actor: User, quantity: Decimal, reference: str, record: tuple[str, str] | None
) -> InventoryTransaction:
    return _book(
        lot,
        actor=actor,
        kind=TransactionKind.CONSUMPTION,
        quantity=-quantity,
        at=now(),
        reason=f"used for {reference}",
        reference=reference,
        record=record,
    )


def _refused(actor: User, lot: Lot, result: Usability, reference: str) -> InterlockBlocked:
    """Record the refused consumption (its own transaction) and return the error."""
    audit.record_blocked_attempt(
        actor=actor,
        action="materials.lot.consume",
        record=lot,
        reason=result.message,
        details={
            "reasons": {"old": None, "new": result.reasons},
            "reference": {"old": None, "new": reference},
        },
    )
    return InterlockBlocked(result.message, field="lot_id")


def adjust_lot(*, actor: User, lot_id: int, quantity: object, reason: str) -> InventoryTransaction:
    """Correct a lot's quantity (count, breakage, QC sample, destruction): a signed quantity
    and a mandatory reason, as its own ledger row. The result may not go below zero."""
    found = c.lot(lot_id)
    require(actor, MatPerm.INVENTORY, found.site)
    qty = c.quantity(quantity, signed=True)
    why = c.reason(reason)
    with transaction.atomic():
        lot = c.lock_lot(found.pk)
        return _book(
            lot, actor=actor, kind=TransactionKind.ADJUSTMENT, quantity=qty, at=now(), reason=why
        )


def _components(value: object) -> list[tuple[int, Decimal]]:
    if not isinstance(value, list | tuple) or not value:
        raise ValidationFailed(
            "components must list at least one lot and quantity", field="components"
        )
    if len(value) > 50:
        raise ValidationFailed("a kit has at most 50 components", field="components")
    out: list[tuple[int, Decimal]] = []
    for n, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            raise ValidationFailed(
                f"component {n} must give lot_id and quantity", field="components"
            )
        lot_id = c.pk(item.get("lot_id"), f"components.{n}.lot_id")
        qty = c.quantity(item.get("quantity"), f"components.{n}.quantity")
        if any(lot_id == seen for seen, _ in out):
            raise ValidationFailed(f"lot {lot_id} is listed twice", field="components")
        out.append((lot_id, qty))
    return out


def assemble_kit(
    *,
    actor: User,
    site_id: int,
    name: str,
    location: str,
    components: list[dict[str, Any]],
    remarks: str = "",
    at: dt.datetime | None = None,
) -> Kit:
    """Assemble a kit from released, unexpired lots of the site, taking each component's
    quantity from its lot through the ledger. Any unusable component refuses the whole kit."""
    site = c.site(site_id)
    require(actor, MatPerm.INVENTORY, site)
    title = c.text(name, "name", max_length=200)
    where = c.text(location, "location", max_length=200)
    why = c.text(remarks, "remarks", max_length=2000, required=False)
    parts = _components(components)
    try:
        with transaction.atomic():
            locked = {}
            for lot_id, _ in sorted(parts):
                locked[lot_id] = c.lock_lot(lot_id)
            problems: list[str] = []
            for lot_id, qty in parts:
                lot = locked[lot_id]
                if lot.site_id != site.pk:
                    problems.append(f"{lot} is at {lot.site.code}, not {site.code}")
                result = check_material_usable(lot, None, qty, at)
                if not result.ok:
                    problems.append(result.message)
            if problems:
                raise _Refused(
                    Usability(lot="kit", at=at or now(), reasons=["component"], messages=problems)
                )
            moment = now()
            kit = Kit.objects.create(
                kit_number=c.allocate("KIT", site),
                name=title,
                site=site,
                location=where,
                assembled_by=actor,
                assembled_at=moment,
                remarks=why,
            )
            for lot_id, qty in parts:
                KitComponent.objects.create(kit=kit, lot=locked[lot_id], quantity=qty)
                _book(
                    locked[lot_id],
                    actor=actor,
                    kind=TransactionKind.KIT_ASSEMBLY,
                    quantity=-qty,
                    at=moment,
                    reason=f"assembled into {kit.kit_number}",
                    reference=kit.kit_number,
                    record=audit.record_ref(kit),
                    kit=kit,
                )
            audit.append_event(
                actor=actor,
                action="materials.kit.assembled",
                record=kit,
                changes={
                    "kit_number": {"old": None, "new": kit.kit_number},
                    "name": {"old": None, "new": title},
                    "components": {
                        "old": None,
                        "new": [f"{locked[i].lot_number} x {q}" for i, q in parts],
                    },
                },
                reason=why,
            )
    except _Refused as refused:
        message = "the kit cannot be assembled: " + "; ".join(refused.result.messages)
        audit.record_blocked_attempt(
            actor=actor,
            action="materials.kit.assemble",
            record=site,
            reason=message,
        )
        raise InterlockBlocked(message, field="components") from None
    return kit
