"""`vein2vein simulate --orders 2`: two patients' histories through the real services, the
audit chain intact, and a second run writes nothing (resumable)."""

from __future__ import annotations

from django.core.management import call_command

from vein2vein.chain.models import Patient
from vein2vein.core.audit import verify_chain
from vein2vein.core.models import AuditEvent
from vein2vein.manufacturing.models import Batch, StepEntry


def test_simulate_two_orders_then_resume(db, capsys) -> None:  # type: ignore[no-untyped-def]
    call_command("simulate", "--orders", "2")
    out = capsys.readouterr().out
    assert "2 orders written" in out and "peak RSS" in out
    simulated = Patient.objects.filter(site_patient_id__startswith="SIM-")
    assert simulated.count() == 2
    batches = Batch.objects.filter(order__patient__in=simulated)
    assert batches.count() == 2
    assert StepEntry.objects.filter(batch__in=batches).count() >= 2 * 10
    assert verify_chain().ok
    events = AuditEvent.objects.count()
    call_command("simulate", "--orders", "2")
    assert "0 orders written, 2 already there" in capsys.readouterr().out
    assert AuditEvent.objects.count() == events
