"""Demo chain of identity, made through the services (real audit trail). Idempotent: a patient
whose order exists is left as it is.

Six patients of Lakeshore University Hospital (CLIN-CHI), collected at Lakeshore Apheresis
Center (APH-CHI), manufactured at MFG-PHL, one at each stage the journeys need:
- LUH-1001 ordered, no slot yet (journey 1: the coordinator books it);
- LUH-1002 and LUH-1003 scheduled on the same day, which is then full (journey 1 shows it);
- LUH-1004 collected this morning, waiting for the courier (journey 2: hand it over);
- LUH-1005 in transit to MFG-PHL, the clock running (journey 3: the operator receives it);
- LUH-1006 infused: twelve custody events from chair to bedside (journey 9: follow one
  patient vein to vein). Its history is entered as late entries with the times it happened,
  so the page shows them flagged as such (the demo is loaded today).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from vein2vein.core.models import Site, User
from vein2vein.core.time import in_zone, now

from . import services
from .choices import OrderStatus
from .models import Patient, SlotCapacity, TherapyOrder, TherapyProduct

MFG, CLINIC, APHERESIS = "MFG-PHL", "CLIN-CHI", "APH-CHI"
PRODUCT = "CD19-CART"
PHYSICIAN = "Dr. Carmen Rivera"


@dataclass(frozen=True)
class DemoPatient:
    site_patient_id: str
    given_name: str
    family_name: str
    born: str
    weight_kg: str
    diagnosis: str
    stage: str


PATIENTS = (
    DemoPatient(
        "LUH-1001",
        "James",
        "Whitfield",
        "1968-04-02",
        "82.4",
        "Relapsed/refractory DLBCL after 2 lines",
        "ordered",
    ),
    DemoPatient("LUH-1002", "Aisha", "Bello", "1979-11-23", "64.0", "Relapsed B-ALL", "scheduled"),
    DemoPatient(
        "LUH-1003",
        "Tomasz",
        "Nowak",
        "1955-07-30",
        "77.9",
        "Refractory follicular lymphoma",
        "scheduled",
    ),
    DemoPatient("LUH-1004", "Grace", "Okoro", "1990-01-15", "58.2", "Relapsed DLBCL", "collected"),
    DemoPatient(
        "LUH-1005",
        "Maria",
        "Garcia",
        "1971-03-14",
        "68.5",
        "Relapsed DLBCL after autologous transplant",
        "in_transit",
    ),
    DemoPatient(
        "LUH-1006",
        "Henry",
        "Liu",
        "1962-09-08",
        "71.3",
        "Refractory mantle cell lymphoma",
        "infused",
    ),
)


def _users() -> dict[str, User]:
    names = ("supervisor", "clinic", "apheresis", "operator", "logistics", "qc", "qa_approver")
    return {u.username: u for u in User.objects.filter(username__in=names)}


def _site(code: str) -> Site:
    return Site.objects.get(code=code)


def _product(supervisor: User) -> TherapyProduct:
    found = TherapyProduct.objects.filter(code=PRODUCT).first()
    if found is not None:
        return found
    return services.create_product(
        actor=supervisor,
        code=PRODUCT,
        name="Autologous anti-CD19 CAR-T cells (lentiviral)",
        max_hours_to_manufacture=48,
        fresh_min_c="2",
        fresh_max_c="8",
        isbt_description_code="S1234",  # illustrative: the ST-010 database is licensed
    )


def _capacity(supervisor: User, mfg: Site) -> dt.date:
    """Two slots a day on weekdays for the next 8 weeks; returns the demo's full day."""
    today = in_zone(now(), mfg.time_zone).date()
    day = today + dt.timedelta(days=7)
    while day.isoweekday() > 5:
        day += dt.timedelta(days=1)
    if SlotCapacity.objects.filter(site=mfg).exists():
        return day
    services.set_capacity(
        actor=supervisor,
        site_id=mfg.pk,
        start=today,
        end=today + dt.timedelta(days=56),
        capacity=2,
        weekdays=[1, 2, 3, 4, 5],
        reason="Demo: two CAR-T slots per weekday",
    )
    # Today takes the demo's own collections (weekend or not).
    services.set_capacity(
        actor=supervisor,
        site_id=mfg.pk,
        start=today,
        end=today,
        capacity=4,
        reason="Demo: today's collections",
    )
    return day


def load_demo() -> None:
    users = _users()
    if len(users) < 7:
        return  # core demo not loaded
    mfg, clinic, aph = _site(MFG), _site(CLINIC), _site(APHERESIS)
    product = _product(users["supervisor"])
    full_day = _capacity(users["supervisor"], mfg)
    for spec in PATIENTS:
        if Patient.objects.filter(site=clinic, site_patient_id=spec.site_patient_id).exists():
            continue
        patient = services.enroll_patient(
            actor=users["clinic"],
            site_id=clinic.pk,
            site_patient_id=spec.site_patient_id,
            given_name=spec.given_name,
            family_name=spec.family_name,
            date_of_birth=spec.born,
            weight_kg=spec.weight_kg,
            diagnosis=spec.diagnosis,
            consent_status="consented",
            consent_date=(now() - dt.timedelta(days=45)).date(),
        )
        _walk(spec, patient, product, users, mfg=mfg, aph=aph, full_day=full_day)


def _walk(
    spec: DemoPatient,
    patient: Patient,
    product: TherapyProduct,
    users: dict[str, User],
    *,
    mfg: Site,
    aph: Site,
    full_day: dt.date,
) -> None:
    clinic_user, collector = users["clinic"], users["apheresis"]
    order = services.create_order(
        actor=clinic_user,
        patient_id=patient.pk,
        product_id=product.pk,
        treating_physician=PHYSICIAN,
        requested_collection_date=full_day if spec.stage == "scheduled" else _today(mfg),
        collection_site_id=aph.pk,
        manufacturing_site_id=mfg.pk,
    )
    if spec.stage == "ordered":
        return
    if spec.stage == "infused":
        _history(order, users, aph=aph)
        return
    day = full_day if spec.stage == "scheduled" else _today(mfg)
    services.book_slot(actor=clinic_user, order_id=order.pk, day=day)
    if spec.stage == "scheduled":
        return
    hours_ago = 3 if spec.stage == "collected" else 8
    end = now() - dt.timedelta(hours=hours_ago)
    services.record_collection(
        actor=collector,
        order_id=order.pk,
        started_at=end - dt.timedelta(hours=3, minutes=40),
        ended_at=end,
        volume_ml="265",
        anticoagulant="ACD-A",
        wbc_10e9_per_l="18.40",
        cd3_10e9_per_l="6.10",
    )
    if spec.stage == "collected":
        return
    order.refresh_from_db()
    _to_courier(order, collector, end + dt.timedelta(minutes=50), temperature_c="4.8")


def order_in_transit(
    patient: dict[str, str],
    *,
    product: TherapyProduct,
    clinic_user: User,
    collector: User,
    clinic: Site,
    aph: Site,
    mfg: Site,
    day: dt.date,
    ended: dt.datetime,
) -> TherapyOrder:
    """Enrolled at `clinic` (consented 40 days before `day`), ordered and booked for `day` at
    `mfg`, collected at `aph` (ending at `ended`) and handed to the courier: what a
    manufacturing site receives next. The manufacturing demo, `vein2vein simulate` and
    benchmarks/load.py start here. `patient`: site_patient_id, given_name, family_name,
    date_of_birth, weight_kg, diagnosis."""
    p = services.enroll_patient(
        actor=clinic_user,
        site_id=clinic.pk,
        consent_status="consented",
        consent_date=day - dt.timedelta(days=40),
        **patient,
    )
    order = services.create_order(
        actor=clinic_user,
        patient_id=p.pk,
        product_id=product.pk,
        treating_physician=PHYSICIAN,
        requested_collection_date=day,
        collection_site_id=aph.pk,
        manufacturing_site_id=mfg.pk,
    )
    services.book_slot(actor=clinic_user, order_id=order.pk, day=day)
    services.record_collection(
        actor=collector,
        order_id=order.pk,
        started_at=ended - dt.timedelta(hours=3, minutes=30),
        ended_at=ended,
        volume_ml="255",
        anticoagulant="ACD-A",
        wbc_10e9_per_l="17.80",
        cd3_10e9_per_l="5.90",
    )
    order.refresh_from_db()
    _to_courier(order, collector, ended + dt.timedelta(minutes=40), temperature_c="4.7")
    order.refresh_from_db()
    return order


def _to_courier(
    order: TherapyOrder, collector: User, at: dt.datetime, *, temperature_c: str
) -> None:
    """The bag's COI scanned and handed to the courier's validated 2-8 °C shipper."""
    services.hand_off(
        actor=collector,
        order_id=order.pk,
        scanned_text=f"&/{order.coi}",
        to_custodian="World Courier (driver K. Adams)",
        to_location="Courier vehicle, validated 2-8 °C shipper",
        temperature_c=temperature_c,
        to_status=OrderStatus.IN_TRANSIT,
        occurred_at=at,
    )


def _today(site: Site) -> dt.date:
    return in_zone(now(), site.time_zone).date()


def _history(order: TherapyOrder, users: dict[str, User], *, aph: Site) -> None:
    """LUH-1006, collected 34 days ago and infused yesterday: the whole chain, 12 events."""
    mfg = order.manufacturing_site
    collected = now() - dt.timedelta(days=34)
    services.book_slot(actor=users["clinic"], order_id=order.pk, day=_today(mfg))
    services.record_collection(
        actor=users["apheresis"],
        order_id=order.pk,
        started_at=collected - dt.timedelta(hours=4),
        ended_at=collected,
        volume_ml="240",
        anticoagulant="ACD-A",
        wbc_10e9_per_l="15.20",
        cd3_10e9_per_l="5.40",
    )
    order.refresh_from_db()
    coi, din = order.coi, order.collection.din
    label = [f"={din}00", f"&/{coi}", f"=#00{order.patient.date_of_birth:%Y%m%d}"]

    def at(hours: float) -> dt.datetime:
        return collected + dt.timedelta(hours=hours)

    def hand(
        actor: str,
        scan: str,
        who: str,
        where: str,
        temp: str | None,
        hours: float,
        status: str = "",
    ) -> None:
        services.hand_off(
            actor=users[actor],
            order_id=order.pk,
            scanned_text=scan,
            to_custodian=who,
            to_location=where,
            temperature_c=temp,
            to_status=status,
            occurred_at=at(hours),
        )

    hand(
        "apheresis",
        f"&/{coi}",
        "World Courier (driver K. Adams)",
        "Courier vehicle, validated 2-8 °C shipper",
        "4.6",
        0.8,
        OrderStatus.IN_TRANSIT,
    )
    hand(
        "apheresis",
        f"={din}00",
        "World Courier ORD hub (M. Diaz)",
        "O'Hare cargo, cold room",
        "5.1",
        3.5,
    )
    services.receive_collection(
        actor=users["operator"],
        order_id=order.pk,
        scans=label,
        arrival_temperature_c="5.4",
        logger_serial="TL-20931",
        logger_min_c="3.9",
        logger_max_c="6.8",
        logger_summary="No alarms; 9 h 40 min in transit",
        occurred_at=at(10.5),
    )
    hand("operator", coi, "Olivia Ortiz (MFG-PHL)", "Suite A pass-through, Grade B", "5.0", 11.5)
    for status, hours, who in (
        (OrderStatus.IN_MANUFACTURING, 12.0, "operator"),
        (OrderStatus.IN_QC, 24 * 11, "operator"),
        (OrderStatus.RELEASED, 24 * 27, "qa_approver"),
    ):
        services.advance_order(
            actor=users[who],
            order_id=order.pk,
            to_status=status,
            occurred_at=at(hours),
            reason="Demo history (batch records arrive with issue 6)",
            location="LN2 freezer FRZ-01" if status != OrderStatus.IN_MANUFACTURING else "",
        )
    hand(
        "logistics",
        coi,
        "Luis Lopez (MFG-PHL logistics)",
        "Shipping bay, dry shipper DS-07",
        "-182.0",
        24 * 31,
    )
    hand(
        "logistics",
        f"&/{coi}",
        "Cryoport (driver R. Shah)",
        "Dry shipper DS-07 in transit",
        "-178.5",
        24 * 31 + 2,
        OrderStatus.SHIPPED,
    )
    hand(
        "clinic",
        coi,
        "Lakeshore Cell Therapy Unit (N. Patel)",
        "CLIN-CHI cell therapy lab",
        "-176.0",
        24 * 32,
        OrderStatus.DELIVERED,
    )
    services.advance_order(
        actor=users["clinic"],
        order_id=order.pk,
        to_status=OrderStatus.INFUSED,
        custodian="Patient (infused)",
        location="CLIN-CHI infusion bay 3",
        occurred_at=at(24 * 33),
        reason="Thawed 10:02, infusion 10:15-10:31, two identifiers checked",
    )
