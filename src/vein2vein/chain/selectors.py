"""Reads the chain pages, API and later apps share: who may see which orders and patients,
the slot calendar, the stability clock and the vein-to-vein timeline.

Scope: a user sees the orders of the sites where they hold a role (ordering, collection or
manufacturing site); a clinical-site user sees only their own sites' patients. Personal data
(name, date of birth) is shown only where `can_see_identity` says so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet

from vein2vein.core.choices import Role, SiteKind
from vein2vein.core.models import Site, User
from vein2vein.core.permissions import (
    ROLE_PERMISSIONS,
    active_assignments_where,
    active_roles,
    held_assignments,
)
from vein2vein.core.time import now

from .choices import CLOCK_RUNNING, HOLDS_SLOT, CustodyKind, OrderStatus, ReceiptDecision
from .models import (
    Collection,
    CustodyEvent,
    Patient,
    Receipt,
    SlotBooking,
    SlotCapacity,
    TherapyOrder,
    TherapyProduct,
)
from .permissions import ChainPerm

ORDER_RELATED = (
    "patient",
    "patient__site",
    "product",
    "ordering_site",
    "collection_site",
    "manufacturing_site",
)


def site_ids_of(user: User) -> list[int]:
    """Sites where `user` holds an active role."""
    if not user.is_authenticated:
        return []
    return list(dict.fromkeys(a.site_id for a in active_assignments_where(user)))


def orders_for(user: User) -> QuerySet[TherapyOrder]:
    ids = site_ids_of(user)
    return (
        TherapyOrder.objects.select_related(*ORDER_RELATED)
        .filter(
            Q(ordering_site_id__in=ids)
            | Q(collection_site_id__in=ids)
            | Q(manufacturing_site_id__in=ids)
        )
        .order_by("-ordered_at")
    )


def order_for(user: User, order_id: int) -> TherapyOrder | None:
    return orders_for(user).filter(pk=order_id).first()


def order_by_coi(user: User, coi: str) -> TherapyOrder | None:
    return orders_for(user).filter(coi=coi.strip().upper().replace(" ", "")).first()


def identity_site_ids(user: User) -> set[int]:
    """Sites where `user` may see patients' personal data (the clinical role)."""
    if not user.is_authenticated:
        return set()
    roles = ROLE_PERMISSIONS[ChainPerm.VIEW_IDENTITY]
    return {a.site_id for a in active_assignments_where(user, lambda a: a.role in roles)}


def can_see_identity(
    user: User, order: TherapyOrder | None = None, *, patient: Patient | None = None
) -> bool:
    """Name and date of birth: for the clinical roles at the patient's site or the order's
    collection site; everybody else works with the COI identifier."""
    ids = identity_site_ids(user)
    if patient is not None:
        return patient.site_id in ids
    if order is None:
        return False
    return order.ordering_site_id in ids or order.collection_site_id in ids


def patients_for(user: User) -> QuerySet[Patient]:
    """The patients a clinical-site user may see: those of their own sites."""
    return Patient.objects.select_related("site").filter(site_id__in=identity_site_ids(user))


def patient_enrolled(*, site: Site, site_patient_id: str) -> bool:
    """Whether the site has enrolled a patient under its own patient id (the demo asks)."""
    return Patient.objects.filter(site=site, site_patient_id=site_patient_id).exists()


def products(*, active_only: bool = False) -> QuerySet[TherapyProduct]:
    qs = TherapyProduct.objects.all()
    return qs.filter(is_active=True) if active_only else qs


# --- stability clock --------------------------------------------------------------------------


@dataclass(frozen=True)
class StabilityClock:
    deadline: dt.datetime | None
    stopped_at: dt.datetime | None  # manufacturing started
    remaining: dt.timedelta | None
    expired: bool
    deviation: str

    @property
    def running(self) -> bool:
        return self.deadline is not None and self.stopped_at is None

    @property
    def hours_left(self) -> Decimal | None:
        if self.remaining is None:
            return None
        return Decimal(self.remaining.total_seconds() / 3600).quantize(Decimal("0.1"))

    @property
    def label(self) -> str:
        if self.deadline is None:
            return "not started (no collection yet)"
        if self.stopped_at is not None:
            margin = self.deadline - self.stopped_at
            hours = Decimal(margin.total_seconds() / 3600).quantize(Decimal("0.1"))
            return (
                f"stopped: manufacturing started {hours} h before the limit"
                if margin >= dt.timedelta(0)
                else f"stopped: manufacturing started {-hours} h after the limit"
            )
        if self.expired:
            return f"EXPIRED {-(self.hours_left or 0)} h ago"
        return f"{self.hours_left} h left"


def stability_clock(order: TherapyOrder, at: dt.datetime | None = None) -> StabilityClock:
    moment = at or now()
    deadline = order.stability_deadline
    stopped = order.manufacturing_started_at
    if deadline is None:
        return StabilityClock(None, None, None, False, order.stability_deviation)
    if stopped is not None or order.status not in CLOCK_RUNNING:
        return StabilityClock(
            deadline, stopped, None, bool(stopped and stopped > deadline), order.stability_deviation
        )
    remaining = deadline - moment
    return StabilityClock(
        deadline, None, remaining, remaining < dt.timedelta(0), order.stability_deviation
    )


# --- timeline ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    event: CustodyEvent
    since_previous: dt.timedelta | None
    since_start: dt.timedelta
    late_entry: bool


LATE_AFTER = dt.timedelta(minutes=30)


def custody_events(order: TherapyOrder) -> QuerySet[CustodyEvent]:
    """One index range (order, seq): the same cost with 1,000 or 100,000 orders."""
    return (
        CustodyEvent.objects.filter(order_id=order.pk)
        .select_related("recorded_by", "site")
        .order_by("seq")
    )


def timeline(order: TherapyOrder) -> list[TimelineEntry]:
    """Every custody event in order, with the time since the previous one and since the
    first; an event recorded more than 30 minutes after it happened is a late entry (not the
    collection itself, which is recorded after it ends and shows both times)."""
    out: list[TimelineEntry] = []
    first: dt.datetime | None = None
    previous: dt.datetime | None = None
    for event in custody_events(order):
        first = first or event.occurred_at
        out.append(
            TimelineEntry(
                event=event,
                since_previous=(event.occurred_at - previous) if previous else None,
                since_start=event.occurred_at - first,
                late_entry=(
                    event.kind != CustodyKind.COLLECTED
                    and event.recorded_at - event.occurred_at > LATE_AFTER
                ),
            )
        )
        previous = event.occurred_at
    return out


def vein_to_vein(order: TherapyOrder) -> dict[str, Any]:
    """What the vein-to-vein page shows: the order, its collection and receipt, custody
    timeline, current custodian and location, status and stability clock."""
    entries = timeline(order)
    total = entries[-1].since_start if entries else None
    return {
        "order": order,
        "collection": Collection.objects.filter(order=order).first(),
        "receipt": Receipt.objects.filter(order=order).select_related("received_by").first(),
        "booking": SlotBooking.objects.filter(order=order, status__in=HOLDS_SLOT).first(),
        "timeline": entries,
        "total": total,
        "clock": stability_clock(order),
        "closed": order.status == OrderStatus.INFUSED,
    }


# --- slot calendar -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotDay:
    day: dt.date
    capacity: int
    booked: int

    @property
    def free(self) -> int:
        return max(self.capacity - self.booked, 0)

    @property
    def full(self) -> bool:
        return self.free == 0


def calendar(site: Site, start: dt.date, days: int) -> list[SlotDay]:
    """Capacity and bookings per day from `start`, for `days` days (two queries)."""
    end = start + dt.timedelta(days=days - 1)
    caps = dict(
        SlotCapacity.objects.filter(site=site, day__range=(start, end)).values_list(
            "day", "capacity"
        )
    )
    booked = dict(
        SlotBooking.objects.filter(site=site, day__range=(start, end), status__in=HOLDS_SLOT)
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    return [
        SlotDay(d, caps.get(d, 0), booked.get(d, 0))
        for d in (start + dt.timedelta(days=i) for i in range(days))
    ]


def manufacturing_sites() -> QuerySet[Site]:
    return Site.objects.filter(kind=SiteKind.MANUFACTURING, is_active=True).order_by("code")


def awaiting_receipt(user: User) -> QuerySet[TherapyOrder]:
    """Collected material on its way to a site where `user` receives."""
    ids = [
        a.site_id
        for a in held_assignments(user)
        if a.role in (Role.OPERATOR, Role.SUPERVISOR, Role.LOGISTICS)
    ]
    return (
        TherapyOrder.objects.select_related(*ORDER_RELATED)
        .filter(
            manufacturing_site_id__in=ids,
            status__in=[OrderStatus.COLLECTED, OrderStatus.IN_TRANSIT],
        )
        .order_by("stability_deadline")
    )


def clocks_running(user: User) -> QuerySet[TherapyOrder]:
    return (
        orders_for(user)
        .filter(status__in=CLOCK_RUNNING, stability_deadline__isnull=False)
        .order_by("stability_deadline")
    )


def roles_of(user: User) -> set[Role]:
    return active_roles(user)


def may_see_patient(user: User, patient_id: str) -> bool:
    """For core.privacy: may `user` read this patient's personal data in the audit trail?"""
    if not patient_id.isdigit():
        return False
    site_id = Patient.objects.filter(pk=int(patient_id)).values_list("site_id", flat=True).first()
    return site_id is not None and site_id in identity_site_ids(user)


def receipt_hold(order: TherapyOrder) -> str | None:
    """Why the order's received material may not go into manufacturing yet, or None: a
    quarantined receipt waits for QA's disposition. The start-batch interlock reads it."""
    receipt = Receipt.objects.filter(order_id=order.pk).only("decision").first()
    if receipt is None or receipt.decision != ReceiptDecision.QUARANTINE:
        return None
    return (
        f"order {order.coi}: its receipt is quarantined (received outside the product's "
        "temperature range); QA must disposition it before a batch starts"
    )
