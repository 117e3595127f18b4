"""The equipment demo: one cleanroom suite, all qualified and in service through the services,
idempotent; CEN-02's calibration lapsed yesterday, so it is refused now (journey 4 step 3)."""

from __future__ import annotations

import datetime as dt

from vein2vein.core.audit import verify_chain
from vein2vein.core.demo import load_demo as load_core_demo
from vein2vein.core.models import AuditEvent, Signature
from vein2vein.equipment import demo, selectors
from vein2vein.equipment.models import Equipment, QualificationRecord, ServiceRecord


def test_demo_suite_is_qualified_in_service_and_cen02_lapsed_yesterday(db):
    load_core_demo()
    demo.load_demo()
    units = Equipment.objects.all()
    assert {u.equipment_id for u in units} == {s.tag for s in demo.UNITS}
    assert {u.status for u in units} == {"in_service"}
    assert QualificationRecord.objects.filter(status="approved").count() == 3 * len(demo.UNITS)
    assert Signature.objects.filter(record_type="equipment.qualificationrecord").count() == 36
    cen02 = Equipment.objects.get(equipment_id="CEN-02")
    plan = cen02.plans.get()
    assert plan.next_due == selectors.today(cen02.site) - dt.timedelta(days=1)
    refused = selectors.check_equipment_usable(cen02)
    assert not refused.ok
    assert f"overdue: it was due on {plan.next_due}" in refused.message
    usable = [u.equipment_id for u in units if selectors.check_equipment_usable(u).ok]
    assert sorted(usable) == sorted(s.tag for s in demo.UNITS if s.tag != "CEN-02")
    counts = (AuditEvent.objects.count(), ServiceRecord.objects.count())
    demo.load_demo()
    assert (AuditEvent.objects.count(), ServiceRecord.objects.count()) == counts
    assert verify_chain().ok


def test_days_ago_are_the_sites_days_across_a_change_of_offset(monkeypatch):
    """At 04:30 UTC on 7 Dec it is still 6 Dec in New York, and 181 days earlier New York was on
    summer time: "now - 181 days" in UTC gave a calibration due today, not lapsed yesterday."""
    from types import SimpleNamespace
    from zoneinfo import ZoneInfo

    moment = dt.datetime(2026, 12, 7, 4, 30, tzinfo=dt.UTC)
    monkeypatch.setattr(demo, "now", lambda: moment)
    zone = ZoneInfo("America/New_York")
    site = SimpleNamespace(time_zone="America/New_York")
    local_today = moment.astimezone(zone).date()
    done = demo._days_ago_at_site(site, 181).astimezone(zone).date()  # type: ignore[arg-type]
    assert local_today - done == dt.timedelta(days=181)
    utc_done = (moment - dt.timedelta(days=181)).astimezone(zone).date()
    assert local_today - utc_done == dt.timedelta(days=180)  # the old arithmetic, a day short
