"""Therapy orders: placed by the patient's clinical site for a consented patient, each with
its COI identifier (CH + the manufacturing site's FIN + year + sequence); cancelled with a
reason; moved into the later stages by the role that does that work."""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Any

import pytest
from django.db import OperationalError, connection, transaction

from tests.chain.conftest import World, refused, refused_roles
from vein2vein.chain import selectors, services
from vein2vein.chain.models import (
    CustodyEvent,
    Patient,
    SlotBooking,
    TherapyOrder,
    TherapyProduct,
)
from vein2vein.chain.permissions import ADVANCE_ROLES
from vein2vein.chain.services._common import locked_order
from vein2vein.core.choices import Role
from vein2vein.core.errors import Conflict, NotFound, PermissionRefused, ValidationFailed
from vein2vein.core.models import AuditEvent, NumberSequence, Site, User
from vein2vein.core.time import now
from vein2vein.standards import isbt128

pytestmark = pytest.mark.django_db


def _order(world: World, actor: User | None = None, **over: Any) -> TherapyOrder:
    values: dict[str, Any] = {
        "patient_id": world.patient.pk,
        "product_id": world.product.pk,
        "treating_physician": "Dr. Rivera",
        "requested_collection_date": world.today(world.clinic),
        "collection_site_id": world.apheresis.pk,
        "manufacturing_site_id": world.mfg.pk,
    }
    values.update(over)
    return services.create_order(actor=actor or world.clinician, **values)


def _patient(world: World, pid: str, **over: Any):  # type: ignore[no-untyped-def]
    values: dict[str, Any] = {
        "site_id": world.clinic.pk,
        "site_patient_id": pid,
        "given_name": "Ada",
        "family_name": "Lind",
        "date_of_birth": "1990-02-03",
        "weight_kg": "60",
        "diagnosis": "Multiple myeloma",
        "consent_status": "consented",
        "consent_date": "2026-02-01",
    }
    values.update(over)
    return services.enroll_patient(actor=world.clinician, **values)


# --- the COI identifier ----------------------------------------------------------------------


def test_an_order_gets_a_coi_identifier_from_the_manufacturing_fin(world: World) -> None:
    o = _order(world)
    yy = f"{now().year % 100:02d}"
    assert o.coi == f"CHB2345{yy}000001"
    assert re.fullmatch(r"CH[A-NP-Z1-9][A-NP-Z0-9]{2}\d{2}\d{2}\d{6}", o.coi)
    coi = isbt128.parse_coi(o.coi)
    assert (coi.fin, coi.year, coi.sequence) == ("B2345", yy, "000001")
    assert isbt128.parse(f"&/{o.coi}") == coi  # the DS 040 barcode carries the same
    assert o.coi_eye_readable == f"CH B2345 {yy} 000001"
    assert o.coi_check_character == coi.check_character
    assert (o.status, o.ordering_site, o.ordered_by) == ("ordered", world.clinic, world.clinician)
    event = AuditEvent.objects.get(action="chain.order.created", record_id=str(o.pk))
    assert event.changes["coi"] == {"old": None, "new": o.coi}


def test_the_sequence_counts_per_fin_and_per_year(
    world: World, make_site, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    yy = f"{now().year % 100:02d}"
    other_mfg = make_site(code="MFG-C", kind="manufacturing", time_zone="UTC", fin="C3456")
    first = _order(world)
    second = _order(world, patient_id=_patient(world, "P-2").pk)
    p3 = _patient(world, "P-3")
    elsewhere = _order(world, patient_id=p3.pk, manufacturing_site_id=other_mfg.pk)
    next_year = now().replace(year=now().year + 1, month=1, day=2)
    monkeypatch.setattr("vein2vein.chain.services.orders.now", lambda: next_year)
    new_year = _order(world, patient_id=_patient(world, "P-4").pk)
    monkeypatch.undo()
    third = _order(world, patient_id=_patient(world, "P-5").pk)
    ny = f"{next_year.year % 100:02d}"
    assert [first.coi, second.coi, elsewhere.coi, new_year.coi, third.coi] == [
        f"CHB2345{yy}000001",
        f"CHB2345{yy}000002",
        f"CHC3456{yy}000001",
        f"CHB2345{ny}000001",
        f"CHB2345{yy}000003",
    ]
    this, then = int(f"20{yy}"), int(f"20{ny}")
    assert set(NumberSequence.objects.values_list("key", "scope", "year", "last")) == {
        ("COI", "B2345", this, 3),
        ("COI", "C3456", this, 1),
        ("COI", "B2345", then, 1),
    }


# --- who orders ------------------------------------------------------------------------------


def test_only_the_clinical_role_orders(world: World, everyone) -> None:  # type: ignore[no-untyped-def]
    for role in refused_roles({Role.CLINICAL_SITE}):
        with refused(
            PermissionRefused,
            field=None,
            message="chain.order.create needs one of these roles at CLIN-C: clinical_site",
        ):
            _order(world, everyone[role])


def test_a_clinical_user_of_another_site_cannot_order_for_this_sites_patient(
    world: World, make_site, make_user
) -> None:  # type: ignore[no-untyped-def]
    other = make_site(code="CLIN-X", kind="clinical", time_zone="UTC", fin="")
    stranger = make_user(Role.CLINICAL_SITE, other, username="clin-x")
    for who in (stranger, world.collector):
        with refused(PermissionRefused, field=None, message="at CLIN-C: clinical_site"):
            _order(world, who)


def test_orders_are_seen_at_their_sites_only(world: World, walk, make_site, make_user) -> None:  # type: ignore[no-untyped-def]
    o = walk("ordered")
    other = make_site(code="CLIN-X", kind="clinical", time_zone="UTC", fin="")
    stranger = make_user(Role.CLINICAL_SITE, other, username="clin-x")
    for who in (world.clinician, world.collector, world.operator, world.qc, world.inspector):
        assert list(selectors.orders_for(who)) == [o]
        assert selectors.order_for(who, o.pk) == o
    assert list(selectors.orders_for(stranger)) == []
    assert selectors.order_for(stranger, o.pk) is None
    assert selectors.order_by_coi(stranger, o.coi) is None
    assert selectors.order_by_coi(world.operator, o.coi_eye_readable.lower()) == o
    assert not selectors.can_see_identity(stranger, o)


# --- what is checked -------------------------------------------------------------------------


def test_every_bad_field_is_named(world: World, make_site) -> None:  # type: ignore[no-untyped-def]
    no_fin = make_site(code="MFG-N", kind="manufacturing", time_zone="UTC", fin="")
    yesterday = world.today(world.clinic) - dt.timedelta(days=1)
    cases: list[tuple[dict[str, Any], type[Exception], str, str]] = [
        (
            {"requested_collection_date": yesterday},
            ValidationFailed,
            "requested_collection_date",
            f"requested_collection_date {yesterday} is in the past",
        ),
        (
            {"requested_collection_date": world.today(world.clinic) + dt.timedelta(days=367)},
            ValidationFailed,
            "requested_collection_date",
            "is more than 366 days ahead (no slot can be booked that far out)",
        ),
        (
            {"requested_collection_date": "soon"},
            ValidationFailed,
            "requested_collection_date",
            "not a date (soon); use YYYY-MM-DD",
        ),
        (
            {"manufacturing_site_id": world.clinic.pk},
            ValidationFailed,
            "manufacturing_site_id",
            "CLIN-C is not a manufacturing facility",
        ),
        (
            {"manufacturing_site_id": no_fin.pk},
            ValidationFailed,
            "manufacturing_site_id",
            "MFG-N has no ISBT 128 FIN, so it cannot issue COI identifiers",
        ),
        (
            {"collection_site_id": world.mfg.pk},
            ValidationFailed,
            "collection_site_id",
            "MFG-B is not an apheresis center or clinical site",
        ),
        ({"treating_physician": " "}, ValidationFailed, "treating_physician", "is required"),
        ({"product_id": 999_999}, NotFound, "product_id", "product 999999 does not exist"),
        ({"patient_id": 999_999}, NotFound, "patient_id", "patient 999999 does not exist"),
        ({"collection_site_id": 999_999}, NotFound, "collection_site_id", "does not exist"),
        ({"manufacturing_site_id": "x"}, ValidationFailed, "manufacturing_site_id", "record id"),
    ]
    for over, error, field, message in cases:
        with refused(error, field=field, message=message):  # type: ignore[arg-type]
            _order(world, **over)


@pytest.mark.parametrize(
    ("consent", "label"),
    [("not_consented", "not (yet) consented"), ("withdrawn", "consent withdrawn")],
)
def test_an_unconsented_patient_cannot_be_ordered_for(world: World, consent, label) -> None:  # type: ignore[no-untyped-def]
    p = _patient(world, "P-9", consent_status=consent, consent_date=None)
    with refused(
        ValidationFailed, field="patient_id", message=f"patient P-9 has not consented ({label}"
    ):
        _order(world, patient_id=p.pk)


def test_an_inactive_product_is_refused(world: World) -> None:
    services.update_product(
        actor=world.supervisor, product_id=world.product.pk, reason="Withdrawn", is_active=False
    )
    with refused(ValidationFailed, field="product_id", message="product CD19-CART is not active"):
        _order(world)


def test_one_open_order_per_patient_and_product(world: World) -> None:
    first = _order(world)
    with refused(
        Conflict,
        field="patient_id",
        message=f"patient LUH-000123 already has an open CD19-CART order ({first.coi})",
    ):
        _order(world)
    services.cancel_order(actor=world.clinician, order_id=first.pk, reason="Patient unwell")
    again = _order(world)
    assert again.coi != first.coi and again.status == "ordered"


# --- cancelling ------------------------------------------------------------------------------


def test_cancelling_needs_a_reason_and_releases_the_slot(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("scheduled")
    with refused(ValidationFailed, field="reason", message="reason is required"):
        services.cancel_order(actor=world.clinician, order_id=o.pk, reason=" ")
    services.cancel_order(actor=world.supervisor, order_id=o.pk, reason="Disease progression")
    o.refresh_from_db()
    assert (o.status, o.cancel_reason) == ("cancelled", "Disease progression")
    booking = SlotBooking.objects.get(order=o)
    assert (booking.status, booking.release_reason, booking.released_by) == (
        "cancelled",
        "Disease progression",
        world.supervisor,
    )
    assert selectors.calendar(world.mfg, world.today(), 1)[0].booked == 0
    with refused(Conflict, field="status", message="is cancelled; it cannot become cancelled"):
        services.cancel_order(actor=world.clinician, order_id=o.pk, reason="again")


def test_only_the_clinic_or_a_supervisor_cancels(world: World, walk, everyone) -> None:  # type: ignore[no-untyped-def]
    o = walk("ordered")
    for role in refused_roles({Role.CLINICAL_SITE, Role.SUPERVISOR}):
        with refused(PermissionRefused, field=None, message="cancelling an order needs one of"):
            services.cancel_order(actor=everyone[role], order_id=o.pk, reason="x")


def test_the_apheresis_clinician_cannot_cancel(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("ordered")
    with refused(PermissionRefused, field=None, message="at CLIN-C, MFG-B"):
        services.cancel_order(actor=world.collector, order_id=o.pk, reason="x")


def test_manufacturing_cannot_be_cancelled(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("received")
    services.advance_order(actor=world.operator, order_id=o.pk, to_status="in_manufacturing")
    with refused(Conflict, field="status", message="is in manufacturing; it cannot become cancel"):
        services.cancel_order(actor=world.supervisor, order_id=o.pk, reason="x")


# --- later stages ------------------------------------------------------------------------------

BEFORE = {
    "in_manufacturing": "received",
    "in_qc": "in_manufacturing",
    "released": "in_qc",
    "rejected": "in_qc",
    "infused": "delivered",
}


def _take_to(world: World, walk, status: str) -> TherapyOrder:  # type: ignore[no-untyped-def]
    o = walk("received")
    steps = ["in_manufacturing", "in_qc", "released", "shipped", "delivered"]
    for step in steps[: steps.index(status) + 1] if status != "received" else []:
        if step in ("shipped", "delivered"):
            services.hand_off(
                actor=world.logistics,
                order_id=o.pk,
                scanned_text=o.coi,
                to_custodian="Courier",
                to_location="Van",
                to_status=step,
            )
        else:
            actor = world.qa_approver if step == "released" else world.operator
            services.advance_order(actor=actor, order_id=o.pk, to_status=step)
    o.refresh_from_db()
    assert o.status == status
    return o


ALLOWED = [(target, role) for target, roles in ADVANCE_ROLES.items() for role in sorted(roles)]


@pytest.mark.parametrize(("target", "role"), ALLOWED)
def test_each_stage_is_entered_by_its_roles(world: World, walk, everyone, target, role) -> None:  # type: ignore[no-untyped-def]
    o = _take_to(world, walk, BEFORE[target])
    seq = o.last_event_seq
    services.advance_order(
        actor=everyone[role],
        order_id=o.pk,
        to_status=target,
        reason="Failed sterility" if target == "rejected" else "",
        location="Suite 2" if target == "in_manufacturing" else "",
    )
    o.refresh_from_db()
    assert (o.status, o.last_event_seq) == (target, seq + 1)
    event = CustodyEvent.objects.get(order=o, seq=seq + 1)
    assert (event.kind, event.status_after, event.recorded_by) == ("stage", target, everyone[role])
    assert event.from_location == event.to_location or target == "in_manufacturing"
    audit = AuditEvent.objects.filter(action="chain.order.advanced", record_id=str(o.pk)).last()
    assert audit is not None and audit.changes["status"] == {"old": BEFORE[target], "new": target}


@pytest.mark.parametrize("target", sorted(ADVANCE_ROLES))
def test_each_stage_refuses_every_other_role(world: World, walk, everyone, target) -> None:  # type: ignore[no-untyped-def]
    o = _take_to(world, walk, BEFORE[target])
    where = "CLIN-C" if target == "infused" else "MFG-B"
    for role in refused_roles(ADVANCE_ROLES[target]):
        with refused(PermissionRefused, field=None, message=f"needs one of these roles at {where}"):
            services.advance_order(
                actor=everyone[role], order_id=o.pk, to_status=target, reason="because"
            )


def test_the_role_must_be_held_where_the_work_happens(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = _take_to(world, walk, "delivered")
    with refused(PermissionRefused, field=None, message="at CLIN-C"):
        services.advance_order(actor=world.collector, order_id=o.pk, to_status="infused")
    services.advance_order(actor=world.clinician, order_id=o.pk, to_status="infused")
    o.refresh_from_db()
    assert o.status == "infused"
    assert selectors.vein_to_vein(o)["closed"] is True


@pytest.mark.parametrize(
    ("at", "target", "message"),
    [
        ("received", "in_qc", "order {coi} is received; it cannot become in qc"),
        ("received", "released", "it cannot become released"),
        ("in_manufacturing", "released", "is in manufacturing; it cannot become released"),
        ("in_manufacturing", "infused", "it cannot become infused"),
        ("in_qc", "in_manufacturing", "is in qc; it cannot become in manufacturing"),
        ("released", "infused", "is released; it cannot become infused"),
        ("released", "rejected", "it cannot become rejected"),
    ],
)
def test_stages_follow_their_order(world: World, walk, everyone, at, target, message) -> None:  # type: ignore[no-untyped-def]
    o = _take_to(world, walk, at)
    role = sorted(ADVANCE_ROLES[target])[0]
    with refused(Conflict, field="status", message=message.format(coi=o.coi)):
        services.advance_order(actor=everyone[role], order_id=o.pk, to_status=target, reason="r")


def test_rejecting_needs_a_reason(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = _take_to(world, walk, "in_qc")
    with refused(ValidationFailed, field="reason", message="reason is required"):
        services.advance_order(actor=world.qa_approver, order_id=o.pk, to_status="rejected")
    services.advance_order(
        actor=world.qa_approver, order_id=o.pk, to_status="rejected", reason="OOS potency"
    )
    o.refresh_from_db()
    assert o.status == "rejected"
    assert CustodyEvent.objects.get(order=o, seq=o.last_event_seq).note == "OOS potency"


@pytest.mark.parametrize("target", ["shipped", "received", "collected", "cancelled", "", "bogus"])
def test_only_later_stages_are_advanced_to(world: World, walk, target) -> None:  # type: ignore[no-untyped-def]
    o = walk("received")
    with refused(ValidationFailed, field="to_status", message="to_status must be one of"):
        services.advance_order(actor=world.supervisor, order_id=o.pk, to_status=target)


def test_an_unknown_order_is_not_found(world: World) -> None:
    with refused(NotFound, field="order_id", message="order 999999 does not exist"):
        services.advance_order(actor=world.operator, order_id=999_999, to_status="in_qc")


# --- locking ---------------------------------------------------------------------------------


@pytest.mark.xdist_group("concurrency")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_order_lock_holds_that_order_only(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    """While one writer holds an order, another may lock its patient, product and sites (for
    another order or a correction); only the order itself waits. FOR UPDATE over the order's
    joins once locked them all and serialised every chain write."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite has no row locks")
    o = walk("ordered")
    seen: dict[str, str] = {}

    def other_writer() -> None:
        try:
            for name, qs in (
                ("patient", Patient.objects.filter(pk=o.patient_id)),
                ("product", TherapyProduct.objects.filter(pk=o.product_id)),
                ("sites", Site.objects.filter(pk__in=[world.clinic.pk, world.mfg.pk])),
                ("order", TherapyOrder.objects.filter(pk=o.pk)),
            ):
                try:
                    with transaction.atomic():
                        list(qs.select_for_update(nowait=True))
                    seen[name] = "free"
                except OperationalError:
                    seen[name] = "locked"
        finally:
            connection.close()

    with transaction.atomic():
        locked_order(o.pk)
        thread = threading.Thread(target=other_writer)
        thread.start()
        thread.join(timeout=30)
    assert seen == {"patient": "free", "product": "free", "sites": "free", "order": "locked"}
