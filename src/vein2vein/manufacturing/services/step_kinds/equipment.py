"""The equipment step: the unit's label is scanned, it must be of the step's kind and usable,
and a usage row opens in the step's transaction (it ends when the unit operation is done)."""

from __future__ import annotations

from vein2vein.core.errors import InterlockBlocked, ValidationFailed
from vein2vein.equipment.models import Equipment
from vein2vein.equipment.services import require_equipment_usable, start_usage_within

from ...models import Batch
from .. import _common as c
from ..batches import BATCH_REF
from ._shared import ACTION, Attempt, Prepared, StepHandler, StepInput, scanned


def _require_usable(a: Attempt, unit: Equipment) -> None:
    try:
        require_equipment_usable(
            actor=a.actor,
            equipment=unit,
            action=ACTION,
            record=a.batch,
            batch_ref=(BATCH_REF, str(a.batch.pk)),
        )
    except InterlockBlocked as exc:
        exc.field = "scan"  # what this step's caller sent; the refusal is recorded
        raise


class EquipmentStep(StepHandler):
    def prepare(self, s: StepInput) -> Prepared:
        tag = scanned(s.scan).upper()
        unit = Equipment.objects.filter(equipment_id=tag).first()
        if unit is None:
            raise ValidationFailed(f"no equipment with id {tag!r}: scan its label", field="scan")
        p = Prepared(equipment=unit, value_text=unit.equipment_id)
        p.details.update({"equipment_id": unit.equipment_id, "kind": unit.kind})
        return p

    def check(self, a: Attempt, p: Prepared) -> None:
        unit, step = p.equipment, a.step
        assert unit is not None
        if unit.kind != step["equipment_kind"]:
            raise c.refuse(
                actor=a.actor,
                action=ACTION,
                record=a.batch,
                message=f"{unit.equipment_id} is a {unit.get_kind_display().lower()}; step "
                f"{step['key']!r} needs a {step['equipment_kind'].replace('_', ' ')}",
                field="scan",
                details={"step": step["key"], "equipment": unit.equipment_id},
            )
        _require_usable(a, unit)

    def before_entry(self, a: Attempt, b: Batch, p: Prepared) -> None:
        assert p.equipment is not None
        usage = start_usage_within(
            actor=a.actor,
            equipment_id=p.equipment.equipment_id,
            batch_ref=(BATCH_REF, str(b.pk)),
            batch_label=b.number,
            step=f"{a.step['key']} {a.step['title']}"[:200],
        )
        p.details["usage_id"] = usage.pk

    def blocked(self, a: Attempt, p: Prepared) -> None:
        # The unit changed between the check and the lock: record the refusal now that the
        # step's transaction has rolled back (this raises when it is still refused).
        assert p.equipment is not None
        _require_usable(a, p.equipment)
