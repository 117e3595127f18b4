"""The apheresis collection: recorded by the collection site's clinical user for a scheduled
order; the DIN comes from that site's FIN (allocated, or keyed/scanned with its check
character), an EU/EEA site adds the SEC; times are plausible; recording starts the clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.chain.conftest import World, refused, refused_roles
from vein2vein.chain import services
from vein2vein.chain.models import Collection, CustodyEvent, SlotBooking, TherapyOrder
from vein2vein.core.choices import Role
from vein2vein.core.errors import Conflict, PermissionRefused, ValidationFailed
from vein2vein.core.models import AuditEvent, Site, User
from vein2vein.core.time import now
from vein2vein.standards import isbt128, iso7064, sec

pytestmark = pytest.mark.django_db

YY = f"{now().year % 100:02d}"


def _collect(world: World, o: TherapyOrder, actor: User | None = None, **over: Any) -> Collection:
    end = now() - dt.timedelta(hours=1)
    values: dict[str, Any] = {
        "started_at": end - dt.timedelta(hours=4),
        "ended_at": end,
        "volume_ml": "220.5",
        "anticoagulant": "ACD-A",
        "wbc_10e9_per_l": "15.25",
        "cd3_10e9_per_l": "4.1",
    }
    values.update(over)
    return services.record_collection(actor=actor or world.collector, order_id=o.pk, **values)


def _patient(world: World, pid: str):  # type: ignore[no-untyped-def]
    return services.enroll_patient(
        actor=world.clinician,
        site_id=world.clinic.pk,
        site_patient_id=pid,
        given_name="Ana",
        family_name="Ruiz",
        date_of_birth="1979-09-09",
        weight_kg="58",
        diagnosis="Follicular lymphoma",
        consent_status="consented",
        consent_date="2026-04-04",
    )


def _scheduled_at(world: World, site: Site, pid: str) -> TherapyOrder:
    o = services.create_order(
        actor=world.clinician,
        patient_id=_patient(world, pid).pk,
        product_id=world.product.pk,
        treating_physician="Dr. Rivera",
        requested_collection_date=world.today(world.clinic),
        collection_site_id=site.pk,
        manufacturing_site_id=world.mfg.pk,
    )
    services.book_slot(actor=world.clinician, order_id=o.pk, day=world.today())
    return o


# --- recording -------------------------------------------------------------------------------


def test_a_collection_gets_a_din_from_the_collection_sites_fin(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("scheduled")
    c = _collect(world, o)
    assert c.din == f"D4567{YY}000001"
    assert (c.site, c.time_zone, str(c.volume_ml), c.anticoagulant) == (
        world.apheresis,
        "America/Chicago",
        "220.5",
        "ACD-A",
    )
    assert c.din_check_character == iso7064.mod37_2(c.din)
    assert c.din_eye_readable == f"D4567 {YY} 000001"
    assert c.duration == dt.timedelta(hours=4)
    o.refresh_from_db()
    assert o.status == "collected"
    assert o.stability_deadline == c.ended_at + dt.timedelta(hours=48)
    assert SlotBooking.objects.get(order=o).status == "used"
    event = CustodyEvent.objects.get(order=o)
    assert (event.seq, event.kind, event.status_after, event.occurred_at) == (
        1,
        "collected",
        "collected",
        c.ended_at,
    )
    assert (event.from_custodian, event.to_custodian) == ("", world.apheresis.name)
    assert event.item == f"Apheresis bag DIN D4567 {YY} 000001"
    assert (o.current_custodian, o.current_location) == (
        world.apheresis.name,
        "APH-D apheresis unit",
    )
    assert AuditEvent.objects.get(action="chain.collection.recorded").changes["din"]["new"] == c.din
    second = _collect(world, walk("scheduled", patient=_patient(world, "P-2")))
    assert second.din == f"D4567{YY}000002"


@pytest.mark.parametrize(
    "form",
    ["keyed", "keyed with spaces", "keyed lower case", "barcode", "barcode with Type 3 flag"],
)
def test_the_site_may_key_or_scan_its_own_din(world: World, walk, form: str) -> None:  # type: ignore[no-untyped-def]
    din = isbt128.make_din("D4567", int(YY), 4711)
    text = {
        "keyed": din.din + din.check_character,
        "keyed with spaces": f"{din.eye_readable} {din.check_character}",
        "keyed lower case": (din.din + din.check_character).lower(),
        "barcode": din.barcode_text,
        "barcode with Type 3 flag": "=" + din.din + din.type3_flag,
    }[form]
    c = _collect(world, walk("scheduled"), din=text)
    assert c.din == din.din


def test_a_site_without_a_fin_must_key_the_din(world: World, make_site, make_user) -> None:  # type: ignore[no-untyped-def]
    site = make_site(code="APH-N", kind="apheresis", time_zone="UTC", fin="")
    nurse = make_user(Role.CLINICAL_SITE, site, username="aph-n")
    o = _scheduled_at(world, site, "P-7")
    with refused(ValidationFailed, field="din", message="din is required: APH-N has no ISBT 128"):
        _collect(world, o, nurse)
    din = isbt128.make_din("A9999", int(YY), 5)
    assert _collect(world, o, nurse, din=din.din + din.check_character).din == din.din


def test_only_the_clinical_role_records_a_collection(world: World, walk, everyone) -> None:  # type: ignore[no-untyped-def]
    o = walk("scheduled")
    message = "chain.collection.record needs one of these roles at APH-D: clinical_site"
    for role in refused_roles({Role.CLINICAL_SITE}):
        with refused(PermissionRefused, field=None, message=message):
            _collect(world, o, everyone[role])
    collected = walk("collected", patient=_patient(world, "P-2"))
    for role in refused_roles({Role.CLINICAL_SITE}):
        with refused(PermissionRefused, field=None, message=message):
            services.correct_collection(
                actor=everyone[role], order_id=collected.pk, reason="x", volume_ml="200"
            )


def test_the_ordering_clinician_cannot_record_the_apheresis_sites_collection(
    world: World, walk
) -> None:  # type: ignore[no-untyped-def]
    o = walk("scheduled")
    with refused(PermissionRefused, field=None, message="at APH-D: clinical_site"):
        _collect(world, o, world.clinician)
    with refused(PermissionRefused, field=None, message="at APH-D: clinical_site"):
        services.correct_collection(
            actor=world.clinician, order_id=o.pk, reason="x", volume_ml="200"
        )


# --- what is checked -------------------------------------------------------------------------


def test_every_bad_field_is_named(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("scheduled")
    t = now() - dt.timedelta(hours=1)
    other_fin = isbt128.make_din("B2345", int(YY), 9)
    own = isbt128.make_din("D4567", int(YY), 9)
    wrong_check = next(ch for ch in "0123456789" if ch != own.check_character)
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"ended_at": t - dt.timedelta(hours=5)}, "ended_at", "ended_at must be after started_at"),
        ({"ended_at": t - dt.timedelta(hours=4)}, "ended_at", "ended_at must be after started_at"),
        (
            {"started_at": t - dt.timedelta(hours=12, minutes=1)},
            "ended_at",
            "a collection lasting more than 12 hours is not plausible",
        ),
        ({"ended_at": now() + dt.timedelta(hours=1)}, "ended_at", "ended_at is in the future"),
        (
            {
                "started_at": now() + dt.timedelta(hours=1),
                "ended_at": now() + dt.timedelta(hours=2),
            },
            "started_at",
            "started_at is in the future",
        ),
        ({"started_at": "2026-01-01 08:00"}, "started_at", "must carry a time zone"),
        ({"ended_at": "yesterday"}, "ended_at", "with its UTC offset"),
        ({"volume_ml": "0"}, "volume_ml", "volume_ml must be from 1 to 2000, not 0"),
        ({"volume_ml": "2000.1"}, "volume_ml", "volume_ml must be from 1 to 2000"),
        ({"volume_ml": None}, "volume_ml", "volume_ml is required"),
        ({"anticoagulant": "EDTA"}, "anticoagulant", "anticoagulant must be one of"),
        ({"wbc_10e9_per_l": "-1"}, "wbc_10e9_per_l", "wbc_10e9_per_l must be from 0"),
        ({"cd3_10e9_per_l": "1.234"}, "cd3_10e9_per_l", "at most 2 decimals"),
        (
            {"din": other_fin.din + other_fin.check_character},
            "din",
            f"din: DIN B2345 {YY} 000009 was not assigned by APH-D (FIN D4567)",
        ),
        (
            {"din": own.din + wrong_check},
            "din",
            f"din: check character {wrong_check} is wrong for DIN D4567 {YY} 000009",
        ),
        ({"din": "=" + own.din + "61" if own.type3_flag != "61" else "62"}, "din", "Type 3 flag"),
        ({"din": own.din}, "din", "din: keyed DIN: expected the 13-character DIN and its check"),
        ({"din": "hello"}, "din", "din: "),
    ]
    for over, field, message in cases:
        with refused(ValidationFailed, field=field, message=message):
            _collect(world, o, **over)


def test_a_din_is_used_once(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    first = _collect(world, walk("scheduled"))
    o = walk("scheduled", patient=_patient(world, "P-2"))
    keyed = first.din + first.din_check_character
    with refused(Conflict, field="din", message=f"DIN {first.din} is already used"):
        _collect(world, o, din=keyed)


@pytest.mark.parametrize("stage", ["ordered", "collected"])
def test_only_a_scheduled_order_is_collected(world: World, walk, stage: str) -> None:  # type: ignore[no-untyped-def]
    o = walk(stage)
    with refused(Conflict, field="order_id", message="a collection is recorded for a scheduled"):
        _collect(world, o)


# --- the Single European Code ----------------------------------------------------------------


@pytest.fixture
def eu(world: World, make_site, make_user) -> tuple[Site, User, TherapyOrder]:  # type: ignore[no-untyped-def]
    site = make_site(
        code="APH-ES", kind="apheresis", time_zone="Europe/Madrid", fin="E1234", country="ES"
    )
    nurse = make_user(Role.CLINICAL_SITE, site, username="aph-es", full_name="Elena Enfermera")
    return site, nurse, _scheduled_at(world, site, "P-ES")


def _sec(din: str, country: str = "ES") -> str:
    return sec.SingleEuropeanCode(
        country=country,
        te_code="000123",
        donation_number=din,
        coding_system="A",
        product_code="00S1234",
        split_number="000",
        expiry=None,
    ).text


def test_an_eu_site_records_the_sec_with_the_din(world: World, eu) -> None:  # type: ignore[no-untyped-def]
    _site, nurse, o = eu
    din = isbt128.make_din("E1234", int(YY), 1)
    code = _sec(din.din)
    c = _collect(world, o, nurse, din=din.din + din.check_character, sec=code)
    assert (c.din, c.sec) == (din.din, code)
    assert c.time_zone == "Europe/Madrid"
    # The eye-readable form is accepted and stored as the 40 characters.
    o2 = _scheduled_at(world, _site, "P-ES2")
    din2 = isbt128.make_din("E1234", int(YY), 2)
    printed = sec.parse(_sec(din2.din)).eye_readable
    c2 = _collect(world, o2, nurse, din=din2.barcode_text, sec=printed)
    assert c2.sec == _sec(din2.din)


def test_an_eu_site_cannot_skip_the_sec_or_use_anothers(world: World, eu) -> None:  # type: ignore[no-untyped-def]
    _site, nurse, o = eu
    din = isbt128.make_din("E1234", int(YY), 1)
    other = isbt128.make_din("E1234", int(YY), 2)
    keyed = din.din + din.check_character
    for over, message in (
        ({}, "sec is required: APH-ES is in ES, where tissues and cells carry the Single Euro"),
        ({"din": keyed}, "sec is required: APH-ES is in ES"),
        (
            {"din": keyed, "sec": _sec(other.din)},
            f"sec: its donation number {other.din} is not the DIN {din.din}",
        ),
        (
            {"din": keyed, "sec": _sec(din.din, "FR")},
            "sec: country FR is not the collection site's (ES)",
        ),
        ({"din": keyed, "sec": "ES000123" + din.din}, "sec: SEC: expected 40 characters"),
    ):
        with refused(ValidationFailed, field="sec", message=message):
            _collect(world, o, nurse, **over)


def test_a_site_outside_the_eu_needs_no_sec(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    assert world.apheresis.country not in sec.EU_EEA_COUNTRIES
    assert _collect(world, walk("scheduled")).sec == ""


# --- corrections -------------------------------------------------------------------------------


def test_a_corrected_end_moves_the_stability_deadline(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("collected")
    c = Collection.objects.get(order=o)
    new_end = c.ended_at - dt.timedelta(minutes=30)
    services.correct_collection(
        actor=world.collector, order_id=o.pk, reason="Clock read wrongly", ended_at=new_end
    )
    o.refresh_from_db()
    assert o.stability_deadline == new_end + dt.timedelta(hours=48)
    event = AuditEvent.objects.get(action="chain.order.clock_corrected")
    assert event.reason == "Clock read wrongly"


def test_a_bad_correction_is_refused(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("collected")
    c = Collection.objects.get(order=o)
    for kwargs, field, message in (
        ({"volume_ml": "200"}, "reason", "reason is required"),
        ({"din": "X", "reason": "r"}, "din", "din cannot be changed"),
        ({"ended_at": c.started_at, "reason": "r"}, "ended_at", "must be after started_at"),
        ({"volume_ml": "250", "reason": "r"}, None, "nothing to change"),
    ):
        kwargs.setdefault("reason", "")
        with refused(ValidationFailed, field=field, message=message):
            services.correct_collection(actor=world.collector, order_id=o.pk, **kwargs)
    scheduled = walk("scheduled", patient=_patient(world, "P-3"))
    with refused(Conflict, field="order_id", message="has no collection to correct"):
        services.correct_collection(
            actor=world.collector, order_id=scheduled.pk, reason="r", volume_ml="1"
        )
