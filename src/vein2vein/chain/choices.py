"""Statuses and kinds of the chain of identity, with the allowed transitions next to them."""

from __future__ import annotations

from django.db import models


class ConsentStatus(models.TextChoices):
    CONSENTED = "consented", "Consented"
    NOT_CONSENTED = "not_consented", "Not (yet) consented"
    WITHDRAWN = "withdrawn", "Consent withdrawn"


class OrderStatus(models.TextChoices):
    """Where a patient's cells are, vein to vein."""

    ORDERED = "ordered", "Ordered"
    SCHEDULED = "scheduled", "Collection scheduled"
    COLLECTED = "collected", "Collected"
    IN_TRANSIT = "in_transit", "In transit"
    RECEIVED = "received", "Received"
    IN_MANUFACTURING = "in_manufacturing", "In manufacturing"
    IN_QC = "in_qc", "In QC"
    RELEASED = "released", "Released"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    INFUSED = "infused", "Infused"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


S = OrderStatus
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    S.ORDERED: frozenset({S.SCHEDULED, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.ORDERED, S.SCHEDULED, S.COLLECTED, S.CANCELLED}),
    S.COLLECTED: frozenset({S.IN_TRANSIT, S.RECEIVED, S.REJECTED, S.CANCELLED}),
    S.IN_TRANSIT: frozenset({S.IN_TRANSIT, S.RECEIVED, S.REJECTED, S.CANCELLED}),
    # QA may reject received material (a quarantined receipt's disposition).
    S.RECEIVED: frozenset({S.IN_MANUFACTURING, S.REJECTED, S.CANCELLED}),
    S.IN_MANUFACTURING: frozenset({S.IN_QC, S.REJECTED}),
    S.IN_QC: frozenset({S.RELEASED, S.REJECTED}),
    S.RELEASED: frozenset({S.SHIPPED}),
    S.SHIPPED: frozenset({S.SHIPPED, S.DELIVERED}),
    S.DELIVERED: frozenset({S.INFUSED}),
    S.INFUSED: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
}

# The stages later apps move an order into (manufacturing, QC, release, logistics, clinic)
# through `advance_order`; the chain's own services set the others.
ADVANCE_TARGETS = frozenset({S.IN_MANUFACTURING, S.IN_QC, S.RELEASED, S.REJECTED, S.INFUSED})
# A handoff may also say the material is now on its way or has arrived.
HANDOFF_TARGETS = frozenset({S.IN_TRANSIT, S.SHIPPED, S.DELIVERED})
# Statuses in which material exists and can change hands.
CUSTODY_STATUSES = frozenset(
    {
        S.COLLECTED,
        S.IN_TRANSIT,
        S.RECEIVED,
        S.IN_MANUFACTURING,
        S.IN_QC,
        S.RELEASED,
        S.SHIPPED,
        S.DELIVERED,
    }
)


class OrderAction(models.TextChoices):
    """What a person can do to an order besides moving its stage; `ORDER_ACTIONS` says in
    which statuses. The services refuse and the pages offer from the same table."""

    BOOK = "book", "Book a collection slot"
    RESCHEDULE = "reschedule", "Reschedule or cancel the booking"
    COLLECT = "collect", "Record the collection"
    HANDOFF = "handoff", "Hand off"
    RECEIVE = "receive", "Receive at manufacturing"


ORDER_ACTIONS: dict[str, frozenset[str]] = {
    OrderAction.BOOK: frozenset({S.ORDERED}),
    OrderAction.RESCHEDULE: frozenset({S.SCHEDULED}),
    OrderAction.COLLECT: frozenset({S.SCHEDULED}),
    OrderAction.HANDOFF: CUSTODY_STATUSES,
    OrderAction.RECEIVE: frozenset({S.COLLECTED, S.IN_TRANSIT}),
}


def order_allows(action: str, status: str) -> bool:
    return status in ORDER_ACTIONS[action]


# The stability clock of fresh material runs until manufacturing starts.
CLOCK_RUNNING = frozenset({S.COLLECTED, S.IN_TRANSIT, S.RECEIVED})
OPEN_STATUSES = frozenset(set(S.values) - {S.INFUSED, S.REJECTED, S.CANCELLED})


class BookingStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    RESCHEDULED = "rescheduled", "Rescheduled"
    CANCELLED = "cancelled", "Cancelled"
    USED = "used", "Used (collected)"


# Bookings that hold a slot: a collected order still occupies its manufacturing slot.
HOLDS_SLOT = frozenset({BookingStatus.BOOKED, BookingStatus.USED})


class Anticoagulant(models.TextChoices):
    ACD_A = "ACD-A", "ACD-A"
    ACD_B = "ACD-B", "ACD-B"
    HEPARIN = "heparin", "Heparin"
    CITRATE = "citrate", "Sodium citrate"


class CustodyKind(models.TextChoices):
    COLLECTED = "collected", "Collected"
    HANDOFF = "handoff", "Handoff"
    RECEIVED = "received", "Received"
    RECEIPT_REJECTED = "receipt_rejected", "Rejected at receipt"
    STAGE = "stage", "Stage change"


class ReceiptDecision(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    # Received outside the product's temperature range: held until QA dispositions it.
    QUARANTINE = "quarantine", "Quarantined (QA disposition pending)"


# What the goods-in operator may decide; quarantine follows from the temperature, and only
# QA's disposition takes a receipt out of it.
RECEIPT_VERDICTS = (ReceiptDecision.ACCEPTED, ReceiptDecision.REJECTED)


class IdentifierKind(models.TextChoices):
    COI = "coi", "Chain of identity identifier"
    DIN = "din", "Donation identification number"
