"""Custody: every handoff is an event, numbered per order, from the previous holder to the
next, never changed afterwards; the scan must prove the material's identity; time only moves
forward; a late entry shows as one on the timeline."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from tests.chain.conftest import World, bag_label, refusal_recorded, refused, refused_roles
from vein2vein.chain import selectors, services
from vein2vein.chain.choices import HANDOFF_TARGETS
from vein2vein.chain.models import CustodyEvent, TherapyOrder
from vein2vein.core.audit import record_ref
from vein2vein.core.choices import Role
from vein2vein.core.errors import Conflict, InterlockBlocked, PermissionRefused, ValidationFailed
from vein2vein.core.models import AuditEvent, User
from vein2vein.core.time import now

pytestmark = pytest.mark.django_db

HANDLERS = {
    Role.CLINICAL_SITE,
    Role.OPERATOR,
    Role.SUPERVISOR,
    Role.LOGISTICS,
    Role.QC_ANALYST,
}


def _hand(world: World, o: TherapyOrder, actor: User | None = None, **over: Any) -> CustodyEvent:
    values: dict[str, Any] = {
        "scanned_text": o.coi,
        "to_custodian": "Cleanroom B (O. Operator)",
        "to_location": "MFG-B cleanroom B",
        "temperature_c": "5.5",
    }
    values.update(over)
    return services.hand_off(actor=actor or world.operator, order_id=o.pk, **values)


def _rows(o: TherapyOrder) -> list[tuple[object, ...]]:
    return list(CustodyEvent.objects.filter(order=o).order_by("seq").values_list())


# --- the chain ---------------------------------------------------------------------------------


def test_twelve_handoffs_vein_to_vein_in_order(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    """Collection to infusion, each step an hour after the last, all through the services;
    every step leaves the events before it exactly as they were."""
    o = walk("scheduled")
    start = now() - dt.timedelta(hours=20)
    at = [start + dt.timedelta(hours=h) for h in range(12)]
    services.record_collection(
        actor=world.collector,
        order_id=o.pk,
        started_at=at[0] - dt.timedelta(hours=3),
        ended_at=at[0],
        volume_ml="250",
        anticoagulant="ACD-A",
    )
    o.refresh_from_db()
    c = o.collection
    din_scan = f"={c.din}00"
    steps: list[tuple[str, Any]] = [
        (
            "hand",
            {
                "actor": world.collector,
                "scanned_text": o.coi,
                "to_custodian": "World Courier (J. Smith)",
                "to_location": "Courier van",
                "to_status": "in_transit",
            },
        ),
        (
            "hand",
            {
                "actor": world.logistics,
                "scanned_text": din_scan,
                "to_custodian": "Airline cargo",
                "to_location": "ORD cargo hold",
                "to_status": "in_transit",
            },
        ),
        (
            "hand",
            {
                "actor": world.logistics,
                "scanned_text": f"{o.coi}{o.coi_check_character}",
                "to_custodian": "World Courier (K. Lee)",
                "to_location": "Courier van 2",
            },
        ),
        ("receive", {}),
        (
            "hand",
            {
                "actor": world.operator,
                "scanned_text": f"&/{o.coi}",
                "to_custodian": "Olivia Operator",
                "to_location": "MFG-B cleanroom B",
            },
        ),
        (
            "advance",
            {"actor": world.operator, "to_status": "in_manufacturing", "location": "Suite 2"},
        ),
        ("advance", {"actor": world.qc, "to_status": "in_qc", "custodian": "QC lab"}),
        ("advance", {"actor": world.qa_approver, "to_status": "released"}),
        (
            "hand",
            {
                "actor": world.logistics,
                "scanned_text": o.coi,
                "to_custodian": "Cryo courier",
                "to_location": "Dry shipper",
                "to_status": "shipped",
                "temperature_c": "-180",
            },
        ),
        (
            "hand",
            {
                "actor": world.clinician,
                "scanned_text": o.coi,
                "to_custodian": "CLIN-C pharmacy",
                "to_location": "LN2 storage",
                "to_status": "delivered",
                "temperature_c": "-175",
            },
        ),
        (
            "advance",
            {
                "actor": world.clinician,
                "to_status": "infused",
                "custodian": "Patient",
                "location": "Ward 4",
            },
        ),
    ]
    for n, (kind, kw) in enumerate(steps, start=1):
        before = _rows(o)
        when = at[n]
        if kind == "hand":
            actor = kw.pop("actor")
            _hand(world, o, actor, occurred_at=when, **kw)
        elif kind == "receive":
            services.receive_collection(
                actor=world.operator,
                order_id=o.pk,
                scans=bag_label(o),
                arrival_temperature_c="4.8",
                occurred_at=when,
            )
        else:
            actor = kw.pop("actor")
            services.advance_order(actor=actor, order_id=o.pk, occurred_at=when, **kw)
        after = _rows(o)
        assert after[: len(before)] == before, f"step {n} changed an earlier event"
        assert len(after) == len(before) + 1
    o.refresh_from_db()
    assert o.status == "infused"
    events = list(CustodyEvent.objects.filter(order=o).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, 13))
    assert [e.occurred_at for e in events] == at
    assert [e.kind for e in events] == (
        ["collected", "handoff", "handoff", "handoff", "received", "handoff"]
        + ["stage"] * 3
        + ["handoff", "handoff", "stage"]
    )
    assert [e.status_after for e in events] == [
        "collected",
        "in_transit",
        "in_transit",
        "in_transit",
        "received",
        "received",
        "in_manufacturing",
        "in_qc",
        "released",
        "shipped",
        "delivered",
        "infused",
    ]
    for previous, event in itertools.pairwise(events):
        assert (event.from_custodian, event.from_location) == (
            previous.to_custodian,
            previous.to_location,
        )
    assert (o.last_event_seq, o.current_custodian, o.current_location) == (12, "Patient", "Ward 4")
    assert events[3].matched == "COI identifier"
    assert events[2].matched == "DIN"
    # The vein-to-vein view: every event in order with its elapsed times.
    view = selectors.vein_to_vein(o)
    timeline = view["timeline"]
    assert [t.event.seq for t in timeline] == list(range(1, 13))
    assert timeline[0].since_previous is None
    assert {t.since_previous for t in timeline[1:]} == {dt.timedelta(hours=1)}
    assert [t.since_start for t in timeline] == [dt.timedelta(hours=h) for h in range(12)]
    assert view["total"] == dt.timedelta(hours=11)
    assert view["closed"] is True
    assert view["clock"].stopped_at == at[6]


def test_no_service_changes_an_event_once_written(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("received")
    first = _rows(o)
    services.correct_collection(
        actor=world.collector, order_id=o.pk, reason="Volume re-weighed", volume_ml="251"
    )
    services.correct_patient(
        actor=world.clinician, patient_id=o.patient_id, reason="Weighed", weight_kg="69"
    )
    services.advance_order(actor=world.operator, order_id=o.pk, to_status="in_manufacturing")
    services.advance_order(
        actor=world.qa_approver, order_id=o.pk, to_status="rejected", reason="OOS"
    )
    assert _rows(o)[:3] == first
    # The audit trail about custody events holds their creation only (a handoff), no change.
    handoff = CustodyEvent.objects.get(order=o, seq=2)
    record_type, _ = record_ref(handoff)
    assert set(
        AuditEvent.objects.filter(record_type=record_type).values_list("action", flat=True)
    ) == {"chain.custody.handoff"}


# --- what a handoff must prove -----------------------------------------------------------


@pytest.mark.parametrize(
    "form", ["plain COI", "COI with check character", "spaced COI with check", "DS 040", "DIN"]
)
def test_a_handoff_accepts_the_identifiers_on_the_label(world: World, walk, form: str) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    scan = {
        "plain COI": o.coi,
        "COI with check character": o.coi + o.coi_check_character,
        "spaced COI with check": f"{o.coi_eye_readable} {o.coi_check_character}",
        "DS 040": f"&/{o.coi}",
        "DIN": f"={o.collection.din}00",
    }[form]
    event = _hand(world, o, world.logistics, scanned_text=scan)
    assert event.seq == 3
    assert event.matched == ("DIN" if form == "DIN" else "COI identifier")
    assert event.scanned_text == scan


def test_a_wrong_check_character_is_refused_with_a_deviation(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    wrong = next(ch for ch in "0123456789" if ch != o.coi_check_character)
    with (
        refusal_recorded(o, "chain.custody.handoff", deviation=True) as recorded,
        pytest.raises(InterlockBlocked) as caught,
    ):
        _hand(world, o, scanned_text=o.coi + wrong)
    assert caught.value.field == "scanned_text"
    assert (
        f"check character {wrong} is wrong for chain of identity identifier "
        f"{o.coi_eye_readable}" in caught.value.message
    )
    assert recorded.deviation is not None
    assert caught.value.message.endswith(f"deviation {recorded.deviation.number} raised")


def test_another_patients_material_is_refused_and_nothing_else_changes(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    p2 = services.enroll_patient(
        actor=world.clinician,
        site_id=world.clinic.pk,
        site_patient_id="P-2",
        given_name="B",
        family_name="C",
        date_of_birth="1960-01-01",
        weight_kg="80",
        diagnosis="CLL",
        consent_status="consented",
        consent_date="2026-01-01",
    )
    other = walk("collected", patient=p2)
    for scan, message in (
        (other.coi, f"COI identifier {other.coi_eye_readable} is not this order's"),
        (f"={other.collection.din}00", "is not this order's DIN"),
        ("=#0019600101", f"patient date of birth on the label does not match order {o.coi}"),
    ):
        with (
            refusal_recorded(o, "chain.custody.handoff", deviation=True) as recorded,
            pytest.raises(InterlockBlocked) as caught,
        ):
            _hand(world, o, scanned_text=scan)
        assert message in caught.value.message
        assert recorded.deviation is not None
        assert "chain.custody.handoff" in recorded.deviation.description
    o.refresh_from_db()
    assert (o.status, o.last_event_seq, o.current_custodian) == (
        "in_transit",
        2,
        "World Courier (J. Smith)",
    )


def test_a_scan_that_is_no_identifier_is_refused_without_a_deviation(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    with (
        refusal_recorded(o, "chain.custody.handoff", deviation=False),
        pytest.raises(ValidationFailed) as caught,
    ):
        _hand(world, o, scanned_text="PO-4711")
    assert caught.value.field == "scanned_text"
    assert "not an ISBT 128 barcode" in caught.value.message


# --- time ---------------------------------------------------------------------------------------


def test_time_only_moves_forward(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    last = CustodyEvent.objects.get(order=o, seq=2)
    with refused(
        ValidationFailed,
        field="occurred_at",
        message=f"occurred_at is before the previous custody event (#2 at "
        f"{last.occurred_at.isoformat()})",
    ):
        _hand(world, o, occurred_at=last.occurred_at - dt.timedelta(seconds=1))
    with refused(ValidationFailed, field="occurred_at", message="occurred_at is in the future"):
        _hand(world, o, occurred_at=now() + dt.timedelta(minutes=10))
    assert _hand(world, o, occurred_at=last.occurred_at).seq == 3  # the same instant is fine


def test_a_late_entry_is_flagged_on_the_timeline(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("collected")  # collected two hours ago
    late = _hand(
        world, o, world.collector, to_status="in_transit", occurred_at=now() - dt.timedelta(hours=1)
    )
    prompt = _hand(world, o, world.logistics)
    entries = {t.event.seq: t for t in selectors.timeline(o)}
    assert late.recorded_at - late.occurred_at > dt.timedelta(minutes=30)
    assert entries[late.seq].late_entry is True
    assert entries[prompt.seq].late_entry is False
    assert entries[1].late_entry is False  # a collection is recorded after it ends, always


# --- status and state --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "target", "message"),
    [
        ("received", "in_transit", "is received; it cannot become in transit"),
        ("received", "shipped", "it cannot become shipped"),
        ("collected", "shipped", "is collected; it cannot become shipped"),
        ("in_transit", "delivered", "is in transit; it cannot become delivered"),
    ],
)
def test_a_handoff_moves_only_along_the_transitions(
    world: World, walk, stage, target, message
) -> None:  # type: ignore[no-untyped-def]
    o = walk(stage)
    with refused(Conflict, field="status", message=message):
        _hand(world, o, world.logistics, to_status=target)


@pytest.mark.parametrize("target", ["received", "infused", "cancelled", "bogus"])
def test_only_handoff_targets_are_allowed(world: World, walk, target: str) -> None:  # type: ignore[no-untyped-def]
    assert target not in HANDOFF_TARGETS
    o = walk("in_transit")
    with refused(ValidationFailed, field="to_status", message="to_status must be one of"):
        _hand(world, o, to_status=target)


@pytest.mark.parametrize("stage", ["ordered", "scheduled", "cancelled"])
def test_there_is_nothing_to_hand_on_before_collection_or_after_cancelling(
    world: World, walk, stage: str
) -> None:  # type: ignore[no-untyped-def]
    o = walk("scheduled" if stage == "cancelled" else stage)
    if stage == "cancelled":
        services.cancel_order(actor=world.clinician, order_id=o.pk, reason="Withdrawn")
    with refused(Conflict, field="order_id", message="there is no material to hand on"):
        _hand(world, o, world.clinician, scanned_text="not even looked at")


def test_bad_handoff_input_is_named(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    for over, field, message in (
        ({"to_custodian": ""}, "to_custodian", "to_custodian is required"),
        ({"to_location": " "}, "to_location", "to_location is required"),
        ({"scanned_text": ""}, "scanned_text", "scanned_text is required"),
        ({"temperature_c": "-300"}, "temperature_c", "from -273.1 to 100"),
        ({"temperature_c": "cold"}, "temperature_c", "must be a number"),
        ({"item": "x" * 201}, "item", "at most 200 characters"),
    ):
        with refused(ValidationFailed, field=field, message=message):
            _hand(world, o, **over)


def test_handlers_hand_on_and_nobody_else(world: World, walk, everyone) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    for role in refused_roles(HANDLERS):
        with refused(PermissionRefused, field=None, message="recording a handoff needs one of"):
            _hand(world, o, everyone[role])
    for role in sorted(HANDLERS):
        assert _hand(world, o, everyone[role]).recorded_by == everyone[role]
    assert CustodyEvent.objects.filter(order=o).count() == 2 + len(HANDLERS)


def test_a_handoff_is_audited(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("collected")
    event = _hand(world, o, world.collector, to_status="in_transit")
    audit = AuditEvent.objects.get(action="chain.custody.handoff", record_id=str(event.pk))
    assert audit.changes["status"] == {"old": "collected", "new": "in_transit"}
    assert audit.changes["seq"] == {"old": None, "new": 2}


def test_the_collection_is_not_a_late_entry_though_recorded_after_it_ended(walk) -> None:  # type: ignore[no-untyped-def]
    """A collection is recorded once it has ended; its own record shows both times."""
    from vein2vein.chain import selectors

    o = walk("collected")  # ended 2 h before it was recorded
    (entry,) = selectors.timeline(o)
    assert entry.event.kind == "collected"
    assert entry.event.recorded_at - entry.event.occurred_at > selectors.LATE_AFTER
    assert not entry.late_entry
