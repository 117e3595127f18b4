"""`vein2vein simulate --orders 2`: two patients' histories through the real services, each
batch run to completion on a fresh database (the simulated clock, one order a day here), the
audit chain intact and in time order, and a second run writes nothing (resumable)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from vein2vein.chain.models import Patient
from vein2vein.core.audit import verify_chain
from vein2vein.core.models import AuditEvent, Site
from vein2vein.equipment.models import ServiceRecord
from vein2vein.manufacturing import demo, services
from vein2vein.manufacturing.management.commands import simulate
from vein2vein.manufacturing.models import Batch, StepEntry
from vein2vein.materials.models import Lot
from vein2vein.release.selectors import current_disposition


def test_simulate_two_orders_then_resume(db, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(simulate, "PER_DAY", 1)  # two simulated days for two orders
    before = timezone.now()
    call_command("simulate", "--orders", "2")
    out = capsys.readouterr().out
    assert "a fresh database: the demo written as of 4 days ago" in out
    assert "2 orders, 1 a day: 2 simulated day(s)" in out
    assert "2 orders written (2 batches completed, 0 in progress)" in out
    assert "orders/s" in out and "peak RSS" in out
    assert timezone.now() >= before  # the wall clock is back

    simulated = Patient.objects.filter(site_patient_id__startswith="SIM-")
    assert simulated.count() == 2
    batches = list(
        Batch.objects.filter(order__patient__in=simulated).select_related("order").order_by("pk")
    )
    assert [b.status for b in batches] == ["completed", "completed"]
    for b in batches:
        assert b.order is not None and b.order.status == "in_qc"
        assert services.open_steps(b) == []
        waited = services.current_entries(b)["activation_time"].value_number
        assert waited is not None and waited >= 18 * 60  # the 18 h minimum was kept
    assert StepEntry.objects.filter(batch__in=batches).count() >= 2 * 40
    gap = batches[1].started_at - batches[0].started_at
    assert dt.timedelta(hours=23) < gap < dt.timedelta(hours=25)  # a day apart
    # The demo's own batch (LUH-1008) runs to completion on the same clock; the release demo
    # then reviews it by exception (it disposes of it only when ready, which it is not here).
    luh = Batch.objects.get(order__patient__site_patient_id="LUH-1008")
    d = current_disposition(luh.pk)
    assert (luh.status, d) == ("reviewed", None)
    assert Batch.objects.filter(status="completed").count() == 2

    # Time order: the chain's order is the clock's, nothing stamped in the future.
    times = list(AuditEvent.objects.order_by("seq").values_list("occurred_at", flat=True))
    assert times == sorted(times)
    assert times[-1] <= timezone.now()
    assert times[0] < before - dt.timedelta(days=3, hours=23)  # the demo, 4 days back
    assert verify_chain().ok

    events = AuditEvent.objects.count()
    call_command("simulate", "--orders", "2")
    assert "0 orders written (0 batches completed, 0 in progress), 2 already there" in (
        capsys.readouterr().out
    )
    assert AuditEvent.objects.count() == events

    # More orders than the days left before now hold: refused, nothing written.
    with pytest.raises(CommandError, match="do not fit before now"):
        call_command("simulate", "--orders", "6")
    assert AuditEvent.objects.count() == events

    users, mfg = demo._users(), Site.objects.get(code="MFG-PHL")
    # A lot that runs short is replaced with what its CoA states (the vector's titer, which
    # the vector volume's formula reads), received and released through the services.
    simulate.Command._restock({"MAT-0106": Decimal(10**6)}, users, mfg)
    new = Lot.objects.filter(material__part_number="MAT-0106").latest("pk")
    assert new.status == "released" and new.supplier_lot.startswith("SIM-")
    assert new.attributes["titer_tu_per_ml"]
    # A unit the batches scan is calibrated when it falls due (FCM-01: every 30 days).
    monkeypatch.setattr(simulate, "SERVICE_AHEAD_DAYS", 30)
    simulate.Command._service_due(users, mfg)
    fcm = ServiceRecord.objects.filter(plan__equipment__equipment_id="FCM-01").latest("pk")
    assert fcm.result == "pass" and fcm.performed_by == users["qc"]

    # A larger N on the same database: right after its last event, the training days old.
    call_command("simulate", "--orders", "3")
    out = capsys.readouterr().out
    assert "1 orders written (1 batches completed, 0 in progress), 2 already there" in out
    assert "a fresh database" not in out
    assert verify_chain().ok
