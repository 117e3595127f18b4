"""The chain demo: one patient at each stage the journeys need, through the services."""

from __future__ import annotations

import pytest

from vein2vein.chain import demo, selectors
from vein2vein.chain.models import TherapyOrder
from vein2vein.core.audit import verify_chain
from vein2vein.core.demo import load_demo as load_core_demo
from vein2vein.core.models import AuditEvent, User
from vein2vein.core.time import in_zone, now


@pytest.fixture
def demo_world(db):  # type: ignore[no-untyped-def]
    load_core_demo()
    demo.load_demo()


def test_every_journey_has_its_patient(demo_world) -> None:  # type: ignore[no-untyped-def]
    stages = {
        o.patient.site_patient_id: o.status for o in TherapyOrder.objects.select_related("patient")
    }
    assert stages == {p.site_patient_id: p.stage for p in demo.PATIENTS}
    in_transit = TherapyOrder.objects.get(status="in_transit")
    assert selectors.stability_clock(in_transit).running
    assert 0 < selectors.stability_clock(in_transit).hours_left < 48  # type: ignore[operator]
    mfg = in_transit.manufacturing_site
    full = selectors.calendar(mfg, in_zone(now(), mfg.time_zone).date(), 14)
    assert any(d.full and d.capacity for d in full), "a full day to show on the calendar"
    operator = User.objects.get(username="operator")
    assert in_transit in selectors.awaiting_receipt(operator)
    assert verify_chain().ok


def test_one_patient_is_followed_vein_to_vein(demo_world) -> None:  # type: ignore[no-untyped-def]
    infused = TherapyOrder.objects.get(status="infused")
    page = selectors.vein_to_vein(infused)
    assert [e.event.seq for e in page["timeline"]] == list(range(1, 13))
    assert page["closed"] and page["total"].days == 33
    assert page["receipt"].decision == "accepted"


def test_a_second_run_writes_nothing(demo_world) -> None:  # type: ignore[no-untyped-def]
    events = AuditEvent.objects.count()
    demo.load_demo()
    assert AuditEvent.objects.count() == events
