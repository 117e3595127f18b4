"""The apheresis collection: recorded by the collection facility, which assigns the DIN (and,
at an EU/EEA site, the SEC). Recording it starts the stability clock and the custody chain.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from vein2vein.core import audit
from vein2vein.core.errors import Conflict, ValidationFailed
from vein2vein.core.models import Site, User
from vein2vein.core.permissions import require
from vein2vein.core.services import _validate
from vein2vein.core.time import is_valid_zone, now
from vein2vein.standards import isbt128, sec

from ..choices import (
    Anticoagulant,
    BookingStatus,
    CustodyKind,
    IdentifierKind,
    OrderAction,
    OrderStatus,
    order_allows,
)
from ..models import Collection, SlotBooking, TherapyOrder
from ..permissions import ChainPerm
from . import _common as c

MAX_DURATION = dt.timedelta(hours=12)
COLLECTION_EDITABLE = (
    "started_at",
    "ended_at",
    "volume_ml",
    "anticoagulant",
    "wbc_10e9_per_l",
    "cd3_10e9_per_l",
)


def _values(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "started_at" in data:
        out["started_at"] = c.moment(data["started_at"], "started_at")
    if "ended_at" in data:
        out["ended_at"] = c.moment(data["ended_at"], "ended_at")
    if "volume_ml" in data:
        out["volume_ml"] = c.number(data["volume_ml"], "volume_ml", low=1, high=2000, places=1)
    if "anticoagulant" in data:
        out["anticoagulant"] = c.choice(
            data["anticoagulant"], "anticoagulant", Anticoagulant.values
        )
    for name in ("wbc_10e9_per_l", "cd3_10e9_per_l"):
        if name in data:
            out[name] = c.number(data[name], name, low=0, high=10000, places=2, required=False)
    return out


def _check_times(started: dt.datetime, ended: dt.datetime) -> None:
    if ended <= started:
        raise ValidationFailed("ended_at must be after started_at", field="ended_at")
    if ended - started > MAX_DURATION:
        raise ValidationFailed(
            "a collection lasting more than 12 hours is not plausible", field="ended_at"
        )


def _din(value: object, at: Site) -> isbt128.Din | None:
    """A DIN the collection facility assigned itself (scanned or keyed with its check
    character), or None to have one allocated from the facility's FIN."""
    raw = c.text(value, "din", max_length=40, required=False)
    if not raw:
        return None
    try:
        din = (
            isbt128.Din.parse(raw) if raw.startswith("=") else isbt128.parse_keyed_din(raw.upper())
        )
    except ValueError as exc:
        raise ValidationFailed(f"din: {exc}", field="din") from None
    if at.fin and din.fin != at.fin:
        raise ValidationFailed(
            f"din: DIN {din.eye_readable} was not assigned by {at.code} (FIN {at.fin})",
            field="din",
        )
    return din


def _sec(value: object, at: Site, din: str) -> str:
    raw = c.text(value, "sec", max_length=60, required=False)
    needed = at.country in sec.EU_EEA_COUNTRIES
    if not raw:
        if needed:
            raise ValidationFailed(
                f"sec is required: {at.code} is in {at.country}, where tissues and cells carry "
                "the Single European Code",
                field="sec",
            )
        return ""
    try:
        code = sec.parse(raw)
    except ValueError as exc:
        raise ValidationFailed(f"sec: {exc}", field="sec") from None
    if code.donation_number != din:
        raise ValidationFailed(
            f"sec: its donation number {code.donation_number} is not the DIN {din}", field="sec"
        )
    if at.country and code.country != at.country:
        raise ValidationFailed(
            f"sec: country {code.country} is not the collection site's ({at.country})",
            field="sec",
        )
    return code.text


def record_collection(
    *,
    actor: User,
    order_id: int,
    started_at: object,
    ended_at: object,
    volume_ml: object,
    anticoagulant: str,
    wbc_10e9_per_l: object = None,
    cd3_10e9_per_l: object = None,
    din: str = "",
    sec: str = "",
) -> Collection:
    """Record the collection of a scheduled order at its collection site."""
    found = c.order(order_id)
    at = found.collection_site
    require(actor, ChainPerm.COLLECTION_RECORD, at)
    values = _values(
        {
            "started_at": started_at,
            "ended_at": ended_at,
            "volume_ml": volume_ml,
            "anticoagulant": anticoagulant,
            "wbc_10e9_per_l": wbc_10e9_per_l,
            "cd3_10e9_per_l": cd3_10e9_per_l,
        }
    )
    _check_times(values["started_at"], values["ended_at"])
    given = _din(din, at)
    if given is None and not at.fin:
        raise ValidationFailed(
            f"din is required: {at.code} has no ISBT 128 FIN to allocate one from", field="din"
        )
    sec_text = sec
    if not is_valid_zone(at.time_zone):  # pragma: no cover - sites are validated on entry
        raise ValidationFailed(f"{at.code} has no valid time zone", field="order_id")
    with transaction.atomic():
        o = c.locked_order(found.pk)
        if not order_allows(OrderAction.COLLECT, o.status):
            raise Conflict(
                f"order {o.coi} is {OrderStatus(o.status).label.lower()}; a collection is "
                "recorded for a scheduled order",
                field="order_id",
            )
        if given is None:
            year, seq = c.next_identifier(IdentifierKind.DIN, at, values["ended_at"])
            number = isbt128.Din(at.fin, year, f"{seq:06d}").din
        else:
            number = given.din
        if Collection.objects.filter(din=number).exists():
            raise Conflict(f"DIN {number} is already used by another collection", field="din")
        collection = Collection(
            order=o,
            site=at,
            din=number,
            sec=_sec(sec_text, at, number),
            time_zone=at.time_zone,
            recorded_by=actor,
            recorded_at=now(),
            **values,
        )
        collection.save(force_insert=True)
        booking = (
            SlotBooking.objects.select_for_update(no_key=True, of=("self",))
            .filter(order=o, status=BookingStatus.BOOKED)
            .first()
        )
        if booking is not None:
            booking.status = BookingStatus.USED
            booking.save(update_fields=["status"])
        o.status = OrderStatus.COLLECTED
        o.stability_deadline = collection.ended_at + dt.timedelta(
            hours=o.product.max_hours_to_manufacture
        )
        c.append_custody(
            o=o,
            actor=actor,
            at_site=at,
            kind=CustodyKind.COLLECTED,
            item=f"Apheresis bag DIN {collection.din_eye_readable}",
            to_custodian=at.name,
            to_location=f"{at.code} apheresis unit",
            occurred_at=collection.ended_at,
            status_after=OrderStatus.COLLECTED,
            matched="DIN assigned at collection",
        )
        o.save(
            update_fields=[
                "status",
                "stability_deadline",
                "last_event_seq",
                "current_custodian",
                "current_location",
            ]
        )
        audit.append_event(
            actor=actor,
            action="chain.collection.recorded",
            record=collection,
            changes=audit.created(
                {"order": o.coi, **audit.snapshot(collection, Collection.RECORD_FIELDS)}
            ),
        )
        audit.append_event(
            actor=actor,
            action="chain.order.collected",
            record=o,
            changes={
                "status": {"old": OrderStatus.SCHEDULED, "new": o.status},
                "stability_deadline": {"old": None, "new": o.stability_deadline},
            },
        )
    return collection


def correct_collection(*, actor: User, order_id: int, reason: str, **fields: Any) -> Collection:
    """Correct what was recorded (times, volume, counts); the DIN is an identity and is not
    corrected here. A corrected end time moves the stability deadline with it."""
    found = c.order(order_id)
    require(actor, ChainPerm.COLLECTION_RECORD, found.collection_site)
    _validate.only_editable(fields, COLLECTION_EDITABLE)
    values = _values(fields)
    why = c.reason(reason)
    with transaction.atomic():
        o = c.locked_order(found.pk)
        collection = (
            Collection.objects.select_for_update(no_key=True, of=("self",)).filter(order=o).first()
        )
        if collection is None:
            raise Conflict(f"order {o.coi} has no collection to correct", field="order_id")
        changes = c.apply_correction(
            collection,
            values,
            fields=Collection.RECORD_FIELDS,
            check=lambda x: _check_times(x.started_at, x.ended_at),
        )
        audit.append_event(
            actor=actor,
            action="chain.collection.corrected",
            record=collection,
            changes=changes,
            reason=why,
        )
        if "ended_at" in changes and o.manufacturing_started_at is None:
            old = o.stability_deadline
            o.stability_deadline = collection.ended_at + dt.timedelta(
                hours=o.product.max_hours_to_manufacture
            )
            o.save(update_fields=["stability_deadline"])
            audit.append_event(
                actor=actor,
                action="chain.order.clock_corrected",
                record=o,
                changes={"stability_deadline": {"old": old, "new": o.stability_deadline}},
                reason=why,
            )
    return collection


def current_collection(o: TherapyOrder) -> Collection | None:
    return Collection.objects.filter(order=o).first()
