"""The material step: the lot's label is scanned, the lot must be usable for the step's part
and quantity, and the quantity is consumed in the step's transaction."""

from __future__ import annotations

from decimal import Decimal

from vein2vein.core.errors import InterlockBlocked, ValidationFailed
from vein2vein.materials.models import Lot
from vein2vein.materials.services import consume_lot, require_material_usable

from ...models import Batch, StepEntry
from ._shared import ACTION, Attempt, Prepared, StepHandler, StepInput, scanned


class MaterialStep(StepHandler):
    def prepare(self, s: StepInput) -> Prepared:
        step = s.step
        number = scanned(s.scan)
        lot = Lot.objects.select_related("material", "site").filter(lot_number=number).first()
        if lot is None:
            raise ValidationFailed(
                f"no lot with number {number!r}: scan the lot label", field="scan"
            )
        if step.get("quantity_from"):
            source = s.entries.get(step["quantity_from"])
            if source is None or source.value_number is None:
                raise ValidationFailed(
                    f"the quantity comes from step {step['quantity_from']!r}, which has no value",
                    field="step_key",
                )
            qty = Decimal(source.value_number).normalize()
        else:
            qty = Decimal(step["quantity"])
        p = Prepared(lot=lot, quantity=qty)
        p.value_text, p.value_number, p.unit = lot.lot_number, qty, lot.unit
        p.details.update(
            {"lot_id": lot.pk, "part": lot.material.part_number, "expiry": str(lot.expiry_date)}
        )
        return p

    def check(self, a: Attempt, p: Prepared) -> None:
        assert p.lot is not None
        try:
            require_material_usable(
                actor=a.actor,
                lot=p.lot,
                part=a.step["part"],
                quantity=p.quantity,
                action=ACTION,
                record=a.batch,
            )
        except InterlockBlocked as exc:
            exc.field = "scan"  # what this step's caller sent; the refusal is recorded
            raise

    def after_entry(self, a: Attempt, b: Batch, p: Prepared, entry: StepEntry) -> None:
        assert p.lot is not None
        row = consume_lot(
            actor=a.actor,
            lot_id=p.lot.pk,
            quantity=p.quantity,
            part=a.step["part"],
            reference=f"{b.number} step {a.step['key']}"[:200],
            record=entry,
            at=a.at,
        )
        entry.details = {**entry.details, "inventory_transaction": row.pk}
        entry.save(update_fields=["details"])
