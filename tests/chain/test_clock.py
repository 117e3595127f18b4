"""The stability clock: it starts at the end of collection, runs for the product's hours,
stops when manufacturing starts, and a deviation is raised once when it runs out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.chain.conftest import World, bag_label
from vein2vein.chain import selectors, services
from vein2vein.chain.models import TherapyOrder
from vein2vein.core.models import AuditEvent
from vein2vein.core.time import now
from vein2vein.quality.models import Deviation

pytestmark = pytest.mark.django_db

H = dt.timedelta(hours=1)


def _collected(world: World, walk, pid: str, ended: dt.datetime) -> TherapyOrder:  # type: ignore[no-untyped-def]
    """A collected order for a new patient whose collection ended at `ended`."""
    p = services.enroll_patient(
        actor=world.clinician,
        site_id=world.clinic.pk,
        site_patient_id=pid,
        given_name="C",
        family_name="Lock",
        date_of_birth="1971-03-14",
        weight_kg="70",
        diagnosis="DLBCL",
        consent_status="consented",
        consent_date="2026-01-01",
    )
    o = walk("scheduled", patient=p)
    services.record_collection(
        actor=world.collector,
        order_id=o.pk,
        started_at=ended - 3 * H,
        ended_at=ended,
        volume_ml="250",
        anticoagulant="ACD-A",
    )
    o.refresh_from_db()
    return o


def _receive(world: World, o: TherapyOrder, at: dt.datetime) -> None:
    services.receive_collection(
        actor=world.operator,
        order_id=o.pk,
        scans=bag_label(o),
        arrival_temperature_c="5",
        occurred_at=at,
    )


# --- the selector -----------------------------------------------------------------------


def test_no_clock_before_collection(walk) -> None:  # type: ignore[no-untyped-def]
    clock = selectors.stability_clock(walk("scheduled"))
    assert (clock.deadline, clock.remaining, clock.hours_left, clock.expired) == (
        None,
        None,
        None,
        False,
    )
    assert not clock.running
    assert clock.label == "not started (no collection yet)"


def test_hours_left_while_it_runs(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("collected")
    deadline = o.collection.ended_at + 48 * H
    assert o.stability_deadline == deadline
    clock = selectors.stability_clock(o, at=deadline - dt.timedelta(hours=10, minutes=30))
    assert (clock.running, clock.expired, clock.hours_left) == (True, False, Decimal("10.5"))
    assert clock.label == "10.5 h left"
    live = selectors.stability_clock(o)
    assert Decimal("45.9") <= live.hours_left <= Decimal("46.0")  # type: ignore[operator]
    assert selectors.vein_to_vein(o)["clock"].deadline == deadline


def test_expired_once_the_time_is_up(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    clock = selectors.stability_clock(o, at=o.stability_deadline + 3 * H)
    assert (clock.expired, clock.hours_left, clock.label) == (
        True,
        Decimal("-3.0"),
        "EXPIRED 3.0 h ago",
    )


def test_manufacturing_stops_the_clock(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("received")
    services.advance_order(actor=world.operator, order_id=o.pk, to_status="in_manufacturing")
    o.refresh_from_db()
    margin = o.stability_deadline - o.manufacturing_started_at
    hours = Decimal(margin.total_seconds() / 3600).quantize(Decimal("0.1"))
    for at in (None, o.stability_deadline + 10 * H):  # stopped: time no longer counts
        clock = selectors.stability_clock(o, at=at)
        assert (clock.running, clock.expired, clock.remaining) == (False, False, None)
        assert clock.stopped_at == o.manufacturing_started_at
        assert clock.label == f"stopped: manufacturing started {hours} h before the limit"
    assert Deviation.objects.count() == 0


def test_a_late_start_raises_a_deviation_and_stops_the_clock(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    ended = now() - 50 * H  # deadline two hours ago
    o = _collected(world, walk, "P-1", ended)
    _receive(world, o, ended + 40 * H)  # received in time
    assert Deviation.objects.count() == 0
    services.advance_order(actor=world.operator, order_id=o.pk, to_status="in_manufacturing")
    o.refresh_from_db()
    dev = Deviation.objects.get()
    assert (dev.category, dev.title, dev.site) == (
        "process",
        f"Stability time exceeded for {o.coi}",
        world.mfg,
    )
    assert "within 48 h of the end of collection" in dev.description
    assert o.stability_deviation == dev.number
    event = AuditEvent.objects.get(action="chain.order.advanced", record_id=str(o.pk))
    assert event.changes["stability_deviation"] == {"old": "", "new": dev.number}
    assert event.changes["manufacturing_started_at"] == {
        "old": None,
        "new": o.manufacturing_started_at.isoformat(),
    }
    clock = selectors.stability_clock(o)
    assert (clock.running, clock.expired, clock.deviation) == (False, True, dev.number)
    assert clock.label.startswith("stopped: manufacturing started 2.0 h after the limit")
    assert services.check_stability_clocks() == []  # stopped: nothing more to raise


def test_a_start_stated_before_the_deadline_is_on_time(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    ended = now() - 50 * H
    o = _collected(world, walk, "P-1", ended)
    _receive(world, o, ended + 40 * H)
    services.advance_order(
        actor=world.operator,
        order_id=o.pk,
        to_status="in_manufacturing",
        occurred_at=ended + 47 * H,  # entered late, happened in time
    )
    o.refresh_from_db()
    assert (o.stability_deviation, Deviation.objects.count()) == ("", 0)
    assert selectors.stability_clock(o).label == (
        "stopped: manufacturing started 1.0 h before the limit"
    )


# --- the check that raises deviations ---------------------------------------------------


def test_check_raises_one_deviation_per_expired_order_once(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    today = world.today()
    services.set_capacity(
        actor=world.supervisor, site_id=world.mfg.pk, start=today, end=today, capacity=10
    )
    old = now() - 50 * H
    expired_collected = _collected(world, walk, "P-1", old)
    expired_in_transit = _collected(world, walk, "P-2", old)
    services.hand_off(
        actor=world.collector,
        order_id=expired_in_transit.pk,
        scanned_text=expired_in_transit.coi,
        to_custodian="Courier",
        to_location="Van",
        to_status="in_transit",
        occurred_at=old + H,
    )
    expired_received = _collected(world, walk, "P-3", old)
    _receive(world, expired_received, old + 40 * H)
    fresh = _collected(world, walk, "P-4", now() - 2 * H)
    manufacturing = _collected(world, walk, "P-5", old)
    _receive(world, manufacturing, old + 40 * H)
    services.advance_order(
        actor=world.operator,
        order_id=manufacturing.pk,
        to_status="in_manufacturing",
        occurred_at=old + 41 * H,
    )
    cancelled = _collected(world, walk, "P-6", old)
    services.cancel_order(actor=world.clinician, order_id=cancelled.pk, reason="Withdrawn")
    assert Deviation.objects.count() == 0

    raised = services.check_stability_clocks()
    assert sorted(raised) == sorted(
        [expired_collected.coi, expired_in_transit.coi, expired_received.coi]
    )
    devs = {d.source_id: d for d in Deviation.objects.all()}
    assert set(devs) == {
        str(o.pk) for o in (expired_collected, expired_in_transit, expired_received)
    }
    for o in (expired_collected, expired_in_transit, expired_received):
        o.refresh_from_db()
        dev = devs[str(o.pk)]
        assert o.stability_deviation == dev.number
        assert (dev.category, dev.site, dev.raised_by, dev.status) == (
            "process",
            world.mfg,
            None,
            "open",
        )
        event = AuditEvent.objects.get(action="chain.order.stability_expired", record_id=str(o.pk))
        assert event.changes["stability_deviation"] == {"old": "", "new": dev.number}
        assert selectors.stability_clock(o).deviation == dev.number
    # Idempotent: a second run raises nothing.
    before = AuditEvent.objects.count()
    assert services.check_stability_clocks() == []
    assert (Deviation.objects.count(), AuditEvent.objects.count()) == (3, before)
    # The fresh order runs out later, and is then raised, once.
    later = fresh.stability_deadline + H
    assert services.check_stability_clocks(at=later) == [fresh.coi]
    assert services.check_stability_clocks(at=later) == []
    assert Deviation.objects.count() == 4


def test_a_deviation_raised_at_receipt_is_not_raised_again(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = _collected(world, walk, "P-1", now() - 50 * H)
    _receive(world, o, now())  # late: the receipt raises it
    assert Deviation.objects.count() == 1
    assert services.check_stability_clocks() == []
    services.advance_order(actor=world.operator, order_id=o.pk, to_status="in_manufacturing")
    assert Deviation.objects.count() == 1
