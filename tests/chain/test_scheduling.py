"""Manufacturing slots: capacity per facility per day, bookings that reserve it, reschedules
and cancellations with a reason that keep the old booking, and no over-booking, not even
when several planners race for the last slot."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connection

from tests.chain.conftest import World, refused, refused_roles
from vein2vein.chain import selectors, services
from vein2vein.chain.models import Patient, SlotBooking, SlotCapacity, TherapyOrder
from vein2vein.core.choices import Role
from vein2vein.core.errors import Conflict, DomainError, PermissionRefused, ValidationFailed
from vein2vein.core.models import AuditEvent

pytestmark = pytest.mark.django_db

PLANNERS = {Role.CLINICAL_SITE, Role.LOGISTICS, Role.SUPERVISOR}


def _day(world: World, offset: int) -> dt.date:
    return world.today() + dt.timedelta(days=offset)


def _patient(world: World, n: int) -> Patient:
    return services.enroll_patient(
        actor=world.clinician,
        site_id=world.clinic.pk,
        site_patient_id=f"S-{n}",
        given_name="Pat",
        family_name=f"Number {n}",
        date_of_birth="1985-05-05",
        weight_kg="70",
        diagnosis="DLBCL",
        consent_status="consented",
        consent_date="2026-03-01",
    )


def _order(world: World, n: int) -> TherapyOrder:
    """An order for a new patient (one open order per patient and product)."""
    return services.create_order(
        actor=world.clinician,
        patient_id=_patient(world, n).pk,
        product_id=world.product.pk,
        treating_physician="Dr. Rivera",
        requested_collection_date=world.today(world.clinic),
        collection_site_id=world.apheresis.pk,
        manufacturing_site_id=world.mfg.pk,
    )


# --- capacity --------------------------------------------------------------------------------


def test_capacity_is_set_per_day_on_chosen_weekdays(world: World) -> None:
    start = _day(world, 40)
    rows = services.set_capacity(
        actor=world.supervisor,
        site_id=world.mfg.pk,
        start=start,
        end=start + dt.timedelta(days=13),
        capacity=3,
        weekdays=[1, 3],
        reason="Two trains on Mondays and Wednesdays",
    )
    assert len(rows) == 4
    assert {r.day.isoweekday() for r in rows} == {1, 3}
    days = selectors.calendar(world.mfg, start, 14)
    assert [(d.day.isoweekday() in (1, 3), d.capacity) for d in days] == [
        (d.day.isoweekday() in (1, 3), 3 if d.day.isoweekday() in (1, 3) else 0) for d in days
    ]
    assert AuditEvent.objects.filter(action="chain.capacity.set").count() == 31 + 4
    # Setting the same value again writes nothing new.
    before = AuditEvent.objects.count()
    services.set_capacity(
        actor=world.supervisor, site_id=world.mfg.pk, start=start, end=start, capacity=3
    )
    assert AuditEvent.objects.count() == before + (1 if start.isoweekday() not in (1, 3) else 0)


def test_only_a_supervisor_sets_capacity(world: World, everyone) -> None:  # type: ignore[no-untyped-def]
    for role in refused_roles({Role.SUPERVISOR}):
        with refused(
            PermissionRefused,
            field=None,
            message="chain.capacity.manage needs one of these roles at MFG-B: supervisor",
        ):
            services.set_capacity(
                actor=everyone[role],
                site_id=world.mfg.pk,
                start=world.today(),
                end=world.today(),
                capacity=5,
            )


def test_a_supervisor_of_another_site_cannot_set_capacity_here(
    world: World, make_site, make_user
) -> None:  # type: ignore[no-untyped-def]
    other = make_site(code="MFG-X", kind="manufacturing", time_zone="UTC", fin="X1234")
    boss = make_user(Role.SUPERVISOR, other, username="sup-x")
    with refused(PermissionRefused, field=None, message="at MFG-B"):
        services.set_capacity(
            actor=boss, site_id=world.mfg.pk, start=world.today(), end=world.today(), capacity=5
        )


def test_bad_capacity_input_is_named(world: World, everyone) -> None:  # type: ignore[no-untyped-def]
    today = world.today()
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"site_id": world.clinic.pk}, "site_id", "CLIN-C is not a manufacturing facility"),
        ({"end": today - dt.timedelta(days=1)}, "end", "end is before start"),
        (
            {"start": today - dt.timedelta(days=1), "end": today},
            "start",
            f"start {today - dt.timedelta(days=1)} is in the past",
        ),
        ({"end": today + dt.timedelta(days=366)}, "end", "at most 366 days at a time"),
        ({"capacity": 101}, "capacity", "capacity must be from 0 to 100, not 101"),
        ({"capacity": -1}, "capacity", "capacity must be from 0 to 100"),
        ({"capacity": "1.5"}, "capacity", "at most 0 decimals"),
        ({"weekdays": [0]}, "weekdays", "ISO weekday numbers 1-7"),
        ({"weekdays": [True]}, "weekdays", "ISO weekday numbers 1-7"),
        ({"start": "tomorrow"}, "start", "start: not a date (tomorrow); use YYYY-MM-DD"),
    ]
    for over, field, message in cases:
        values: dict[str, Any] = {
            "site_id": world.mfg.pk,
            "start": today,
            "end": today,
            "capacity": 4,
        }
        values.update(over)
        with refused(ValidationFailed, field=field, message=message):
            services.set_capacity(actor=everyone["supervisor"], **values)


def test_capacity_cannot_go_below_the_bookings(world: World) -> None:
    a, b = _order(world, 1), _order(world, 2)
    day = _day(world, 3)
    for o in (a, b):
        services.book_slot(actor=world.clinician, order_id=o.pk, day=day)
    with refused(
        Conflict, field="capacity", message=f"{day} already has 2 booked; capacity cannot go below"
    ):
        services.set_capacity(
            actor=world.supervisor, site_id=world.mfg.pk, start=day, end=day, capacity=1
        )
    # A whole range is refused when one day in it would go below (nothing half-set).
    with refused(Conflict, field="capacity", message=f"{day} already has 2 booked"):
        services.set_capacity(
            actor=world.supervisor,
            site_id=world.mfg.pk,
            start=_day(world, 1),
            end=_day(world, 5),
            capacity=1,
        )
    services.cancel_booking(actor=world.clinician, order_id=b.pk, reason="Patient unwell")
    services.set_capacity(
        actor=world.supervisor, site_id=world.mfg.pk, start=day, end=day, capacity=1
    )
    assert SlotCapacity.objects.get(site=world.mfg, day=day).capacity == 1


# --- booking ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(PLANNERS))
def test_planners_book_a_slot(world: World, everyone, role: str) -> None:  # type: ignore[no-untyped-def]
    o = _order(world, 1)
    booking = services.book_slot(actor=everyone[role], order_id=o.pk, day=_day(world, 2))
    o.refresh_from_db()
    assert o.status == "scheduled"
    assert (booking.site, booking.day, booking.status, booking.booked_by) == (
        world.mfg,
        _day(world, 2),
        "booked",
        everyone[role],
    )
    assert AuditEvent.objects.filter(action="chain.slot.booked").count() == 1
    assert AuditEvent.objects.filter(action="chain.order.scheduled").count() == 1


def test_nobody_else_books_reschedules_or_cancels(world: World, walk, everyone) -> None:  # type: ignore[no-untyped-def]
    message = "booking a collection slot needs one of these roles at CLIN-C, APH-D, MFG-B"
    ordered = walk("ordered")
    scheduled = walk("scheduled", patient=_patient(world, 1))
    for role in refused_roles(PLANNERS):
        with refused(PermissionRefused, field=None, message=message):
            services.book_slot(actor=everyone[role], order_id=ordered.pk, day=_day(world, 2))
        with refused(PermissionRefused, field=None, message=message):
            services.reschedule_slot(
                actor=everyone[role], order_id=scheduled.pk, day=_day(world, 3), reason="x"
            )
        with refused(PermissionRefused, field=None, message=message):
            services.cancel_booking(actor=everyone[role], order_id=scheduled.pk, reason="x")


def test_a_planner_of_an_unrelated_site_cannot_book(
    world: World, walk, make_site, make_user
) -> None:  # type: ignore[no-untyped-def]
    other = make_site(code="CLIN-X", kind="clinical", time_zone="UTC", fin="")
    stranger = make_user(Role.CLINICAL_SITE, other, username="clin-x")
    o = walk("ordered")
    with refused(PermissionRefused, field=None, message="booking a collection slot needs"):
        services.book_slot(actor=stranger, order_id=o.pk, day=_day(world, 2))


def test_booking_beyond_capacity_is_refused(world: World) -> None:
    day = _day(world, 4)
    orders = [_order(world, n) for n in range(3)]
    for o in orders[:2]:
        services.book_slot(actor=world.clinician, order_id=o.pk, day=day)
    with refused(Conflict, field="day", message=f"MFG-B is full on {day}: 2 of 2 slots booked"):
        services.book_slot(actor=world.clinician, order_id=orders[2].pk, day=day)
    assert selectors.calendar(world.mfg, day, 1)[0].full


def test_a_closed_day_or_a_day_without_capacity_is_refused(world: World) -> None:
    o = _order(world, 1)
    closed = _day(world, 5)
    services.set_capacity(
        actor=world.supervisor, site_id=world.mfg.pk, start=closed, end=closed, capacity=0
    )
    with refused(Conflict, field="day", message=f"MFG-B takes no collections on {closed}"):
        services.book_slot(actor=world.clinician, order_id=o.pk, day=closed)
    unset = _day(world, 60)  # the world sets 31 days
    with refused(Conflict, field="day", message=f"MFG-B takes no collections on {unset}"):
        services.book_slot(actor=world.clinician, order_id=o.pk, day=unset)


def test_bad_days_are_named(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("ordered")
    yesterday = _day(world, -1)
    for day, message in (
        (yesterday, f"day {yesterday} is in the past"),
        (_day(world, 367), "is more than 366 days ahead"),
        ("next week", "day: not a date (next week); use YYYY-MM-DD"),
        (None, "day is required"),
    ):
        with refused(ValidationFailed, field="day", message=message):
            services.book_slot(actor=world.clinician, order_id=o.pk, day=day)


def test_an_order_is_booked_once(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("scheduled")
    with refused(Conflict, field="order_id", message="is collection scheduled; reschedule instead"):
        services.book_slot(actor=world.clinician, order_id=o.pk, day=_day(world, 2))
    collected = walk("collected", patient=_patient(world, 7))
    with refused(Conflict, field="order_id", message="is collected: nothing to book"):
        services.book_slot(actor=world.clinician, order_id=collected.pk, day=_day(world, 2))


# --- rescheduling and cancelling -----------------------------------------------------------------


def test_rescheduling_needs_a_reason_and_keeps_the_old_booking(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("scheduled")
    with refused(ValidationFailed, field="reason", message="reason is required"):
        services.reschedule_slot(
            actor=world.logistics, order_id=o.pk, day=_day(world, 3), reason=""
        )
    with refused(ValidationFailed, field="day", message="already booked on"):
        services.reschedule_slot(
            actor=world.logistics, order_id=o.pk, day=world.today(), reason="x"
        )
    new = services.reschedule_slot(
        actor=world.logistics, order_id=o.pk, day=_day(world, 3), reason="Apheresis chair broken"
    )
    old = SlotBooking.objects.get(order=o, day=world.today())
    assert (old.status, old.release_reason, old.released_by) == (
        "rescheduled",
        "Apheresis chair broken",
        world.logistics,
    )
    assert old.released_at is not None
    assert (new.status, new.day) == ("booked", _day(world, 3))
    o.refresh_from_db()
    assert o.status == "scheduled"
    event = AuditEvent.objects.get(action="chain.order.rescheduled")
    assert event.changes["collection_day"] == {
        "old": str(world.today()),
        "new": str(_day(world, 3)),
    }
    assert event.reason == "Apheresis chair broken"
    cal = selectors.calendar(world.mfg, world.today(), 4)
    assert [d.booked for d in cal] == [0, 0, 0, 1]


def test_rescheduling_onto_a_full_day_changes_nothing(world: World) -> None:
    full = _day(world, 6)
    for n in (1, 2):
        services.book_slot(actor=world.clinician, order_id=_order(world, n).pk, day=full)
    o = _order(world, 3)
    services.book_slot(actor=world.clinician, order_id=o.pk, day=_day(world, 7))
    with refused(Conflict, field="day", message=f"MFG-B is full on {full}"):
        services.reschedule_slot(actor=world.clinician, order_id=o.pk, day=full, reason="x")
    assert SlotBooking.objects.get(order=o).status == "booked"


def test_only_a_scheduled_collection_is_rescheduled(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("ordered")
    with refused(Conflict, field="order_id", message="only a scheduled collection can be"):
        services.reschedule_slot(
            actor=world.clinician, order_id=o.pk, day=_day(world, 2), reason="x"
        )
    with refused(Conflict, field="order_id", message="is ordered; no booking to cancel"):
        services.cancel_booking(actor=world.clinician, order_id=o.pk, reason="x")


def test_cancelling_a_booking_needs_a_reason_and_frees_the_slot(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("scheduled")
    with refused(ValidationFailed, field="reason", message="reason is required"):
        services.cancel_booking(actor=world.supervisor, order_id=o.pk, reason="  ")
    services.cancel_booking(actor=world.supervisor, order_id=o.pk, reason="Insurance pending")
    o.refresh_from_db()
    assert o.status == "ordered"
    old = SlotBooking.objects.get(order=o)
    assert (old.status, old.release_reason) == ("cancelled", "Insurance pending")
    assert selectors.calendar(world.mfg, world.today(), 1)[0].booked == 0
    again = services.book_slot(actor=world.clinician, order_id=o.pk, day=world.today())
    assert again.pk != old.pk
    assert list(SlotBooking.objects.filter(order=o).values_list("status", flat=True)) == [
        "cancelled",
        "booked",
    ]


# --- the calendar ----------------------------------------------------------------------------


def test_the_calendar_counts_what_holds_a_slot(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    today = world.today()
    collected = walk("collected")  # its booking is used: the slot stays taken
    booked = _order(world, 1)
    services.book_slot(actor=world.clinician, order_id=booked.pk, day=_day(world, 1))
    moved = _order(world, 2)
    services.book_slot(actor=world.clinician, order_id=moved.pk, day=_day(world, 1))
    services.reschedule_slot(
        actor=world.clinician, order_id=moved.pk, day=_day(world, 2), reason="r"
    )
    dropped = _order(world, 3)
    services.book_slot(actor=world.clinician, order_id=dropped.pk, day=_day(world, 2))
    services.cancel_booking(actor=world.clinician, order_id=dropped.pk, reason="r")
    assert SlotBooking.objects.get(order=collected).status == "used"
    days = selectors.calendar(world.mfg, today, 3)
    assert [(d.day, d.capacity, d.booked, d.free, d.full) for d in days] == [
        (today, 2, 1, 1, False),
        (_day(world, 1), 2, 1, 1, False),
        (_day(world, 2), 2, 1, 1, False),
    ]
    # Beyond the capacity set, and at another site: nothing to book.
    assert [
        (d.capacity, d.booked, d.full) for d in selectors.calendar(world.mfg, _day(world, 31), 2)
    ] == [
        (0, 0, True),
        (0, 0, True),
    ]
    assert all(d.booked == 0 for d in selectors.calendar(world.clinic, today, 3))
    # The used slot counts against capacity too: one more fills today.
    services.book_slot(actor=world.clinician, order_id=_order(world, 4).pk, day=today)
    late = _order(world, 5)
    with refused(Conflict, field="day", message=f"MFG-B is full on {today}: 2 of 2"):
        services.book_slot(actor=world.clinician, order_id=late.pk, day=today)


# --- the race for the last slot ------------------------------------------------------------------

RACERS = 6


@pytest.mark.xdist_group("concurrency")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_for_the_last_slot_exactly_one_wins(world: World) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the SQLite test database is in memory, one connection only")
    day = _day(world, 8)
    services.set_capacity(
        actor=world.supervisor, site_id=world.mfg.pk, start=day, end=day, capacity=1
    )
    orders = [_order(world, n) for n in range(RACERS)]
    start = threading.Barrier(RACERS)
    outcomes: dict[int, object] = {}

    def book(o: TherapyOrder) -> None:
        try:
            start.wait(timeout=30)
            outcomes[o.pk] = services.book_slot(actor=world.clinician, order_id=o.pk, day=day)
        except DomainError as exc:
            outcomes[o.pk] = exc
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=book, args=(o,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(outcomes) == RACERS
    won = [v for v in outcomes.values() if isinstance(v, SlotBooking)]
    lost = [v for v in outcomes.values() if not isinstance(v, SlotBooking)]
    assert len(won) == 1
    assert all(isinstance(e, Conflict) and e.field == "day" for e in lost), lost
    assert all(f"MFG-B is full on {day}: 1 of 1" in e.message for e in lost)  # type: ignore[attr-defined]
    assert SlotBooking.objects.filter(day=day, status="booked").count() == 1
    assert selectors.calendar(world.mfg, day, 1)[0].booked == 1
    statuses = sorted(TherapyOrder.objects.filter(pk__in=outcomes).values_list("status", flat=True))
    assert statuses == ["ordered"] * (RACERS - 1) + ["scheduled"]
