"""Products as ordered, patients, therapy orders and their stages.

A product carries the fresh-material limits that drive the stability clock. A patient is
enrolled by a clinical site and corrected with a reason, never deleted. An order gets its
COI identifier (ISBT 128 DS 040 content: CH + the manufacturing site's FIN + year +
sequence) when it is created; later apps move it through manufacturing, QC, release and
infusion with `advance_order`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from vein2vein.core import audit
from vein2vein.core.choices import SiteKind
from vein2vein.core.errors import (
    Conflict,
    InterlockBlocked,
    NotFound,
    PermissionRefused,
    ValidationFailed,
)
from vein2vein.core.models import User
from vein2vein.core.permissions import active_roles, require
from vein2vein.core.services import _validate
from vein2vein.core.time import now
from vein2vein.quality.choices import DeviationCategory
from vein2vein.quality.services import raise_deviation
from vein2vein.standards import isbt128

from ..choices import (
    ADVANCE_TARGETS,
    CLOCK_RUNNING,
    BookingStatus,
    ConsentStatus,
    CustodyKind,
    IdentifierKind,
    OrderStatus,
)
from ..models import Patient, SlotBooking, TherapyOrder, TherapyProduct
from ..permissions import ADVANCE_ROLES, ChainPerm
from ..selectors import receipt_hold
from . import _common as c
from .scheduling import BOOKING_HORIZON_DAYS

# --- products --------------------------------------------------------------------------------

PRODUCT_EDITABLE = (
    "name",
    "isbt_description_code",
    "autologous",
    "max_hours_to_manufacture",
    "fresh_min_c",
    "fresh_max_c",
    "is_active",
)


def _product_values(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "code" in data:
        code = c.text(data["code"], "code", max_length=30).upper()
        if not all(ch.isalnum() or ch == "-" for ch in code) or not code.isascii():
            raise ValidationFailed("code may hold capital letters, digits and '-'", field="code")
        out["code"] = code
    if "name" in data:
        out["name"] = c.text(data["name"], "name", max_length=200)
    if "isbt_description_code" in data:
        pdc = c.text(
            data["isbt_description_code"], "isbt_description_code", max_length=5, required=False
        ).upper()
        if pdc and (problem := isbt128.product_description_code_problem(pdc)):
            raise ValidationFailed(
                f"isbt_description_code: {problem}", field="isbt_description_code"
            )
        out["isbt_description_code"] = pdc
    for flag in ("autologous", "is_active"):
        if flag in data:
            if not isinstance(data[flag], bool):
                raise ValidationFailed(f"{flag} must be true or false", field=flag)
            out[flag] = data[flag]
    if "max_hours_to_manufacture" in data:
        hours = c.number(
            data["max_hours_to_manufacture"], "max_hours_to_manufacture", low=1, high=720, places=0
        )
        out["max_hours_to_manufacture"] = int(hours or 0)
    for name in ("fresh_min_c", "fresh_max_c"):
        if name in data:
            out[name] = c.number(data[name], name, low=-196, high=40, places=1)
    return out


def _check_range(low: Decimal, high: Decimal) -> None:
    if low >= high:
        raise ValidationFailed(
            f"fresh_min_c ({low}) must be below fresh_max_c ({high})", field="fresh_min_c"
        )


def create_product(
    *,
    actor: User,
    code: str,
    name: str,
    max_hours_to_manufacture: int,
    fresh_min_c: object,
    fresh_max_c: object,
    isbt_description_code: str = "",
    autologous: bool = True,
) -> TherapyProduct:
    require(actor, ChainPerm.PRODUCT_MANAGE)
    values = _product_values(
        {
            "code": code,
            "name": name,
            "max_hours_to_manufacture": max_hours_to_manufacture,
            "fresh_min_c": fresh_min_c,
            "fresh_max_c": fresh_max_c,
            "isbt_description_code": isbt_description_code,
            "autologous": autologous,
        }
    )
    _check_range(values["fresh_min_c"], values["fresh_max_c"])
    with transaction.atomic():
        if TherapyProduct.objects.filter(code=values["code"]).exists():
            raise Conflict(f"product {values['code']} already exists", field="code")
        product = TherapyProduct.objects.create(**values)
        audit.append_event(
            actor=actor,
            action="chain.product.created",
            record=product,
            changes=audit.created(audit.snapshot(product, TherapyProduct.RECORD_FIELDS)),
        )
    return product


def update_product(*, actor: User, product_id: int, reason: str, **fields: Any) -> TherapyProduct:
    """Correct a product; orders already placed keep pointing at it, the audit keeps the old."""
    require(actor, ChainPerm.PRODUCT_MANAGE)
    _validate.only_editable(fields, PRODUCT_EDITABLE)
    values = _product_values(fields)
    why = c.reason(reason)
    with transaction.atomic():
        product = (
            TherapyProduct.objects.select_for_update(no_key=True, of=("self",))
            .filter(pk=c.record_id(product_id, "product_id"))
            .first()
        )
        if product is None:
            raise NotFound(f"product {product_id} does not exist", field="product_id")
        changes = c.apply_correction(
            product,
            values,
            fields=TherapyProduct.RECORD_FIELDS,
            check=lambda p: _check_range(p.fresh_min_c, p.fresh_max_c),
        )
        audit.append_event(
            actor=actor, action="chain.product.updated", record=product, changes=changes, reason=why
        )
    return product


# --- patients --------------------------------------------------------------------------------

PATIENT_EDITABLE = (
    "site_patient_id",
    "given_name",
    "family_name",
    "date_of_birth",
    "weight_kg",
    "diagnosis",
    "consent_status",
    "consent_date",
)


def _patient_values(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "site_patient_id" in data:
        pid = c.text(data["site_patient_id"], "site_patient_id", max_length=40)
        if not pid.isascii() or not pid.isprintable():
            raise ValidationFailed(
                "site_patient_id must be printable ASCII (it is printed and encoded on labels)",
                field="site_patient_id",
            )
        out["site_patient_id"] = pid
    for name in ("given_name", "family_name"):
        if name in data:
            out[name] = c.text(data[name], name, max_length=100)
    if "date_of_birth" in data:
        born = c.date(data["date_of_birth"], "date_of_birth")
        assert born is not None
        if born > now().date():
            raise ValidationFailed("date_of_birth is in the future", field="date_of_birth")
        if born.year < now().year - 120:
            raise ValidationFailed(
                "date_of_birth is more than 120 years ago", field="date_of_birth"
            )
        out["date_of_birth"] = born
    if "weight_kg" in data:
        out["weight_kg"] = c.number(data["weight_kg"], "weight_kg", low="0.5", high=400, places=1)
    if "diagnosis" in data:
        out["diagnosis"] = c.text(data["diagnosis"], "diagnosis", max_length=300)
    if "consent_status" in data:
        out["consent_status"] = c.choice(
            data["consent_status"], "consent_status", ConsentStatus.values
        )
    if "consent_date" in data:
        consent = c.date(data["consent_date"], "consent_date", required=False)
        if consent is not None and consent > now().date() + dt.timedelta(days=1):
            raise ValidationFailed("consent_date is in the future", field="consent_date")
        out["consent_date"] = consent
    return out


def _check_consent(p: Patient) -> None:
    if p.consent_status == ConsentStatus.CONSENTED and p.consent_date is None:
        raise ValidationFailed(
            "consent_date is required when the patient has consented", field="consent_date"
        )


def _check_corrected_patient(p: Patient) -> None:
    _check_consent(p)
    taken = Patient.objects.filter(site=p.site, site_patient_id=p.site_patient_id).exclude(pk=p.pk)
    if taken.exists():
        raise Conflict(
            f"{p.site.code} already has a patient {p.site_patient_id}", field="site_patient_id"
        )


def enroll_patient(
    *,
    actor: User,
    site_id: int,
    site_patient_id: str,
    given_name: str,
    family_name: str,
    date_of_birth: object,
    weight_kg: object,
    diagnosis: str,
    consent_status: str,
    consent_date: object = None,
) -> Patient:
    at = c.site(site_id)
    require(actor, ChainPerm.PATIENT_MANAGE, at)
    values = _patient_values(
        {
            "site_patient_id": site_patient_id,
            "given_name": given_name,
            "family_name": family_name,
            "date_of_birth": date_of_birth,
            "weight_kg": weight_kg,
            "diagnosis": diagnosis,
            "consent_status": consent_status,
            "consent_date": consent_date,
        }
    )
    p = Patient(site=at, enrolled_by=actor, enrolled_at=now(), **values)
    _check_consent(p)
    with transaction.atomic():
        if Patient.objects.filter(site=at, site_patient_id=p.site_patient_id).exists():
            raise Conflict(
                f"{at.code} already has a patient {p.site_patient_id}", field="site_patient_id"
            )
        try:
            with transaction.atomic():
                p.save(force_insert=True)
        except IntegrityError as exc:
            raise Conflict("that patient was just enrolled by someone else") from exc
        audit.append_event(
            actor=actor,
            action="chain.patient.enrolled",
            record=p,
            changes=audit.created(audit.snapshot(p, Patient.RECORD_FIELDS)),
        )
    return p


def correct_patient(*, actor: User, patient_id: int, reason: str, **fields: Any) -> Patient:
    """Correct a patient's details; the old values and the reason stay in the audit trail."""
    found = c.patient(patient_id)
    require(actor, ChainPerm.PATIENT_MANAGE, found.site)
    _validate.only_editable(fields, PATIENT_EDITABLE)
    values = _patient_values(fields)
    why = c.reason(reason)
    with transaction.atomic():
        p = Patient.objects.select_for_update(no_key=True, of=("self",)).get(pk=found.pk)
        changes = c.apply_correction(
            p, values, fields=Patient.RECORD_FIELDS, check=_check_corrected_patient
        )
        audit.append_event(
            actor=actor, action="chain.patient.corrected", record=p, changes=changes, reason=why
        )
    return p


# --- orders ----------------------------------------------------------------------------------


def create_order(
    *,
    actor: User,
    patient_id: int,
    product_id: int,
    treating_physician: str,
    requested_collection_date: object,
    collection_site_id: int,
    manufacturing_site_id: int,
) -> TherapyOrder:
    """Order a therapy for a consented patient; the order gets its COI identifier."""
    p = c.patient(patient_id)
    require(actor, ChainPerm.ORDER_CREATE, p.site)
    product = c.product(product_id)
    if not product.is_active:
        raise ValidationFailed(f"product {product.code} is not active", field="product_id")
    physician = c.text(treating_physician, "treating_physician", max_length=150)
    collection_site = c.site(collection_site_id, "collection_site_id")
    if collection_site.kind not in (SiteKind.APHERESIS, SiteKind.CLINICAL):
        raise ValidationFailed(
            f"{collection_site.code} is not an apheresis center or clinical site",
            field="collection_site_id",
        )
    mfg = c.site(manufacturing_site_id, "manufacturing_site_id")
    if mfg.kind != SiteKind.MANUFACTURING:
        raise ValidationFailed(
            f"{mfg.code} is not a manufacturing facility", field="manufacturing_site_id"
        )
    if not mfg.fin:
        raise ValidationFailed(
            f"{mfg.code} has no ISBT 128 FIN, so it cannot issue COI identifiers",
            field="manufacturing_site_id",
        )
    wanted = c.date(requested_collection_date, "requested_collection_date")
    assert wanted is not None
    if wanted < c.today_at(p.site):
        raise ValidationFailed(
            f"requested_collection_date {wanted} is in the past", field="requested_collection_date"
        )
    if wanted > c.today_at(p.site) + dt.timedelta(days=BOOKING_HORIZON_DAYS):
        raise ValidationFailed(
            f"requested_collection_date {wanted} is more than {BOOKING_HORIZON_DAYS} days ahead "
            "(no slot can be booked that far out)",
            field="requested_collection_date",
        )
    if p.consent_status != ConsentStatus.CONSENTED:
        raise ValidationFailed(
            f"patient {p.site_patient_id} has not consented "
            f"({ConsentStatus(p.consent_status).label.lower()})",
            field="patient_id",
        )
    with transaction.atomic():
        Patient.objects.select_for_update(no_key=True, of=("self",)).get(
            pk=p.pk
        )  # one open order at a time, per product
        open_order = (
            TherapyOrder.objects.filter(patient=p, product=product)
            .exclude(status__in=[OrderStatus.INFUSED, OrderStatus.REJECTED, OrderStatus.CANCELLED])
            .first()
        )
        if open_order is not None:
            raise Conflict(
                f"patient {p.site_patient_id} already has an open {product.code} order "
                f"({open_order.coi})",
                field="patient_id",
            )
        at = now()
        year, seq = c.next_identifier(IdentifierKind.COI, mfg, at)
        coi = isbt128.ChainOfIdentityIdentifier(mfg.fin, year, f"{seq:06d}")
        o = TherapyOrder(
            coi=coi.text,
            patient=p,
            product=product,
            treating_physician=physician,
            requested_collection_date=wanted,
            ordering_site=p.site,
            collection_site=collection_site,
            manufacturing_site=mfg,
            status=OrderStatus.ORDERED,
            ordered_by=actor,
            ordered_at=at,
        )
        o.save(force_insert=True)
        audit.append_event(
            actor=actor,
            action="chain.order.created",
            record=o,
            changes=audit.created(audit.snapshot(o, TherapyOrder.RECORD_FIELDS)),
        )
    return o


def cancel_order(*, actor: User, order_id: int, reason: str) -> TherapyOrder:
    """Cancel an order (before manufacturing); its slot is released with the same reason."""
    found = c.order(order_id)
    c.require_at_any(
        actor,
        ChainPerm.ORDER_CANCEL,
        [found.ordering_site, found.manufacturing_site],
        "cancelling an order",
    )
    why = c.reason(reason)
    with transaction.atomic():
        o = c.locked_order(found.pk)
        c.check_transition(o, OrderStatus.CANCELLED)
        before = o.status
        for booking in SlotBooking.objects.select_for_update(no_key=True, of=("self",)).filter(
            order=o, status=BookingStatus.BOOKED
        ):
            booking.status = BookingStatus.CANCELLED
            booking.released_by, booking.released_at = actor, now()
            booking.release_reason = why
            booking.save(update_fields=["status", "released_by", "released_at", "release_reason"])
            audit.append_event(
                actor=actor,
                action="chain.slot.cancelled",
                record=booking,
                changes={"status": {"old": BookingStatus.BOOKED, "new": booking.status}},
                reason=why,
            )
        o.status = OrderStatus.CANCELLED
        o.cancel_reason = why
        o.save(update_fields=["status", "cancel_reason"])
        audit.append_event(
            actor=actor,
            action="chain.order.cancelled",
            record=o,
            changes={"status": {"old": before, "new": o.status}},
            reason=why,
        )
    return o


def advance_order(
    *,
    actor: User,
    order_id: int,
    to_status: str,
    reason: str = "",
    custodian: str = "",
    location: str = "",
    occurred_at: object = None,
) -> TherapyOrder:
    """Move an order into a later stage (manufacturing, QC, released, rejected, infused).

    For the apps that own those stages. Each move is a custody event of kind `stage` (the
    custodian stays unless a new one is named). Starting manufacturing stops the stability
    clock; starting it after the clock ran out raises a deviation if none was raised yet.
    """
    found = c.order(order_id)
    target = c.choice(to_status, "to_status", sorted(ADVANCE_TARGETS))
    where = found.ordering_site if target == OrderStatus.INFUSED else found.manufacturing_site
    require(actor, ChainPerm.ADVANCE, where)
    if not active_roles(actor, where) & ADVANCE_ROLES[target]:
        allowed = ", ".join(sorted(ADVANCE_ROLES[target]))
        raise PermissionRefused(
            f"moving an order to {OrderStatus(target).label.lower()} needs one of these roles "
            f"at {where.code}: {allowed}"
        )
    why = (
        c.reason(reason)
        if target == OrderStatus.REJECTED
        else c.text(reason, "reason", max_length=2000, required=False)
    )
    who = c.text(custodian, "custodian", max_length=200, required=False)
    place = c.text(location, "location", max_length=200, required=False)
    when = c.occurred(occurred_at)
    held = receipt_hold(found) if target == OrderStatus.IN_MANUFACTURING else None
    if held is not None:
        audit.record_blocked_attempt(
            actor=actor, action="chain.order.advanced", record=found, reason=held
        )
        raise InterlockBlocked(held, field="order_id")
    with transaction.atomic():
        o = c.locked_order(found.pk)
        c.check_transition(o, target)
        before = o.status
        fields = ["status", "last_event_seq", "current_custodian", "current_location"]
        if target == OrderStatus.IN_MANUFACTURING:
            o.manufacturing_started_at = when
            fields.append("manufacturing_started_at")
            if (
                o.stability_deadline is not None
                and when > o.stability_deadline
                and not o.stability_deviation
            ):
                o.stability_deviation = _stability_deviation(o, actor=actor).number
                fields.append("stability_deviation")
        o.status = target
        event = c.append_custody(
            o=o,
            actor=actor,
            at_site=where,
            kind=CustodyKind.STAGE,
            item=_item(o),
            to_custodian=who or o.current_custodian,
            to_location=place or o.current_location,
            occurred_at=when,
            status_after=target,
            note=why,
        )
        o.save(update_fields=fields)
        changes: dict[str, Any] = {
            "status": {"old": before, "new": target},
            "custody_seq": {"old": None, "new": event.seq},
        }
        # Every stored change in the audit trail: the clock stopping and its deviation too.
        if target == OrderStatus.IN_MANUFACTURING:
            changes["manufacturing_started_at"] = {"old": None, "new": o.manufacturing_started_at}
        if "stability_deviation" in fields:
            changes["stability_deviation"] = {"old": "", "new": o.stability_deviation}
        audit.append_event(
            actor=actor, action="chain.order.advanced", record=o, changes=changes, reason=why
        )
    return o


def _item(o: TherapyOrder) -> str:
    """What is handed on at this stage: the apheresis bag before manufacturing, then product."""
    if o.status in CLOCK_RUNNING or o.status == OrderStatus.COLLECTED:
        collection = getattr(o, "collection", None)
        din = f" DIN {collection.din_eye_readable}" if collection is not None else ""
        return f"Apheresis bag{din}"
    return f"{o.product.code} product {o.coi_eye_readable}"


def _stability_deviation(o: TherapyOrder, *, actor: User | None) -> Any:
    deadline = o.stability_deadline
    return raise_deviation(
        source=o,
        category=DeviationCategory.PROCESS,
        title=f"Stability time exceeded for {o.coi}",
        description=(
            f"The fresh apheresis material of order {o.coi} ({o.product.code}) had to reach "
            f"manufacturing within {o.product.max_hours_to_manufacture} h of the end of "
            f"collection, by {deadline.isoformat() if deadline else '?'} (UTC); that time "
            "has passed without manufacturing starting."
        ),
        actor=None,
        site=o.manufacturing_site,
    )
