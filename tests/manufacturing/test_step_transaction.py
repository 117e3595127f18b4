"""A step is one transaction and its audit event holds what is stored: the entry's details
(lot consumed, usage opened, sample drawn) are in the event, and a failure anywhere in the
step leaves no usage, consumption or entry behind."""

from __future__ import annotations

import pytest

from tests.manufacturing.conftest import Mfg, run, unchanged
from vein2vein.core.audit import verify_chain
from vein2vein.core.models import AuditEvent
from vein2vein.equipment.models import Usage
from vein2vein.manufacturing import services
from vein2vein.manufacturing.models import Batch, StepEntry
from vein2vein.manufacturing.services import steps
from vein2vein.materials.models import InventoryTransaction


def _recorded_event(entry: StepEntry) -> AuditEvent:
    return AuditEvent.objects.get(
        record_type="manufacturing.stepentry",
        record_id=str(entry.pk),
        action__in=["manufacturing.step.recorded", "manufacturing.step.corrected"],
    )


def test_every_entry_event_holds_the_stored_details(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch)
    entries = list(StepEntry.objects.filter(batch=batch).order_by("seq"))
    assert {e.step_kind for e in entries} >= {"material", "equipment", "sample", "label"}
    for entry in entries:
        changes = _recorded_event(entry).changes
        assert changes["details"]["new"] == entry.details, entry.step_key
        stored_text = changes.get("value_text", {"new": ""})["new"]
        assert stored_text == entry.value_text, entry.step_key
    by_key = {e.step_key: e for e in entries}
    assert "inventory_transaction" in by_key["reagent"].details
    assert "usage_id" in by_key["bsc"].details
    assert by_key["ipc"].details["sample"] == by_key["ipc"].value_text
    assert verify_chain().ok


def test_a_failed_equipment_step_leaves_no_usage(
    mfg: Mfg, batch: Batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(mfg, batch, until="bsc")

    def broken(**_: object) -> StepEntry:
        raise RuntimeError("disk full")

    monkeypatch.setattr(steps, "_write_entry", broken)
    with unchanged(), pytest.raises(RuntimeError):
        services.record_step(
            actor=mfg.operator, batch_id=batch.pk, step_key="bsc", scan=mfg.bsc.equipment_id
        )
    assert not Usage.objects.exists()


def test_a_failed_material_step_consumes_nothing(
    mfg: Mfg, batch: Batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(mfg, batch, until="reagent")
    consumed = InventoryTransaction.objects.count()

    def broken(**_: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(steps, "_record_entry_event", broken)
    with unchanged(), pytest.raises(RuntimeError):
        services.record_step(
            actor=mfg.operator,
            batch_id=batch.pk,
            step_key="reagent",
            scan=mfg.reagent.lot_number,
        )
    assert InventoryTransaction.objects.count() == consumed
