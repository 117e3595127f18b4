"""The chain API under /api/v1/chain, as its users call it: 401 without credentials, 403 for
the wrong role with nothing written, 4xx naming the field for bad input, personal data only
for the clinical roles, and the issue's acceptance walk (create order, book slot, record
collection, receive, hand off, read the timeline) done entirely through the API."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.test import Client

from vein2vein.chain.models import (
    Collection,
    CustodyEvent,
    Patient,
    Receipt,
    SlotBooking,
    SlotCapacity,
    TherapyOrder,
    TherapyProduct,
)
from vein2vein.core import services as core_services
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.models import AuditEvent, NumberSequence
from vein2vein.core.time import now
from vein2vein.quality.models import Deviation

from ..core.helpers import nothing_written
from .conftest import World, bag_label

pytestmark = pytest.mark.django_db
BASE = "/api/v1/chain"
CHAIN_MODELS = (
    TherapyProduct,
    Patient,
    TherapyOrder,
    SlotCapacity,
    SlotBooking,
    Collection,
    Receipt,
    CustodyEvent,
    NumberSequence,
    Deviation,
)
_TOKENS: dict[int, dict[str, str]] = {}


@pytest.fixture(autouse=True)
def _fresh_tokens() -> Iterator[None]:
    _TOKENS.clear()
    yield
    _TOKENS.clear()


def bearer(user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    if user.pk not in _TOKENS:
        _, raw = core_services.create_api_token(actor=user, user=user, name="test")
        _TOKENS[user.pk] = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    return _TOKENS[user.pk]


def call(user, method: str, url: str, body: Any = None):  # type: ignore[no-untyped-def]
    client = Client()
    headers = bearer(user) if user is not None else {}
    if method == "get":
        return client.get(BASE + url, body or {}, **headers)
    return getattr(client, method)(
        BASE + url, json.dumps(body or {}), content_type="application/json", **headers
    )


@contextmanager
def unchanged() -> Iterator[None]:
    """Nothing in core, the chain or deviations changed; the audit chain still verifies."""
    with nothing_written(*CHAIN_MODELS):
        yield


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def order_body(w: World, **extra: Any) -> dict[str, Any]:
    return {
        "patient_id": w.patient.pk,
        "product_id": w.product.pk,
        "treating_physician": "Dr. Rivera",
        "requested_collection_date": w.today(w.clinic).isoformat(),
        "collection_site_id": w.apheresis.pk,
        "manufacturing_site_id": w.mfg.pk,
        **extra,
    }


def collection_body(ended: dt.datetime | None = None, **extra: Any) -> dict[str, Any]:
    end = ended or now() - dt.timedelta(hours=2)
    return {
        "started_at": iso(end - dt.timedelta(hours=3)),
        "ended_at": iso(end),
        "volume_ml": "250",
        "anticoagulant": "ACD-A",
        "wbc_10e9_per_l": "12.5",
        **extra,
    }


def receive_body(o: TherapyOrder, **extra: Any) -> dict[str, Any]:
    return {
        "scans": bag_label(o),
        "arrival_temperature_c": "5.0",
        "logger_serial": "TL-1",
        "logger_min_c": "3.1",
        "logger_max_c": "6.2",
        **extra,
    }


def patient_body(w: World, **extra: Any) -> dict[str, Any]:
    return {
        "site_id": w.clinic.pk,
        "site_patient_id": "LUH-000999",
        "given_name": "Jon",
        "family_name": "Doe",
        "date_of_birth": "1980-05-02",
        "weight_kg": "80.0",
        "diagnosis": "Relapsed B-ALL",
        "consent_status": "consented",
        "consent_date": "2026-01-12",
        **extra,
    }


def product_body(**extra: Any) -> dict[str, Any]:
    return {
        "code": "BCMA-CART",
        "name": "Autologous anti-BCMA CAR-T",
        "max_hours_to_manufacture": 72,
        "fresh_min_c": "2",
        "fresh_max_c": "8",
        **extra,
    }


PERSONAL = ("patient_id", "site_patient_id", "patient_name", "patient_date_of_birth")


# --- credentials --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/products"),
        ("post", "/products"),
        ("get", "/patients"),
        ("get", "/patients/1"),
        ("get", "/orders"),
        ("post", "/orders"),
        ("get", "/orders/1"),
        ("get", "/orders/1/timeline"),
        ("get", "/slots?site_id=1"),
        ("post", "/slots/capacity"),
        ("post", "/orders/1/book"),
        ("post", "/orders/1/collection"),
        ("post", "/orders/1/receive"),
        ("post", "/orders/1/handoff"),
        ("post", "/orders/1/advance"),
    ],
)
def test_every_route_needs_credentials(db, method: str, url: str) -> None:
    response = call(None, method, url)
    assert response.status_code == 401
    assert response.json()["detail"].startswith("authentication required")


# --- the acceptance walk ------------------------------------------------------------------------
def test_order_book_collect_receive_hand_off_and_read_the_timeline(world: World) -> None:
    """Issue 5 acceptance, API: each step by the person who does it at their own site."""
    w = world
    created = call(w.clinician, "post", "/orders", order_body(w))
    assert created.status_code == 201, created.json()
    order = created.json()
    oid, coi = order["id"], order["coi"]
    assert order["status"] == "ordered" and coi.startswith("CHB2345")
    assert order["identity_visible"] is True
    assert order["patient_name"] == "Maria Garcia"
    assert order["patient_date_of_birth"] == "1971-03-14"
    assert order["site_patient_id"] == "LUH-000123"

    booked = call(w.clinician, "post", f"/orders/{oid}/book", {"day": w.today().isoformat()})
    assert booked.status_code == 201, booked.json()
    assert booked.json()["status"] == "booked" and booked.json()["site"] == "MFG-B"
    calendar = call(w.clinician, "get", "/slots", {"site_id": w.mfg.pk, "days": 2}).json()
    assert calendar[0] == {
        "day": w.today().isoformat(),
        "capacity": 2,
        "booked": 1,
        "free": 1,
        "full": False,
    }

    collected = call(w.collector, "post", f"/orders/{oid}/collection", collection_body())
    assert collected.status_code == 201, collected.json()
    din = collected.json()["din"]
    assert din.startswith("D4567") and collected.json()["time_zone"] == "America/Chicago"
    assert collected.json()["ended_local"].endswith("America/Chicago)")

    courier = call(
        w.collector,
        "post",
        f"/orders/{oid}/handoff",
        {
            "scanned_text": coi,
            "to_custodian": "World Courier (J. Smith)",
            "to_location": "Courier van",
            "temperature_c": "4.5",
            "to_status": "in_transit",
        },
    )
    assert courier.status_code == 201, courier.json()
    assert courier.json()["matched"] == "COI identifier"
    assert courier.json()["from_custodian"] == w.apheresis.name
    assert courier.json()["status_after"] == "in_transit"

    o = TherapyOrder.objects.get(pk=oid)
    received = call(w.operator, "post", f"/orders/{oid}/receive", receive_body(o))
    assert received.status_code == 201, received.json()
    receipt = received.json()
    assert receipt["decision"] == "accepted" and receipt["temperature_ok"] is True
    assert receipt["order_status"] == "received"
    assert receipt["scans"][2] == "=#00********"  # the date of birth is never kept
    assert receipt["deviations"] == []

    cleanroom = call(
        w.operator,
        "post",
        f"/orders/{oid}/handoff",
        {
            "scanned_text": f"={din}00",
            "to_custodian": "Olivia Operator (MFG-B)",
            "to_location": "Cleanroom B, BSC 2",
            "temperature_c": "5.5",
        },
    )
    assert cleanroom.status_code == 201, cleanroom.json()
    assert cleanroom.json()["matched"] == "DIN"

    timeline = call(w.operator, "get", f"/orders/{oid}/timeline")
    assert timeline.status_code == 200
    body = timeline.json()
    assert [e["kind"] for e in body["events"]] == ["collected", "handoff", "received", "handoff"]
    assert [e["seq"] for e in body["events"]] == [1, 2, 3, 4]
    assert [e["status_after"] for e in body["events"]] == [
        "collected",
        "in_transit",
        "received",
        "received",
    ]
    first, *rest = body["events"]
    assert first["since_previous_seconds"] is None and first["since_start_seconds"] == 0
    assert first["late_entry"] is False  # a collection is recorded after it ends, always
    assert all(e["since_previous_seconds"] >= 0 for e in rest)
    assert rest[0]["since_start_seconds"] >= 2 * 3600 - 5  # the courier took it just now
    assert body["status"] == "received" and body["status_label"] == "Received"
    assert body["current_custodian"] == "Olivia Operator (MFG-B)"
    assert body["current_location"] == "Cleanroom B, BSC 2"
    assert body["din"] == din and body["receipt_decision"] == "accepted"
    assert body["collection_day"] == w.today().isoformat()
    clock = body["clock"]
    assert clock["running"] is True and clock["expired"] is False and clock["deviation"] == ""
    assert 45.8 <= float(clock["hours_left"]) <= 46.1  # 48 h from the end, 2 h ago
    assert clock["label"].endswith("h left")
    assert body["total_seconds"] == body["events"][-1]["since_start_seconds"]
    # The operator works with the COI identifier only.
    assert body["order"]["identity_visible"] is False
    assert all(body["order"][k] is None for k in PERSONAL)
    assert "Garcia" not in timeline.content.decode()
    assert "19710314" not in timeline.content.decode()
    assert "1971-03-14" not in timeline.content.decode()

    started = call(
        w.operator,
        "post",
        f"/orders/{oid}/advance",
        {"to_status": "in_manufacturing", "location": "Cleanroom B"},
    )
    assert started.status_code == 200, started.json()
    assert started.json()["status"] == "in_manufacturing"
    stopped = call(w.operator, "get", f"/orders/{oid}/timeline").json()
    assert stopped["clock"]["running"] is False and stopped["clock"]["hours_left"] is None
    assert stopped["clock"]["label"].startswith("stopped: manufacturing started")
    assert stopped["events"][-1]["kind"] == "stage"
    assert verify_chain().ok


def test_twelve_events_read_in_order_with_elapsed_times(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    """A chain of 12 custody events: each with the seconds since the previous and since the
    first; those recorded more than 30 minutes after they happened are late entries."""
    w = world
    o = walk("scheduled")
    end = now() - dt.timedelta(hours=5)
    r = call(w.collector, "post", f"/orders/{o.pk}/collection", collection_body(end))
    assert r.status_code == 201, r.json()
    for k in range(1, 11):  # ten late entries, 20 minutes apart
        r = call(
            w.collector,
            "post",
            f"/orders/{o.pk}/handoff",
            {
                "scanned_text": o.coi,
                "to_custodian": f"Custodian {k}",
                "to_location": f"Room {k}",
                "occurred_at": iso(end + dt.timedelta(minutes=20 * k)),
            },
        )
        assert r.status_code == 201, r.json()
    r = call(
        w.collector,
        "post",
        f"/orders/{o.pk}/handoff",
        {"scanned_text": o.coi, "to_custodian": "Custodian 11", "to_location": "Room 11"},
    )
    assert r.status_code == 201, r.json()
    body = call(w.inspector, "get", f"/orders/{o.pk}/timeline").json()
    events = body["events"]
    assert [e["seq"] for e in events] == list(range(1, 13))
    assert [e["to_custodian"] for e in events[1:]] == [f"Custodian {k}" for k in range(1, 12)]
    assert [e["from_custodian"] for e in events[2:]] == [f"Custodian {k}" for k in range(1, 11)]
    assert [e["since_previous_seconds"] for e in events[1:11]] == [1200.0] * 10
    assert [e["since_start_seconds"] for e in events[:11]] == [1200.0 * k for k in range(11)]
    assert 5 * 3600 - 5 <= events[11]["since_start_seconds"] <= 5 * 3600 + 60
    assert [e["late_entry"] for e in events] == [False] + [True] * 10 + [False]
    assert body["current_custodian"] == "Custodian 11" and body["current_location"] == "Room 11"
    late = call(
        w.collector,
        "post",
        f"/orders/{o.pk}/handoff",
        {
            "scanned_text": o.coi,
            "to_custodian": "Too early",
            "to_location": "Nowhere",
            "occurred_at": iso(end),
        },
    )
    assert late.status_code == 400 and late.json()["field"] == "occurred_at"


# --- identity mismatch at receipt ---------------------------------------------------------------
def test_a_mismatched_receipt_is_refused_recorded_and_changes_nothing_else(
    world: World,
    walk,  # type: ignore[no-untyped-def]
) -> None:
    w = world
    o = walk("in_transit")
    din = o.collection.din
    other_din = din[:7] + ("999999" if din[7:] != "999999" else "999998")
    scans = [f"={other_din}00", f"&/{o.coi}", f"=#00{o.patient.date_of_birth:%Y%m%d}"]
    bearer(w.operator)
    order_before = TherapyOrder.objects.filter(pk=o.pk).values().get()
    counts = {m.__name__: m.objects.count() for m in CHAIN_MODELS}
    dev_seq_existed = NumberSequence.objects.filter(key="DEV").exists()
    last_seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()

    r = call(w.operator, "post", f"/orders/{o.pk}/receive", receive_body(o, scans=scans))

    assert r.status_code == 409
    assert r.json()["field"] == "scans"
    assert "is not this order's DIN" in r.json()["detail"]
    assert "deviation" in r.json()["detail"]
    deviation = Deviation.objects.get()
    assert deviation.category == "identity" and deviation.site == w.mfg
    assert deviation.number in r.json()["detail"]
    assert deviation.source_id == str(o.pk)
    new = list(AuditEvent.objects.filter(seq__gt=last_seq).order_by("seq"))
    blocked = [e for e in new if e.action == "chain.receipt.blocked"]
    assert len(blocked) == 1 and blocked[0].record_id == str(o.pk)
    assert blocked[0].actor_id == w.operator.pk
    assert "19710314" not in json.dumps(blocked[0].changes)  # the DOB scan is kept masked
    assert not [e for e in new if e.action.startswith("chain.") and e is not blocked[0]]
    assert {e.action.split(".")[0] for e in new} <= {"chain", "deviation", "quality"}
    # Nothing else: no receipt, no custody event, the order exactly as it was.
    assert {m.__name__: m.objects.count() for m in CHAIN_MODELS} == {
        **counts,
        "Deviation": counts["Deviation"] + 1,
        # The deviation's number: its DEV sequence starts with it.
        "NumberSequence": counts["NumberSequence"] + (0 if dev_seq_existed else 1),
    }
    assert TherapyOrder.objects.filter(pk=o.pk).values().get() == order_before
    assert verify_chain().ok
    # The right bag is then received.
    ok = call(w.operator, "post", f"/orders/{o.pk}/receive", receive_body(o))
    assert ok.status_code == 201 and ok.json()["decision"] == "accepted"


def test_a_scan_that_is_not_an_identifier_is_400_without_a_deviation(
    world: World,
    walk,  # type: ignore[no-untyped-def]
) -> None:
    w = world
    o = walk("in_transit")
    bearer(w.operator)
    before = CustodyEvent.objects.count()
    r = call(
        w.operator,
        "post",
        f"/orders/{o.pk}/handoff",
        {"scanned_text": "hello", "to_custodian": "X", "to_location": "Y"},
    )
    assert r.status_code == 400 and r.json()["field"] == "scanned_text"
    assert Deviation.objects.count() == 0 and CustodyEvent.objects.count() == before
    assert AuditEvent.objects.filter(action="chain.custody.handoff.blocked").count() == 1


# --- wrong roles --------------------------------------------------------------------------------
def _writes(w: World, o: TherapyOrder) -> list[tuple[str, str, dict[str, Any]]]:
    today = w.today()
    return [
        ("post", "/products", product_body()),
        ("patch", f"/products/{w.product.pk}", {"reason": "typo", "name": "New name"}),
        ("post", "/patients", patient_body(w)),
        ("patch", f"/patients/{w.patient.pk}", {"reason": "weighed", "weight_kg": "70"}),
        ("post", "/orders", order_body(w)),
        ("post", f"/orders/{o.pk}/cancel", {"reason": "patient unwell"}),
        (
            "post",
            "/slots/capacity",
            {
                "site_id": w.mfg.pk,
                "start": today.isoformat(),
                "end": today.isoformat(),
                "capacity": 3,
            },
        ),
        ("post", f"/orders/{o.pk}/book", {"day": today.isoformat()}),
        (
            "post",
            f"/orders/{o.pk}/reschedule",
            {"day": (today + dt.timedelta(days=1)).isoformat(), "reason": "chair"},
        ),
        ("post", f"/orders/{o.pk}/cancel-booking", {"reason": "chair"}),
        ("post", f"/orders/{o.pk}/collection", collection_body()),
        ("patch", f"/orders/{o.pk}/collection", {"reason": "misread", "volume_ml": "260"}),
        ("post", f"/orders/{o.pk}/receive", receive_body(o)),
        (
            "post",
            f"/orders/{o.pk}/handoff",
            {"scanned_text": o.coi, "to_custodian": "X", "to_location": "Y"},
        ),
        ("post", f"/orders/{o.pk}/advance", {"to_status": "in_manufacturing"}),
    ]


# Who tries each write (index into _writes) without the role for it, at the sites they have.
WRONG = {
    0: ["operator", "clinician"],  # products: supervisor, QA approver
    1: ["clinician", "qc"],
    2: ["operator", "supervisor"],  # patients: clinical roles at the patient's site
    3: ["operator", "qc"],
    4: ["supervisor", "collector"],  # collector: clinical, but not at the patient's site
    5: ["operator", "logistics"],  # cancel: clinical at ordering site, supervisor
    6: ["clinician", "operator"],  # capacity: supervisor
    7: ["operator", "qc"],  # booking: clinical, logistics, supervisor
    8: ["qc"],
    9: ["operator"],
    10: ["clinician", "operator"],  # collection: clinical at the collection site
    11: ["operator", "clinician"],
    12: ["clinician", "qc", "qa_approver"],  # receipt: operator, supervisor, logistics
    13: ["qa_approver"],  # handoff: the handlers
    14: ["logistics", "qc", "qa_approver"],  # manufacturing starts: operator, supervisor
}


@pytest.mark.parametrize("index", sorted(WRONG))
def test_every_write_refuses_a_wrong_role_and_writes_nothing(
    world: World,
    walk,  # type: ignore[no-untyped-def]
    make_user,  # type: ignore[no-untyped-def]
    index: int,
) -> None:
    w = world
    o = walk("collected")
    method, url, body = _writes(w, o)[index]
    admin = make_user(Role.ADMIN, w.mfg, username="adm")
    people = [getattr(w, name) for name in WRONG[index]] + [w.inspector, admin]
    for person in people:
        bearer(person)
    with unchanged():
        for person in people:
            r = call(person, method, url, body)
            assert r.status_code == 403, (person.username, r.json())
            assert "needs one of these roles" in r.json()["detail"]


def test_later_stages_need_their_own_roles(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    w = world
    o = walk("received")
    bearer(w.operator), bearer(w.collector)
    with unchanged():
        r = call(w.operator, "post", f"/orders/{o.pk}/advance", {"to_status": "released"})
        assert r.status_code == 403 and "qa_approver" in r.json()["detail"]
        r = call(w.collector, "post", f"/orders/{o.pk}/advance", {"to_status": "in_manufacturing"})
        assert r.status_code == 403


def test_patients_are_for_clinical_roles_only(world: World) -> None:
    w = world
    for person in (w.operator, w.qc, w.inspector, w.supervisor):
        assert call(person, "get", "/patients").status_code == 403
        r = call(person, "get", f"/patients/{w.patient.pk}")
        assert r.status_code == 403 and "chain.patient.identity" in r.json()["detail"]
    listed = call(w.clinician, "get", "/patients").json()
    assert [p["site_patient_id"] for p in listed] == ["LUH-000123"]
    assert listed[0]["family_name"] == "Garcia" and listed[0]["enrolled_by"] == "clin"
    # The apheresis center's clinical user sees its own patients only.
    assert call(w.collector, "get", "/patients").json() == []
    r = call(w.collector, "get", f"/patients/{w.patient.pk}")
    assert r.status_code == 404 and r.json()["field"] == "patient_id"


# --- personal data ------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["operator", "qc", "inspector", "supervisor", "qa_approver"])
def test_name_and_date_of_birth_only_for_the_clinical_roles(
    world: World,
    walk,  # type: ignore[no-untyped-def]
    who: str,
) -> None:
    w = world
    o = walk("received")
    person = getattr(w, who)
    one = call(person, "get", f"/orders/{o.pk}")
    assert one.status_code == 200
    assert one.json()["coi"] == o.coi and one.json()["identity_visible"] is False
    assert all(one.json()[k] is None for k in PERSONAL)
    listed = call(person, "get", "/orders")
    assert [x["coi"] for x in listed.json()] == [o.coi]
    for response in (one, listed, call(person, "get", f"/orders/{o.pk}/timeline")):
        text = response.content.decode()
        assert "Garcia" not in text and "Maria" not in text
        assert "1971-03-14" not in text and "19710314" not in text
        assert "LUH-000123" not in text
    for clinical in (w.clinician, w.collector):
        seen = call(clinical, "get", f"/orders/{o.pk}").json()
        assert seen["identity_visible"] is True
        assert seen["patient_name"] == "Maria Garcia"
        assert seen["patient_date_of_birth"] == "1971-03-14"
        assert seen["patient_id"] == w.patient.pk


def test_orders_are_scoped_to_the_callers_sites(world: World, walk, make_site, make_user) -> None:  # type: ignore[no-untyped-def]
    w = world
    o = walk("scheduled")
    elsewhere = make_site(code="MFG-X", kind="manufacturing", time_zone="UTC", fin="X1234")
    stranger = make_user(Role.OPERATOR, elsewhere, username="stranger")
    assert call(stranger, "get", "/orders").json() == []
    for url in (f"/orders/{o.pk}", f"/orders/{o.pk}/timeline", f"/orders/{o.pk}/collection"):
        r = call(stranger, "get", url)
        assert r.status_code == 404 and r.json()["field"] == "order_id"
    # Filters: status and COI (spaces and case ignored).
    assert [
        x["id"] for x in call(w.operator, "get", "/orders", {"status": "scheduled"}).json()
    ] == [o.pk]
    assert call(w.operator, "get", "/orders", {"status": "received"}).json() == []
    spaced = f" {o.coi_eye_readable.lower()} "
    assert [x["id"] for x in call(w.operator, "get", "/orders", {"coi": spaced}).json()] == [o.pk]
    assert call(w.operator, "get", "/orders", {"coi": "CHB234599999999"}).json() == []


# --- bad input ----------------------------------------------------------------------------------
def test_bad_input_is_4xx_naming_the_field_and_writes_nothing(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    w = world
    ordered = walk("ordered")
    scheduled = walk("scheduled", patient=_second_patient(w))
    collected = walk("collected", patient=_second_patient(w, "LUH-000777"))
    yesterday = (w.today() - dt.timedelta(days=2)).isoformat()
    naive = (now() - dt.timedelta(hours=2)).replace(tzinfo=None).isoformat()
    cases: list[tuple[Any, str, str, Any, int, str]] = [
        (
            w.clinician,
            "post",
            "/orders",
            order_body(w, requested_collection_date=yesterday),
            400,
            "requested_collection_date",
        ),
        (
            w.clinician,
            "post",
            "/orders",
            order_body(w, requested_collection_date="2026-13-01"),
            422,
            "requested_collection_date",
        ),
        (
            w.clinician,
            "post",
            "/orders",
            order_body(w, manufacturing_site_id=w.clinic.pk),
            400,
            "manufacturing_site_id",
        ),
        (w.clinician, "post", "/orders", order_body(w, product_id=999999), 404, "product_id"),
        (w.clinician, "post", "/orders", order_body(w, patient_id="x"), 422, "patient_id"),
        (w.clinician, "post", f"/orders/{ordered.pk}/book", {"day": yesterday}, 400, "day"),
        (
            w.clinician,
            "post",
            f"/orders/{ordered.pk}/book",
            {"day": (w.today() + dt.timedelta(days=60)).isoformat()},
            409,
            "day",
        ),
        (
            w.clinician,
            "post",
            f"/orders/{scheduled.pk}/reschedule",
            {"day": w.today().isoformat()},
            422,
            "reason",
        ),
        (
            w.clinician,
            "post",
            f"/orders/{scheduled.pk}/reschedule",
            {"day": w.today().isoformat(), "reason": "  "},
            400,
            "reason",
        ),
        (
            w.collector,
            "post",
            f"/orders/{scheduled.pk}/collection",
            collection_body(started_at=naive),
            422,
            "started_at",
        ),
        (
            w.collector,
            "post",
            f"/orders/{scheduled.pk}/collection",
            collection_body(volume_ml="0"),
            400,
            "volume_ml",
        ),
        (
            w.collector,
            "post",
            f"/orders/{scheduled.pk}/collection",
            collection_body(anticoagulant="water"),
            400,
            "anticoagulant",
        ),
        (
            w.collector,
            "post",
            f"/orders/{scheduled.pk}/collection",
            collection_body(din="D456726123456"),
            400,
            "din",
        ),
        (
            w.collector,
            "post",
            f"/orders/{ordered.pk}/collection",
            collection_body(),
            409,
            "order_id",
        ),
        (
            w.collector,
            "patch",
            f"/orders/{collected.pk}/collection",
            {"reason": "x", "din": "D456726000001"},
            422,
            "din",
        ),
        (
            w.operator,
            "post",
            f"/orders/{collected.pk}/receive",
            receive_body(collected, arrival_temperature_c="150"),
            400,
            "arrival_temperature_c",
        ),
        (
            w.operator,
            "post",
            f"/orders/{collected.pk}/receive",
            receive_body(collected, scans=[]),
            400,
            "scans",
        ),
        (
            w.operator,
            "post",
            f"/orders/{collected.pk}/receive",
            receive_body(collected, scans=bag_label(collected)[:2]),
            400,
            "scans",
        ),
        (
            w.operator,
            "post",
            f"/orders/{collected.pk}/receive",
            receive_body(collected, decision="maybe"),
            400,
            "decision",
        ),
        (
            w.operator,
            "post",
            f"/orders/{collected.pk}/receive",
            receive_body(collected, decision="rejected"),
            400,
            "rejection_reason",
        ),
        (
            w.operator,
            "post",
            f"/orders/{collected.pk}/receive",
            receive_body(collected, logger_min_c="9", logger_max_c="3"),
            400,
            "logger_min_c",
        ),
        (
            w.collector,
            "post",
            f"/orders/{collected.pk}/handoff",
            {"scanned_text": collected.coi, "to_custodian": "", "to_location": "Y"},
            400,
            "to_custodian",
        ),
        (
            w.collector,
            "post",
            f"/orders/{collected.pk}/handoff",
            {
                "scanned_text": collected.coi,
                "to_custodian": "X",
                "to_location": "Y",
                "to_status": "infused",
            },
            400,
            "to_status",
        ),
        (
            w.collector,
            "post",
            f"/orders/{collected.pk}/handoff",
            {
                "scanned_text": collected.coi,
                "to_custodian": "X",
                "to_location": "Y",
                "occurred_at": iso(now() + dt.timedelta(hours=1)),
            },
            400,
            "occurred_at",
        ),
        (
            w.operator,
            "post",
            f"/orders/{collected.pk}/advance",
            {"to_status": "shipped"},
            400,
            "to_status",
        ),
        (
            w.operator,
            "post",
            f"/orders/{collected.pk}/advance",
            {"to_status": "in_manufacturing"},
            409,
            "status",
        ),
        (
            w.supervisor,
            "post",
            "/slots/capacity",
            {
                "site_id": w.mfg.pk,
                "start": w.today().isoformat(),
                "end": w.today().isoformat(),
                "capacity": 3,
                "weekdays": [8],
            },
            400,
            "weekdays",
        ),
        (
            w.supervisor,
            "post",
            "/slots/capacity",
            {
                "site_id": w.mfg.pk,
                "start": w.today().isoformat(),
                "end": w.today().isoformat(),
                "capacity": 0,
            },
            409,
            "capacity",
        ),
        (
            w.supervisor,
            "post",
            "/slots/capacity",
            {
                "site_id": w.mfg.pk,
                "start": w.today().isoformat(),
                "end": (w.today() - dt.timedelta(days=1)).isoformat(),
                "capacity": 1,
            },
            400,
            "end",
        ),
        (w.supervisor, "post", "/products", product_body(fresh_min_c="9"), 400, "fresh_min_c"),
        (w.supervisor, "post", "/products", product_body(code="CD19-CART"), 409, "code"),
        (
            w.supervisor,
            "post",
            "/products",
            product_body(max_hours_to_manufacture=0),
            400,
            "max_hours_to_manufacture",
        ),
        (w.supervisor, "patch", f"/products/{w.product.pk}", {"name": "x"}, 422, "reason"),
        (
            w.clinician,
            "post",
            "/patients",
            patient_body(w, date_of_birth="2999-01-01"),
            400,
            "date_of_birth",
        ),
        (
            w.clinician,
            "post",
            "/patients",
            patient_body(w, site_patient_id="LUH-000123"),
            409,
            "site_patient_id",
        ),
        (w.clinician, "post", "/patients", patient_body(w, consent_date=None), 400, "consent_date"),
        (
            w.clinician,
            "patch",
            f"/patients/{w.patient.pk}",
            {"reason": "x", "weight_kg": "0"},
            400,
            "weight_kg",
        ),
        (w.clinician, "post", f"/orders/{ordered.pk}/cancel", {"reason": ""}, 400, "reason"),
        (w.clinician, "post", f"/orders/{2**63}/cancel", {"reason": "x"}, 400, "order_id"),
    ]
    for person in {c[0].pk: c[0] for c in cases}.values():
        bearer(person)
    with unchanged():
        for person, method, url, body, status, field in cases:
            r = call(person, method, url, body)
            assert (r.status_code, r.json().get("field")) == (status, field), (url, body, r.json())
            assert r.json()["detail"]


def test_bad_queries_are_4xx_naming_the_field(world: World) -> None:
    w = world
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("/slots", {"site_id": w.mfg.pk, "days": 93}, 422, "days"),
        ("/slots", {"site_id": w.mfg.pk, "days": 0}, 422, "days"),
        ("/slots", {"site_id": w.mfg.pk, "start": "2026-02-30"}, 422, "start"),
        ("/slots", {"site_id": w.clinic.pk}, 404, "site_id"),
        ("/slots", {}, 422, "site_id"),
        ("/orders", {"status": "bogus"}, 422, "status"),
        ("/orders", {"limit": 0}, 422, "limit"),
        ("/orders", {"coi": "a\x00b"}, 400, "coi"),
        (f"/orders/{2**63}", {}, 404, "order_id"),
        ("/orders/999999/timeline", {}, 404, "order_id"),
        ("/products/999999", {}, 404, "product_id"),
    ]
    for url, query, status, field in cases:
        r = call(w.operator, "get", url, query)
        assert (r.status_code, r.json().get("field")) == (status, field), (url, query, r.json())


def _second_patient(w: World, pid: str = "LUH-000456") -> Patient:
    from vein2vein.chain import services

    return services.enroll_patient(
        actor=w.clinician,
        site_id=w.clinic.pk,
        site_patient_id=pid,
        given_name="Ana",
        family_name="Lopez",
        date_of_birth="1990-07-01",
        weight_kg="60",
        diagnosis="Relapsed DLBCL",
        consent_status="consented",
        consent_date="2026-01-11",
    )


# --- the inspector ------------------------------------------------------------------------------
def test_the_inspector_reads_everything_at_their_site_and_writes_nothing(
    world: World,
    walk,  # type: ignore[no-untyped-def]
) -> None:
    w = world
    o = walk("received")
    insp = w.inspector
    assert call(insp, "get", "/orders").status_code == 200
    assert call(insp, "get", f"/orders/{o.pk}").status_code == 200
    assert call(insp, "get", f"/orders/{o.pk}/collection").json()["din"] == o.collection.din
    assert call(insp, "get", f"/orders/{o.pk}/receipt").json()["decision"] == "accepted"
    assert len(call(insp, "get", f"/orders/{o.pk}/timeline").json()["events"]) == 3
    assert [p["code"] for p in call(insp, "get", "/products").json()] == ["CD19-CART"]
    assert call(insp, "get", f"/products/{w.product.pk}").json()["max_hours_to_manufacture"] == 48
    assert len(call(insp, "get", "/slots", {"site_id": w.mfg.pk, "days": 92}).json()) == 92
    # Writes: every one refused (the full table is in the wrong-role test).
    with unchanged():
        for method, url, body in _writes(w, o):
            assert call(insp, method, url, body).status_code == 403, url


# --- the remaining routes -----------------------------------------------------------------------
def test_products_through_the_api(world: World) -> None:
    w = world
    r = call(w.supervisor, "post", "/products", product_body(isbt_description_code="s9876"))
    assert r.status_code == 201, r.json()
    p = r.json()
    assert p["code"] == "BCMA-CART" and p["isbt_description_code"] == "S9876"
    url = f"/products/{p['id']}"
    patched = call(w.qa_approver, "patch", url, {"reason": "stability study", "fresh_max_c": "10"})
    assert patched.status_code == 200 and patched.json()["fresh_max_c"] == "10.0"
    off = call(w.supervisor, "patch", url, {"reason": "retired", "is_active": False})
    assert off.json()["is_active"] is False
    assert [
        x["code"] for x in call(w.operator, "get", "/products", {"active_only": True}).json()
    ] == ["CD19-CART"]
    assert len(call(w.operator, "get", "/products").json()) == 2
    same = call(w.supervisor, "patch", url, {"reason": "x", "is_active": False})
    assert same.status_code == 400 and "nothing to change" in same.json()["detail"]


def test_patients_through_the_api(world: World) -> None:
    w = world
    r = call(w.clinician, "post", "/patients", patient_body(w))
    assert r.status_code == 201, r.json()
    pid = r.json()["id"]
    assert r.json()["site"] == "CLIN-C" and r.json()["date_of_birth"] == "1980-05-02"
    fixed = call(
        w.clinician, "patch", f"/patients/{pid}", {"reason": "re-weighed", "weight_kg": "78.5"}
    )
    assert fixed.status_code == 200 and fixed.json()["weight_kg"] == "78.5"
    event = AuditEvent.objects.filter(action="chain.patient.corrected").get()
    assert event.reason == "re-weighed" and event.changes["weight_kg"]["old"] == "80.0"
    found = call(w.clinician, "get", "/patients", {"site_patient_id": "LUH-000999"}).json()
    assert [x["id"] for x in found] == [pid]
    assert call(w.clinician, "get", f"/patients/{pid}").json()["weight_kg"] == "78.5"


def test_reschedule_cancel_booking_and_cancel_order(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    w = world
    o = walk("scheduled")
    tomorrow = (w.today() + dt.timedelta(days=1)).isoformat()
    moved = call(
        w.logistics, "post", f"/orders/{o.pk}/reschedule", {"day": tomorrow, "reason": "chair down"}
    )
    assert moved.status_code == 201, moved.json()
    assert moved.json()["day"] == tomorrow and moved.json()["status"] == "booked"
    old = SlotBooking.objects.get(order=o, status="rescheduled")
    assert old.release_reason == "chair down" and old.released_by == w.logistics
    days = call(w.clinician, "get", "/slots", {"site_id": w.mfg.pk, "days": 2}).json()
    assert [d["booked"] for d in days] == [0, 1]
    back = call(w.clinician, "post", f"/orders/{o.pk}/cancel-booking", {"reason": "fever"})
    assert back.status_code == 200 and back.json()["status"] == "ordered"
    assert (
        call(w.clinician, "get", "/slots", {"site_id": w.mfg.pk, "days": 2}).json()[1]["booked"]
        == 0
    )
    again = call(w.clinician, "post", f"/orders/{o.pk}/book", {"day": tomorrow})
    assert again.status_code == 201
    cancelled = call(w.supervisor, "post", f"/orders/{o.pk}/cancel", {"reason": "withdrew"})
    assert cancelled.status_code == 200, cancelled.json()
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancel_reason"] == "withdrew"
    assert cancelled.json()["identity_visible"] is False  # the supervisor is manufacturing
    assert not SlotBooking.objects.filter(order=o, status="booked").exists()
    twice = call(w.supervisor, "post", f"/orders/{o.pk}/cancel", {"reason": "again"})
    assert twice.status_code == 409 and twice.json()["field"] == "status"


def test_capacity_and_collection_correction(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    w = world
    start = w.today() + dt.timedelta(days=40)
    r = call(
        w.supervisor,
        "post",
        "/slots/capacity",
        {
            "site_id": w.mfg.pk,
            "start": start.isoformat(),
            "end": (start + dt.timedelta(days=6)).isoformat(),
            "capacity": 4,
            "weekdays": [1, 2, 3, 4, 5],
            "reason": "second shift",
        },
    )
    assert r.status_code == 200, r.json()
    assert len(r.json()) == 5 and {x["capacity"] for x in r.json()} == {4}
    week = call(w.operator, "get", "/slots", {"site_id": w.mfg.pk, "start": start, "days": 7})
    assert sorted(d["capacity"] for d in week.json()) == [0, 0, 4, 4, 4, 4, 4]
    o = walk("collected")
    before = o.stability_deadline
    new_end = o.collection.ended_at - dt.timedelta(minutes=30)
    fixed = call(
        w.collector,
        "patch",
        f"/orders/{o.pk}/collection",
        {"reason": "clock on the wall was wrong", "ended_at": iso(new_end), "cd3_10e9_per_l": None},
    )
    assert fixed.status_code == 200, fixed.json()
    assert fixed.json()["ended_at"].startswith(f"{new_end:%Y-%m-%dT%H:%M:%S}")
    o.refresh_from_db()
    assert o.collection.ended_at == new_end and o.collection.cd3_10e9_per_l is None
    assert o.stability_deadline == before - dt.timedelta(minutes=30)
    got = call(w.operator, "get", f"/orders/{o.pk}/collection").json()
    assert got["din"] == o.collection.din and got["wbc_10e9_per_l"] == "12.50"
    missing = call(
        w.operator, "get", f"/orders/{walk('ordered', patient=_second_patient(w)).pk}/collection"
    )
    assert missing.status_code == 404 and missing.json()["field"] == "order_id"
