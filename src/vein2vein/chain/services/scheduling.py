"""Manufacturing slots: capacity per facility per day, and the bookings that reserve it.

Booking a collection day reserves one of the manufacturing facility's slots for that day;
the capacity row is locked while counting, so two bookers never take the last slot twice.
Rescheduling and cancelling need a reason and keep the old booking (released, not deleted).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from vein2vein.core import audit
from vein2vein.core.choices import SiteKind
from vein2vein.core.errors import Conflict, ValidationFailed
from vein2vein.core.models import Site, User
from vein2vein.core.permissions import require
from vein2vein.core.time import now

from ..choices import HOLDS_SLOT, BookingStatus, OrderAction, OrderStatus, order_allows
from ..models import SlotBooking, SlotCapacity, TherapyOrder
from ..permissions import ChainPerm
from . import _common as c

MAX_CAPACITY = 100
MAX_RANGE_DAYS = 366
BOOKING_HORIZON_DAYS = 366


def set_capacity(
    *,
    actor: User,
    site_id: int,
    start: object,
    end: object,
    capacity: object,
    weekdays: list[int] | None = None,
    reason: str = "",
) -> list[SlotCapacity]:
    """Set how many collections `site` takes in per day from `start` to `end` (inclusive),
    on the given ISO weekdays (1 = Monday; default every day). A day may not be set below
    the bookings it already holds."""
    at = c.site(site_id)
    require(actor, ChainPerm.CAPACITY_MANAGE, at)
    if at.kind != SiteKind.MANUFACTURING:
        raise ValidationFailed(f"{at.code} is not a manufacturing facility", field="site_id")
    first = c.date(start, "start")
    last = c.date(end, "end")
    assert first is not None and last is not None
    if last < first:
        raise ValidationFailed("end is before start", field="end")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise ValidationFailed(f"set at most {MAX_RANGE_DAYS} days at a time", field="end")
    if first < c.today_at(at):
        raise ValidationFailed(f"start {first} is in the past", field="start")
    slots = c.number(capacity, "capacity", low=0, high=MAX_CAPACITY, places=0)
    assert slots is not None
    days_of_week = set(range(1, 8)) if weekdays in (None, []) else set()
    for weekday in weekdays or []:
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 1 <= weekday <= 7:
            raise ValidationFailed("weekdays must be ISO weekday numbers 1-7", field="weekdays")
        days_of_week.add(weekday)
    why = c.text(reason, "reason", max_length=2000, required=False)
    out: list[SlotCapacity] = []
    with transaction.atomic():
        day = first
        while day <= last:
            if day.isoweekday() in days_of_week:
                out.append(_set_day(actor=actor, at=at, day=day, slots=int(slots), why=why))
            day += dt.timedelta(days=1)
    return out


def _set_day(*, actor: User, at: Site, day: dt.date, slots: int, why: str) -> SlotCapacity:
    row = (
        SlotCapacity.objects.select_for_update(no_key=True, of=("self",))
        .filter(site=at, day=day)
        .first()
    )
    booked = _booked(at, day)
    if slots < booked:
        raise Conflict(
            f"{day} already has {booked} booked; capacity cannot go below that", field="capacity"
        )
    if row is None:
        row = SlotCapacity.objects.create(
            site=at, day=day, capacity=slots, set_by=actor, set_at=now()
        )
        audit.append_event(
            actor=actor,
            action="chain.capacity.set",
            record=row,
            changes={
                "site": {"old": None, "new": at.code},
                "day": {"old": None, "new": day},
                "capacity": {"old": None, "new": slots},
            },
            reason=why,
        )
    elif row.capacity != slots:
        old = row.capacity
        row.capacity, row.set_by, row.set_at = slots, actor, now()
        row.save(update_fields=["capacity", "set_by", "set_at"])
        audit.append_event(
            actor=actor,
            action="chain.capacity.set",
            record=row,
            changes={"capacity": {"old": old, "new": slots}},
            reason=why,
        )
    return row


def _booked(at: Site, day: dt.date) -> int:
    return SlotBooking.objects.filter(site=at, day=day, status__in=HOLDS_SLOT).count()


def _reserve(*, actor: User, o: TherapyOrder, day: dt.date) -> SlotBooking:
    """Inside the caller's transaction, with the order locked: take one slot on `day`."""
    at = o.manufacturing_site
    row = (
        SlotCapacity.objects.select_for_update(no_key=True, of=("self",))
        .filter(site=at, day=day)
        .first()
    )
    if row is None or row.capacity == 0:
        raise Conflict(f"{at.code} takes no collections on {day}", field="day")
    booked = _booked(at, day)
    if booked >= row.capacity:
        raise Conflict(
            f"{at.code} is full on {day}: {booked} of {row.capacity} slots booked", field="day"
        )
    booking = SlotBooking.objects.create(
        order=o, site=at, day=day, status=BookingStatus.BOOKED, booked_by=actor, booked_at=now()
    )
    audit.append_event(
        actor=actor,
        action="chain.slot.booked",
        record=booking,
        changes=audit.created(audit.snapshot(booking, ("order", "site", "day", "status"))),
    )
    return booking


def _check_day(o: TherapyOrder, value: object) -> dt.date:
    day = c.date(value, "day")
    assert day is not None
    today = c.today_at(o.manufacturing_site)
    if day < today:
        raise ValidationFailed(f"day {day} is in the past", field="day")
    if day > today + dt.timedelta(days=BOOKING_HORIZON_DAYS):
        raise ValidationFailed(
            f"day {day} is more than {BOOKING_HORIZON_DAYS} days ahead", field="day"
        )
    return day


def _require_planner(actor: User, o: TherapyOrder) -> None:
    c.require_at_any(
        actor,
        ChainPerm.SLOT_BOOK,
        [o.ordering_site, o.collection_site, o.manufacturing_site],
        "booking a collection slot",
    )


def book_slot(*, actor: User, order_id: int, day: object) -> SlotBooking:
    """Book the order's collection on `day`, reserving a manufacturing slot."""
    found = c.order(order_id)
    _require_planner(actor, found)
    wanted = _check_day(found, day)
    with transaction.atomic():
        o = c.locked_order(found.pk)
        if not order_allows(OrderAction.BOOK, o.status):
            raise Conflict(
                f"order {o.coi} is {OrderStatus(o.status).label.lower()}; "
                "reschedule instead of booking again"
                if o.status == OrderStatus.SCHEDULED
                else f"order {o.coi} is {OrderStatus(o.status).label.lower()}: nothing to book",
                field="order_id",
            )
        booking = _reserve(actor=actor, o=o, day=wanted)
        o.status = OrderStatus.SCHEDULED
        o.save(update_fields=["status"])
        audit.append_event(
            actor=actor,
            action="chain.order.scheduled",
            record=o,
            changes={
                "status": {"old": OrderStatus.ORDERED, "new": o.status},
                "collection_day": {"old": None, "new": wanted},
            },
        )
    return booking


def _active_booking(o: TherapyOrder) -> SlotBooking:
    booking = (
        SlotBooking.objects.select_for_update(no_key=True, of=("self",))
        .filter(order=o, status=BookingStatus.BOOKED)
        .first()
    )
    if booking is None:
        raise Conflict(f"order {o.coi} has no booked slot", field="order_id")
    return booking


def _release(booking: SlotBooking, *, actor: User, status: BookingStatus, why: str) -> None:
    booking.status = status
    booking.released_by, booking.released_at, booking.release_reason = actor, now(), why
    booking.save(update_fields=["status", "released_by", "released_at", "release_reason"])
    audit.append_event(
        actor=actor,
        action=f"chain.slot.{status}",
        record=booking,
        changes={"status": {"old": BookingStatus.BOOKED, "new": status}},
        reason=why,
    )


def reschedule_slot(*, actor: User, order_id: int, day: object, reason: str) -> SlotBooking:
    """Move the order's collection to another day; the old booking is kept, released."""
    found = c.order(order_id)
    _require_planner(actor, found)
    wanted = _check_day(found, day)
    why = c.reason(reason)
    with transaction.atomic():
        o = c.locked_order(found.pk)
        if not order_allows(OrderAction.RESCHEDULE, o.status):
            raise Conflict(
                f"order {o.coi} is {OrderStatus(o.status).label.lower()}; only a scheduled "
                "collection can be rescheduled",
                field="order_id",
            )
        old = _active_booking(o)
        if old.day == wanted:
            raise ValidationFailed(f"the collection is already booked on {wanted}", field="day")
        _release(old, actor=actor, status=BookingStatus.RESCHEDULED, why=why)
        booking = _reserve(actor=actor, o=o, day=wanted)
        audit.append_event(
            actor=actor,
            action="chain.order.rescheduled",
            record=o,
            changes={"collection_day": {"old": old.day, "new": wanted}},
            reason=why,
        )
    return booking


def cancel_booking(*, actor: User, order_id: int, reason: str) -> TherapyOrder:
    """Give the slot back; the order returns to *ordered* and can be booked again."""
    found = c.order(order_id)
    _require_planner(actor, found)
    why = c.reason(reason)
    with transaction.atomic():
        o = c.locked_order(found.pk)
        if not order_allows(OrderAction.RESCHEDULE, o.status):
            raise Conflict(
                f"order {o.coi} is {OrderStatus(o.status).label.lower()}; no booking to cancel",
                field="order_id",
            )
        booking = _active_booking(o)
        _release(booking, actor=actor, status=BookingStatus.CANCELLED, why=why)
        o.status = OrderStatus.ORDERED
        o.save(update_fields=["status"])
        audit.append_event(
            actor=actor,
            action="chain.order.unscheduled",
            record=o,
            changes={
                "status": {"old": OrderStatus.SCHEDULED, "new": o.status},
                "collection_day": {"old": booking.day, "new": None},
            },
            reason=why,
        )
    return o
