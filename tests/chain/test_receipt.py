"""Receipt at the manufacturing site: the bag label's DIN, COI identifier and patient date of
birth must all be scanned and match, in any order or as one compound message. A mismatch is
refused with a recorded attempt and an identity deviation, and nothing else changes."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from tests.chain.conftest import World, bag_label, refusal_recorded, refused, refused_roles
from vein2vein.chain import services
from vein2vein.chain.models import CustodyEvent, Receipt, TherapyOrder
from vein2vein.core.choices import Role
from vein2vein.core.errors import (
    Conflict,
    InterlockBlocked,
    PermissionRefused,
    ValidationFailed,
)
from vein2vein.core.models import AuditEvent, User
from vein2vein.core.time import now
from vein2vein.quality.models import Deviation
from vein2vein.standards import isbt128

pytestmark = pytest.mark.django_db

RECEIVERS = {Role.OPERATOR, Role.SUPERVISOR, Role.LOGISTICS}


def _receive(world: World, o: TherapyOrder, actor: User | None = None, **over: Any) -> Receipt:
    values: dict[str, Any] = {
        "arrival_temperature_c": "5.0",
        "logger_serial": "TL-9",
        "logger_min_c": "3.0",
        "logger_max_c": "6.5",
        "logger_summary": "No alarms",
    }
    values.update(over)
    if "scans" not in values:
        values["scans"] = bag_label(o)
    return services.receive_collection(actor=actor or world.operator, order_id=o.pk, **values)


def _patient(world: World, pid: str, born: str = "1990-02-03"):  # type: ignore[no-untyped-def]
    return services.enroll_patient(
        actor=world.clinician,
        site_id=world.clinic.pk,
        site_patient_id=pid,
        given_name="Ada",
        family_name="Lind",
        date_of_birth=born,
        weight_kg="60",
        diagnosis="Multiple myeloma",
        consent_status="consented",
        consent_date="2026-02-01",
    )


def _wrong_check(valid: str) -> str:
    return next(ch for ch in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" if ch != valid)


# --- accepted ------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_the_three_scans_are_accepted_in_any_order(world: World, walk, order) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    label = bag_label(o)
    receipt = _receive(world, o, scans=[label[i] for i in order])
    o.refresh_from_db()
    assert o.status == "received"
    assert (receipt.decision, receipt.temperature_ok, receipt.deviations) == ("accepted", True, [])
    assert sorted(receipt.matched) == ["COI identifier", "DIN", "patient date of birth"]


def test_a_receipt_records_what_was_scanned_and_measured(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    receipt = _receive(world, o)
    din = o.collection.din
    # The date of birth was checked but is not kept in the clear.
    assert receipt.scans == [f"={din}00", f"&/{o.coi}", "=#00********"]
    assert (receipt.logger_serial, str(receipt.logger_max_c), receipt.logger_summary) == (
        "TL-9",
        "6.5",
        "No alarms",
    )
    assert (receipt.site, receipt.received_by) == (world.mfg, world.operator)
    event = CustodyEvent.objects.get(order=o, seq=3)
    assert (event.kind, event.status_after, str(event.temperature_c)) == (
        "received",
        "received",
        "5.0",
    )
    assert (event.from_custodian, event.from_location) == (
        "World Courier (J. Smith)",
        "Courier van",
    )
    assert (event.to_custodian, event.to_location) == ("Olivia Operator (MFG-B)", "Goods-in")
    assert event.matched == "DIN, COI identifier, patient date of birth"
    assert "19710314" not in event.scanned_text
    actions = set(
        AuditEvent.objects.filter(record_id__in=[str(o.pk), str(receipt.pk)]).values_list(
            "action", flat=True
        )
    )
    assert {"chain.receipt.recorded", "chain.order.received"} <= actions


@pytest.mark.parametrize("joiner", ["\n", "\r\n"])
def test_a_keyboard_wedge_types_one_scan_per_line(world: World, walk, joiner: str) -> None:  # type: ignore[no-untyped-def]
    o = walk("collected")  # straight from the apheresis unit, no courier leg
    receipt = _receive(world, o, scans=joiner.join(bag_label(o)) + joiner)
    assert receipt.decision == "accepted"
    assert len(receipt.scans) == 3


def test_one_compound_message_carries_all_three(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    din = o.collection.din
    compound = f"=+03000={din}00&/{o.coi}=#0019710314"
    receipt = _receive(world, o, scans=[compound])
    assert receipt.matched == ["DIN + COI identifier + patient date of birth"]
    assert receipt.scans == [f"=+03000={din}00&/{o.coi}=#00********"]


def test_a_keyed_din_and_plain_coi_count_too(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    c = o.collection
    scans = [f"{c.din_eye_readable} {c.din_check_character}", o.coi, "=#0019710314"]
    assert _receive(world, o, scans=scans).decision == "accepted"


@pytest.mark.parametrize("role", sorted(RECEIVERS))
def test_operators_supervisors_and_logistics_receive(world: World, walk, everyone, role) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    assert _receive(world, o, everyone[role]).received_by == everyone[role]


def test_nobody_else_receives(world: World, walk, everyone, make_site, make_user) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    message = "chain.receipt.record needs one of these roles at MFG-B: logistics, operator, sup"
    for role in refused_roles(RECEIVERS):
        with refused(PermissionRefused, field=None, message=message):
            _receive(world, o, everyone[role])
    other = make_site(code="MFG-X", kind="manufacturing", time_zone="UTC", fin="X1234")
    stranger = make_user(Role.OPERATOR, other, username="op-x")
    with refused(PermissionRefused, field=None, message="at MFG-B"):
        _receive(world, o, stranger)


# --- refused: a scan that does not match ---------------------------------------------------------


def _mismatches(world: World, walk) -> dict[str, tuple[TherapyOrder, list[str], str]]:  # type: ignore[no-untyped-def]
    """name -> (order, scans, message) for each way a bag label can fail to match."""
    o = walk("in_transit")
    other = walk("collected", patient=_patient(world, "P-2"))
    din = isbt128.Din.parse(f"={o.collection.din}00")
    other_din = isbt128.Din.parse(f"={other.collection.din}00")
    dob = "=#0019710314"
    wrong_flag = next(f for f in range(60, 97) if str(f) != din.type3_flag)
    return {
        "another patient's COI": (
            o,
            [din.barcode_text, f"&/{other.coi}", dob],
            f"COI identifier {other.coi_eye_readable} is not this order's "
            f"({o.coi_eye_readable}): this is another patient's material",
        ),
        "another DIN": (
            o,
            [other_din.barcode_text, f"&/{o.coi}", dob],
            f"DIN {other_din.eye_readable} is not this order's DIN ({din.eye_readable}): "
            "this is another donation",
        ),
        "a wrong date of birth": (
            o,
            [din.barcode_text, f"&/{o.coi}", "=#0019710315"],
            f"patient date of birth on the label does not match order {o.coi}",
        ),
        "a keyed DIN with a wrong check character": (
            o,
            [din.din + _wrong_check(din.check_character), f"&/{o.coi}", dob],
            f"is wrong for DIN {din.eye_readable}",
        ),
        "a DIN barcode with a wrong Type 3 flag": (
            o,
            [f"={din.din}{wrong_flag}", f"&/{o.coi}", dob],
            f"Type 3 flag {wrong_flag} does not match DIN {din.din}",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "another patient's COI",
        "another DIN",
        "a wrong date of birth",
        "a keyed DIN with a wrong check character",
        "a DIN barcode with a wrong Type 3 flag",
    ],
)
def test_a_mismatch_is_refused_recorded_and_raises_a_deviation(world: World, walk, case) -> None:  # type: ignore[no-untyped-def]
    o, scans, message = _mismatches(world, walk)[case]
    with (
        refusal_recorded(o, "chain.receipt", deviation=True) as recorded,
        pytest.raises(InterlockBlocked) as caught,
    ):
        _receive(world, o, scans=scans)
    assert caught.value.status_code == 409
    assert caught.value.field == "scans"
    assert message in caught.value.message
    dev = recorded.deviation
    assert dev is not None
    assert caught.value.message.endswith(f"; deviation {dev.number} raised")
    assert message in dev.description and "receipt" in dev.description
    assert "19710314" not in dev.description  # the date of birth is masked
    blocked = next(e for e in recorded.events if e.action == "chain.receipt.blocked")
    assert message in blocked.reason
    assert blocked.changes["site"] == {"old": None, "new": "MFG-B"}
    assert "19710314" not in str(blocked.changes)
    o.refresh_from_db()
    assert o.status == "in_transit"


@pytest.mark.parametrize(
    ("scan", "message"),
    [
        ("hello world", "not an ISBT 128 barcode, a COI identifier (CH + 13 characters)"),
        ("=~1234", "unknown data identifier '=~'"),
        ("&/CHB2345", "chain of identity identifier: expected 15 characters after '&/', got 7"),
    ],
)
def test_a_malformed_scan_is_refused_and_recorded_without_a_deviation(
    world: World, walk, scan: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    scans = [*bag_label(o), scan]
    with (
        refusal_recorded(o, "chain.receipt", deviation=False) as recorded,
        pytest.raises(ValidationFailed) as caught,
    ):
        _receive(world, o, scans=scans)
    assert (caught.value.status_code, caught.value.field) == (400, "scans")
    assert message in caught.value.message
    assert "deviation" not in caught.value.message
    assert recorded.events[0].reason == caught.value.message


@pytest.mark.parametrize("missing", [0, 1, 2])
def test_a_label_missing_one_of_the_three_writes_nothing(world: World, walk, missing: int) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    scans = [s for i, s in enumerate(bag_label(o)) if i != missing]
    name = ["DIN", "COI identifier", "patient date of birth"][missing]
    with refused(ValidationFailed, field="scans", message=f"scan the bag label's {name} too"):
        _receive(world, o, scans=scans)


def test_bad_receipt_input_is_named(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    for over, field, message in (
        ({"scans": []}, "scans", "scans is required: scan the bag label"),
        ({"scans": " \n \n"}, "scans", "scans is required"),
        ({"scans": [1, 2]}, "scans", "scans must be a list of scanned texts"),
        ({"scans": ["x"] * 11}, "scans", "at most 10 scans"),
        ({"arrival_temperature_c": None}, "arrival_temperature_c", "is required"),
        ({"arrival_temperature_c": "warm"}, "arrival_temperature_c", "must be a number"),
        ({"logger_min_c": "9", "logger_max_c": "3"}, "logger_min_c", "is above logger_max_c"),
        ({"decision": "maybe"}, "decision", "decision must be one of"),
        ({"decision": "rejected"}, "rejection_reason", "rejection_reason is required"),
        ({"location": ""}, "location", "location is required"),
        ({"occurred_at": now() + dt.timedelta(hours=1)}, "occurred_at", "is in the future"),
        (
            {"occurred_at": now() - dt.timedelta(days=1)},
            "occurred_at",
            "occurred_at is before the previous custody event (#2",
        ),
    ):
        with refused(ValidationFailed, field=field, message=message):
            _receive(world, o, **over)


@pytest.mark.parametrize("stage", ["scheduled", "received"])
def test_only_collected_material_in_transit_is_received(world: World, walk, stage: str) -> None:  # type: ignore[no-untyped-def]
    o = walk(stage)
    # No bag exists before collection; the status is checked before any scan.
    scans = bag_label(o) if stage == "received" else [f"&/{o.coi}", "=#0019710314"]
    with refused(Conflict, field="order_id", message="only collected material in transit can be"):
        _receive(world, o, scans=scans)


def test_a_cancelled_order_is_not_received(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    services.cancel_order(actor=world.clinician, order_id=o.pk, reason="Patient withdrew")
    with refused(Conflict, field="order_id", message="is cancelled; only collected material"):
        _receive(world, o)


# --- temperature, rejection, stability ----------------------------------------------------


@pytest.mark.parametrize(
    ("over", "ok"),
    [
        ({"arrival_temperature_c": "8.0"}, True),
        ({"arrival_temperature_c": "2.0", "logger_min_c": "2.0"}, True),
        ({"arrival_temperature_c": "8.1"}, False),
        ({"arrival_temperature_c": "1.9"}, False),
        ({"logger_max_c": "12.5"}, False),
        ({"logger_min_c": "-1.0"}, False),
    ],
)
def test_a_warm_or_cold_bag_is_received_with_a_temperature_deviation(
    world: World, walk, over: dict[str, str], ok: bool
) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    receipt = _receive(world, o, **over)
    o.refresh_from_db()
    # Out of range: here, but quarantined until QA dispositions it (test_quarantine.py).
    decision = "accepted" if ok else "quarantine"
    assert (o.status, receipt.decision, receipt.temperature_ok) == ("received", decision, ok)
    devs = list(Deviation.objects.all())
    if ok:
        assert (devs, receipt.deviations) == ([], [])
        return
    assert [d.number for d in devs] == receipt.deviations
    (dev,) = devs
    assert (dev.category, dev.site, dev.source_id, dev.raised_by) == (
        "temperature",
        world.mfg,
        str(o.pk),
        world.operator,
    )
    assert f"Apheresis for {o.coi} arrived outside 2.0 to 8.0 °C" == dev.title


def test_a_rejected_bag_needs_a_reason(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    with refused(ValidationFailed, field="rejection_reason", message="is required"):
        _receive(world, o, decision="rejected", rejection_reason="  ")
    receipt = _receive(world, o, decision="rejected", rejection_reason="Bag leaking")
    o.refresh_from_db()
    assert (o.status, receipt.decision, receipt.rejection_reason) == (
        "rejected",
        "rejected",
        "Bag leaking",
    )
    event = CustodyEvent.objects.get(order=o, seq=o.last_event_seq)
    assert (event.kind, event.status_after, event.note) == (
        "receipt_rejected",
        "rejected",
        "Bag leaking",
    )
    audit = AuditEvent.objects.get(action="chain.order.rejected", record_id=str(o.pk))
    assert audit.reason == "Bag leaking"


def test_a_receipt_after_the_stability_deadline_raises_a_deviation(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("scheduled")
    end = now() - dt.timedelta(hours=49)
    services.record_collection(
        actor=world.collector,
        order_id=o.pk,
        started_at=end - dt.timedelta(hours=3),
        ended_at=end,
        volume_ml="250",
        anticoagulant="ACD-A",
    )
    receipt = _receive(world, o)
    o.refresh_from_db()
    assert o.status == "received"  # received, and the deviation says it is late
    dev = Deviation.objects.get()
    assert (dev.category, dev.title) == ("process", f"Stability time exceeded for {o.coi}")
    assert receipt.deviations == [dev.number] == [o.stability_deviation]
    event = AuditEvent.objects.get(action="chain.order.received", record_id=str(o.pk))
    assert event.changes == {
        "status": {"old": "collected", "new": "received"},
        "stability_deviation": {"old": "", "new": dev.number},
    }
    # Received on time by the stated time: no deviation.
    on_time = walk("scheduled", patient=_patient(world, "P-3", born="1971-03-14"))
    services.record_collection(
        actor=world.collector,
        order_id=on_time.pk,
        started_at=end - dt.timedelta(hours=3),
        ended_at=end,
        volume_ml="250",
        anticoagulant="ACD-A",
    )
    late_entry = _receive(world, on_time, occurred_at=end + dt.timedelta(hours=40))
    assert late_entry.deviations == []
    assert Deviation.objects.count() == 1
