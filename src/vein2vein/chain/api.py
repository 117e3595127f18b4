"""chain API at /api/v1/chain; thin: parse, call a service or selector, serialize.

Routes: products (list, get, create, correct); patients (list, enroll, get, correct; clinical
roles only); orders (list, create, get, cancel); slots (calendar, set capacity; book,
reschedule, cancel a booking); collection (record, correct, get); receipt (receive, get, QA
disposition); custody (hand off, advance, the vein-to-vein timeline).

A caller reads the orders of the sites where they hold a role (`selectors.orders_for`); an
order elsewhere is "not found". A patient's name, date of birth and site patient ID are in
an answer only when `selectors.can_see_identity` allows it; otherwise they are null.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from ninja import Query, Router, Status

from vein2vein.core.actors import api_user
from vein2vein.core.api import ERRORS
from vein2vein.core.errors import NotFound
from vein2vein.core.models import User
from vein2vein.core.pagination import page_of
from vein2vein.core.permissions import require
from vein2vein.core.time import format_in_zone, in_zone, now
from vein2vein.web.lists import api_rows
from vein2vein.web.serialize import out

from . import selectors, services
from .choices import OrderStatus
from .filters import OrderFilterSet, PatientFilterSet
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
from .schemas import (
    MAX_ID,
    AdvanceIn,
    BookIn,
    BookingOut,
    CalendarFilter,
    CapacityIn,
    CapacityOut,
    ClockOut,
    CollectionIn,
    CollectionOut,
    CollectionPatch,
    CustodyEventOut,
    HandoffIn,
    OrderFilter,
    OrderIn,
    OrderOut,
    PatientFilter,
    PatientIn,
    PatientOut,
    PatientPatch,
    ProductFilter,
    ProductIn,
    ProductOut,
    ProductPatch,
    ReasonIn,
    ReceiptDispositionIn,
    ReceiptOut,
    ReceiveIn,
    RescheduleIn,
    SlotDayOut,
    TimelineEventOut,
    TimelineOut,
)

router = Router(tags=["chain"])


def _view(request: HttpRequest) -> User:
    user = api_user(request)
    require(user, ChainPerm.VIEW)
    return user


def _in_range(pk: int) -> bool:
    return 1 <= pk <= MAX_ID


def _orders(user: User):  # type: ignore[no-untyped-def]
    return selectors.orders_for(user).select_related("ordered_by")


def _order(user: User, order_id: int) -> TherapyOrder:
    """An order the caller may read, or 404 (an order at someone else's sites is not shown)."""
    found = _orders(user).filter(pk=order_id).first() if _in_range(order_id) else None
    if found is None:
        raise NotFound(
            f"order {order_id} does not exist or is not at one of your sites", field="order_id"
        )
    return found  # type: ignore[no-any-return]


def _identity(user: User) -> Callable[[TherapyOrder], bool]:
    """`can_see_identity` for many orders: it depends on the order's ordering and collection
    sites only, so it is asked once per pair of sites, not once per order."""
    seen: dict[tuple[int, int], bool] = {}

    def visible(o: TherapyOrder) -> bool:
        key = (o.ordering_site_id, o.collection_site_id)
        if key not in seen:
            seen[key] = selectors.can_see_identity(user, o)
        return seen[key]

    return visible


# --- serializers ------------------------------------------------------------------------------
def _product_out(p: TherapyProduct) -> ProductOut:
    return out(ProductOut, p)


def _patient_out(p: Patient) -> PatientOut:
    return out(PatientOut, p, site=p.site.code, enrolled_by=p.enrolled_by.username)


def _order_out(o: TherapyOrder, *, identity: bool) -> OrderOut:
    """The order; the patient's personal data only when `identity` (can_see_identity)."""
    return OrderOut(
        id=o.pk,
        coi=o.coi,
        coi_eye_readable=o.coi_eye_readable,
        coi_check_character=o.coi_check_character,
        product=o.product.code,
        treating_physician=o.treating_physician,
        requested_collection_date=o.requested_collection_date,
        ordering_site=o.ordering_site.code,
        collection_site=o.collection_site.code,
        manufacturing_site=o.manufacturing_site.code,
        status=o.status,
        status_label=OrderStatus(o.status).label,
        ordered_by=o.ordered_by.username,
        ordered_at=o.ordered_at,
        cancel_reason=o.cancel_reason,
        current_custodian=o.current_custodian,
        current_location=o.current_location,
        stability_deadline=o.stability_deadline,
        manufacturing_started_at=o.manufacturing_started_at,
        stability_deviation=o.stability_deviation,
        identity_visible=identity,
        patient_id=o.patient_id if identity else None,
        site_patient_id=o.patient.site_patient_id if identity else None,
        patient_name=o.patient.full_name if identity else None,
        patient_date_of_birth=o.patient.date_of_birth if identity else None,
    )


def _order_answer(user: User, o: TherapyOrder) -> OrderOut:
    return _order_out(o, identity=selectors.can_see_identity(user, o))


def _booking_out(b: SlotBooking) -> BookingOut:
    return out(
        BookingOut,
        b,
        coi=b.order.coi,
        site=b.site.code,
        booked_by=b.booked_by.username,
        released_by=b.released_by.username if b.released_by else None,
    )


def _collection_out(c: Collection) -> CollectionOut:
    return CollectionOut(
        id=c.pk,
        order_id=c.order_id,
        coi=c.order.coi,
        site=c.site.code,
        din=c.din,
        din_eye_readable=c.din_eye_readable,
        din_check_character=c.din_check_character,
        sec=c.sec,
        started_at=c.started_at,
        ended_at=c.ended_at,
        time_zone=c.time_zone,
        started_local=format_in_zone(c.started_at, c.time_zone),
        ended_local=format_in_zone(c.ended_at, c.time_zone),
        volume_ml=c.volume_ml,
        anticoagulant=c.anticoagulant,
        wbc_10e9_per_l=c.wbc_10e9_per_l,
        cd3_10e9_per_l=c.cd3_10e9_per_l,
        recorded_by=c.recorded_by.username,
        recorded_at=c.recorded_at,
    )


def _receipt_out(r: Receipt) -> ReceiptOut:
    return ReceiptOut(
        id=r.pk,
        order_id=r.order_id,
        coi=r.order.coi,
        site=r.site.code,
        received_by=r.received_by.username,
        received_at=r.received_at,
        scans=[str(s) for s in r.scans],
        matched=[str(m) for m in r.matched],
        arrival_temperature_c=r.arrival_temperature_c,
        logger_serial=r.logger_serial,
        logger_min_c=r.logger_min_c,
        logger_max_c=r.logger_max_c,
        logger_summary=r.logger_summary,
        temperature_ok=r.temperature_ok,
        decision=r.decision,
        rejection_reason=r.rejection_reason,
        deviations=[str(d) for d in r.deviations],
        order_status=r.order.status,
        quarantined=r.quarantined,
        disposition_by=r.disposition_by.username if r.disposition_by else None,
        disposition_at=r.disposition_at,
        disposition_reason=r.disposition_reason,
    )


def _event_fields(e: CustodyEvent) -> dict[str, object]:
    return {
        "seq": e.seq,
        "kind": e.kind,
        "item": e.item,
        "from_custodian": e.from_custodian,
        "from_location": e.from_location,
        "to_custodian": e.to_custodian,
        "to_location": e.to_location,
        "occurred_at": e.occurred_at,
        "recorded_at": e.recorded_at,
        "temperature_c": e.temperature_c,
        "scanned_text": e.scanned_text,
        "matched": e.matched,
        "status_after": e.status_after,
        "note": e.note,
        "recorded_by": e.recorded_by.username,
        "site": e.site.code,
    }


def timeline_out(user: User, o: TherapyOrder) -> TimelineOut:
    """The vein-to-vein answer for `o` (read for `user`): a constant number of queries
    however many events the order has (benchmarks/timeline.py counts them)."""
    v2v = selectors.vein_to_vein(o)
    clock: selectors.StabilityClock = v2v["clock"]
    collection: Collection | None = v2v["collection"]
    receipt: Receipt | None = v2v["receipt"]
    booking: SlotBooking | None = v2v["booking"]
    total = v2v["total"]
    return TimelineOut(
        order=_order_answer(user, o),
        status=o.status,
        status_label=OrderStatus(o.status).label,
        current_custodian=o.current_custodian,
        current_location=o.current_location,
        collection_day=booking.day if booking else None,
        din=collection.din if collection else None,
        receipt_decision=receipt.decision if receipt else None,
        events=[
            TimelineEventOut(
                **_event_fields(entry.event),  # type: ignore[arg-type]
                since_previous_seconds=(
                    entry.since_previous.total_seconds()
                    if entry.since_previous is not None
                    else None
                ),
                since_start_seconds=entry.since_start.total_seconds(),
                late_entry=entry.late_entry,
            )
            for entry in v2v["timeline"]
        ],
        total_seconds=total.total_seconds() if total is not None else None,
        clock=ClockOut(
            deadline=clock.deadline,
            stopped_at=clock.stopped_at,
            running=clock.running,
            hours_left=clock.hours_left,
            expired=clock.expired,
            deviation=clock.deviation,
            label=clock.label,
        ),
        closed=v2v["closed"],
    )


# --- products ---------------------------------------------------------------------------------
@router.get("/products", response={200: list[ProductOut], **ERRORS})
def list_products(request: HttpRequest, filters: Query[ProductFilter]) -> list[ProductOut]:
    _view(request)
    rows = selectors.products(active_only=filters.active_only)
    return [_product_out(p) for p in page_of(rows, filters)]


@router.post("/products", response={201: ProductOut, **ERRORS})
def create_product(request: HttpRequest, payload: ProductIn) -> Status[ProductOut]:
    p = services.create_product(actor=api_user(request), **payload.dict())
    return Status(201, _product_out(p))


@router.get("/products/{int:product_id}", response={200: ProductOut, **ERRORS})
def get_product(request: HttpRequest, product_id: int) -> ProductOut:
    _view(request)
    found = selectors.products().filter(pk=product_id).first() if _in_range(product_id) else None
    if found is None:
        raise NotFound(f"product {product_id} does not exist", field="product_id")
    return _product_out(found)


@router.patch("/products/{int:product_id}", response={200: ProductOut, **ERRORS})
def update_product(request: HttpRequest, product_id: int, payload: ProductPatch) -> ProductOut:
    fields = payload.dict(exclude_unset=True, exclude_none=True)
    reason = fields.pop("reason")
    p = services.update_product(
        actor=api_user(request), product_id=product_id, reason=reason, **fields
    )
    return _product_out(selectors.products().get(pk=p.pk))  # as stored (e.g. 10 -> 10.0)


# --- patients (clinical roles only) ------------------------------------------------------------
def _clinical(request: HttpRequest) -> User:
    """Patients are personal data: only the clinical roles reach them (403 for the others)."""
    user = api_user(request)
    require(user, ChainPerm.VIEW_IDENTITY)
    return user


def _patient(user: User, patient_id: int) -> Patient:
    found = (
        selectors.patients_for(user).select_related("enrolled_by").filter(pk=patient_id).first()
        if _in_range(patient_id)
        else None
    )
    if found is None:
        raise NotFound(
            f"patient {patient_id} does not exist or is not at one of your sites",
            field="patient_id",
        )
    return found


@router.get("/patients", response={200: list[PatientOut], **ERRORS})
def list_patients(request: HttpRequest, filters: Query[PatientFilter]) -> list[PatientOut]:
    user = _clinical(request)
    qs = selectors.patients_for(user).select_related("enrolled_by")
    qs = api_rows(PatientFilterSet, filters, qs, request)
    return [_patient_out(p) for p in page_of(qs, filters)]


@router.post("/patients", response={201: PatientOut, **ERRORS})
def enroll_patient(request: HttpRequest, payload: PatientIn) -> Status[PatientOut]:
    user = api_user(request)
    p = services.enroll_patient(actor=user, **payload.dict())
    return Status(201, _patient_out(_patient(user, p.pk)))


@router.get("/patients/{int:patient_id}", response={200: PatientOut, **ERRORS})
def get_patient(request: HttpRequest, patient_id: int) -> PatientOut:
    return _patient_out(_patient(_clinical(request), patient_id))


@router.patch("/patients/{int:patient_id}", response={200: PatientOut, **ERRORS})
def correct_patient(request: HttpRequest, patient_id: int, payload: PatientPatch) -> PatientOut:
    user = api_user(request)
    fields = payload.dict(exclude_unset=True)
    reason = fields.pop("reason")
    # consent_date may be cleared (null); any other field sent as null is left as it is.
    fields = {k: v for k, v in fields.items() if v is not None or k == "consent_date"}
    services.correct_patient(actor=user, patient_id=patient_id, reason=reason, **fields)
    return _patient_out(_patient(user, patient_id))


# --- orders -----------------------------------------------------------------------------------
@router.get("/orders", response={200: list[OrderOut], **ERRORS})
def list_orders(request: HttpRequest, filters: Query[OrderFilter]) -> list[OrderOut]:
    user = _view(request)
    qs = api_rows(OrderFilterSet, filters, _orders(user), request)
    visible = _identity(user)
    return [_order_out(o, identity=visible(o)) for o in page_of(qs, filters)]


@router.post("/orders", response={201: OrderOut, **ERRORS})
def create_order(request: HttpRequest, payload: OrderIn) -> Status[OrderOut]:
    user = api_user(request)
    o = services.create_order(actor=user, **payload.dict())
    return Status(201, _order_answer(user, _order(user, o.pk)))


@router.get("/orders/{int:order_id}", response={200: OrderOut, **ERRORS})
def get_order(request: HttpRequest, order_id: int) -> OrderOut:
    user = _view(request)
    return _order_answer(user, _order(user, order_id))


@router.post("/orders/{int:order_id}/cancel", response={200: OrderOut, **ERRORS})
def cancel_order(request: HttpRequest, order_id: int, payload: ReasonIn) -> OrderOut:
    user = api_user(request)
    services.cancel_order(actor=user, order_id=order_id, reason=payload.reason)
    return _order_answer(user, _order(user, order_id))


@router.post("/orders/{int:order_id}/advance", response={200: OrderOut, **ERRORS})
def advance_order(request: HttpRequest, order_id: int, payload: AdvanceIn) -> OrderOut:
    """Move the order into a later stage (manufacturing, QC, released, rejected, infused)."""
    user = api_user(request)
    services.advance_order(actor=user, order_id=order_id, **payload.dict())
    return _order_answer(user, _order(user, order_id))


# --- slots ------------------------------------------------------------------------------------
@router.get("/slots", response={200: list[SlotDayOut], **ERRORS})
def slot_calendar(request: HttpRequest, filters: Query[CalendarFilter]) -> list[SlotDayOut]:
    """A manufacturing facility's capacity, bookings and free slots per day."""
    _view(request)
    site = selectors.manufacturing_sites().filter(pk=filters.site_id).first()
    if site is None:
        raise NotFound(
            f"site {filters.site_id} is not an active manufacturing facility", field="site_id"
        )
    start = filters.start or in_zone(now(), site.time_zone).date()
    return [
        SlotDayOut(day=d.day, capacity=d.capacity, booked=d.booked, free=d.free, full=d.full)
        for d in selectors.calendar(site, start, filters.days)
    ]


@router.post("/slots/capacity", response={200: list[CapacityOut], **ERRORS})
def set_capacity(request: HttpRequest, payload: CapacityIn) -> list[CapacityOut]:
    rows: list[SlotCapacity] = services.set_capacity(actor=api_user(request), **payload.dict())
    return [CapacityOut(site=r.site.code, day=r.day, capacity=r.capacity) for r in rows]


def _booking_answer(b: SlotBooking) -> BookingOut:
    return _booking_out(
        SlotBooking.objects.select_related("order", "site", "booked_by", "released_by").get(pk=b.pk)
    )


@router.post("/orders/{int:order_id}/book", response={201: BookingOut, **ERRORS})
def book_slot(request: HttpRequest, order_id: int, payload: BookIn) -> Status[BookingOut]:
    b = services.book_slot(actor=api_user(request), order_id=order_id, day=payload.day)
    return Status(201, _booking_answer(b))


@router.post("/orders/{int:order_id}/reschedule", response={201: BookingOut, **ERRORS})
def reschedule_slot(
    request: HttpRequest, order_id: int, payload: RescheduleIn
) -> Status[BookingOut]:
    """Move the collection to another day: a new booking; the old one is kept, released."""
    b = services.reschedule_slot(
        actor=api_user(request), order_id=order_id, day=payload.day, reason=payload.reason
    )
    return Status(201, _booking_answer(b))


@router.post("/orders/{int:order_id}/cancel-booking", response={200: OrderOut, **ERRORS})
def cancel_booking(request: HttpRequest, order_id: int, payload: ReasonIn) -> OrderOut:
    user = api_user(request)
    services.cancel_booking(actor=user, order_id=order_id, reason=payload.reason)
    return _order_answer(user, _order(user, order_id))


# --- collection -------------------------------------------------------------------------------
def _collection(o: TherapyOrder) -> Collection:
    found = Collection.objects.select_related("order", "site", "recorded_by").filter(order=o)
    collection = found.first()
    if collection is None:
        raise NotFound(f"order {o.coi} has no collection yet", field="order_id")
    return collection


@router.post("/orders/{int:order_id}/collection", response={201: CollectionOut, **ERRORS})
def record_collection(
    request: HttpRequest, order_id: int, payload: CollectionIn
) -> Status[CollectionOut]:
    user = api_user(request)
    services.record_collection(actor=user, order_id=order_id, **payload.dict())
    return Status(201, _collection_out(_collection(_order(user, order_id))))


@router.patch("/orders/{int:order_id}/collection", response={200: CollectionOut, **ERRORS})
def correct_collection(
    request: HttpRequest, order_id: int, payload: CollectionPatch
) -> CollectionOut:
    user = api_user(request)
    fields = payload.dict(exclude_unset=True)
    reason = fields.pop("reason")
    # WBC and CD3 may be cleared (null, not known); other fields sent as null are left alone.
    keep_null = {"wbc_10e9_per_l", "cd3_10e9_per_l"}
    fields = {k: v for k, v in fields.items() if v is not None or k in keep_null}
    services.correct_collection(actor=user, order_id=order_id, reason=reason, **fields)
    return _collection_out(_collection(_order(user, order_id)))


@router.get("/orders/{int:order_id}/collection", response={200: CollectionOut, **ERRORS})
def get_collection(request: HttpRequest, order_id: int) -> CollectionOut:
    user = _view(request)
    return _collection_out(_collection(_order(user, order_id)))


# --- receipt and custody ----------------------------------------------------------------------
def _receipt(o: TherapyOrder) -> Receipt:
    found = (
        Receipt.objects.select_related("order", "site", "received_by", "disposition_by")
        .filter(order=o)
        .first()
    )
    if found is None:
        raise NotFound(f"order {o.coi} has not been received", field="order_id")
    return found


@router.post("/orders/{int:order_id}/receive", response={201: ReceiptOut, **ERRORS})
def receive_collection(
    request: HttpRequest, order_id: int, payload: ReceiveIn
) -> Status[ReceiptOut]:
    """Receive the apheresis bag: scan the label (DIN, COI identifier, date of birth). A scan
    that does not match is refused (409, field `scans`), recorded and raises a deviation."""
    user = api_user(request)
    services.receive_collection(actor=user, order_id=order_id, **payload.dict())
    return Status(201, _receipt_out(_receipt(_order(user, order_id))))


@router.get("/orders/{int:order_id}/receipt", response={200: ReceiptOut, **ERRORS})
def get_receipt(request: HttpRequest, order_id: int) -> ReceiptOut:
    user = _view(request)
    return _receipt_out(_receipt(_order(user, order_id)))


@router.post("/orders/{int:order_id}/receipt/disposition", response={200: ReceiptOut, **ERRORS})
def disposition_receipt(
    request: HttpRequest, order_id: int, payload: ReceiptDispositionIn
) -> ReceiptOut:
    """QA dispositions a quarantined receipt, signed with the password: `accepted` lets a
    batch start, `rejected` rejects the order. Not quarantined: 409; not QA: 403."""
    user = api_user(request)
    o = _order(user, order_id)
    services.disposition_receipt(actor=user, order_id=o.pk, request=request, **payload.dict())
    return _receipt_out(_receipt(o))


@router.post("/orders/{int:order_id}/handoff", response={201: CustodyEventOut, **ERRORS})
def hand_off(request: HttpRequest, order_id: int, payload: HandoffIn) -> Status[CustodyEventOut]:
    """Hand the material on; the scan must match the order or nothing is recorded but the
    refusal (409 and a deviation for another patient's identifier)."""
    event = services.hand_off(actor=api_user(request), order_id=order_id, **payload.dict())
    return Status(201, CustodyEventOut(**_event_fields(event)))  # type: ignore[arg-type]


@router.get("/orders/{int:order_id}/timeline", response={200: TimelineOut, **ERRORS})
def order_timeline(request: HttpRequest, order_id: int) -> TimelineOut:
    """Vein to vein: every custody event in order with the time since the previous one and
    since the first, the current custodian and location, the status and stability clock."""
    user = _view(request)
    return timeline_out(user, _order(user, order_id))
