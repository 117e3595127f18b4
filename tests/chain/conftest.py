"""A small chain-of-identity world: a manufacturing facility (FIN B2345), a clinic and an
apheresis center, a person per role, a CAR-T product, a consented patient, and `walk(...)`
to take an order to any stage through the services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from vein2vein.chain import services
from vein2vein.chain.models import Patient, TherapyOrder, TherapyProduct
from vein2vein.core.choices import Role
from vein2vein.core.models import Site, User
from vein2vein.core.time import in_zone, now


@dataclass
class World:
    mfg: Site
    clinic: Site
    apheresis: Site
    clinician: User  # clinical_site at the clinic
    collector: User  # clinical_site at the apheresis center
    operator: User  # operator at manufacturing
    supervisor: User
    logistics: User
    qc: User
    qa_approver: User
    inspector: User
    product: TherapyProduct
    patient: Patient

    def today(self, site: Site | None = None) -> dt.date:
        return in_zone(now(), (site or self.mfg).time_zone).date()


@pytest.fixture
def world(make_site, make_user) -> World:  # type: ignore[no-untyped-def]
    mfg = make_site(code="MFG-B", kind="manufacturing", time_zone="America/New_York", fin="B2345")
    clinic = make_site(code="CLIN-C", kind="clinical", time_zone="America/Chicago", fin="")
    aph = make_site(code="APH-D", kind="apheresis", time_zone="America/Chicago", fin="D4567")
    supervisor = make_user(Role.SUPERVISOR, mfg, username="sup", full_name="Sofia Supervisor")
    clinician = make_user(Role.CLINICAL_SITE, clinic, username="clin", full_name="Carla Clinic")
    w = World(
        mfg=mfg,
        clinic=clinic,
        apheresis=aph,
        clinician=clinician,
        collector=make_user(Role.CLINICAL_SITE, aph, username="aph", full_name="Ana Apheresis"),
        operator=make_user(Role.OPERATOR, mfg, username="op", full_name="Olivia Operator"),
        supervisor=supervisor,
        logistics=make_user(Role.LOGISTICS, mfg, username="log", full_name="Leo Logistics"),
        qc=make_user(Role.QC_ANALYST, mfg, username="qc", full_name="Quinn QC"),
        qa_approver=make_user(Role.QA_APPROVER, mfg, username="qaa", full_name="Amara Approver"),
        inspector=make_user(Role.INSPECTOR, mfg, username="insp", full_name="Ivan Inspector"),
        product=services.create_product(
            actor=supervisor,
            code="CD19-CART",
            name="Autologous anti-CD19 CAR-T",
            max_hours_to_manufacture=48,
            fresh_min_c="2",
            fresh_max_c="8",
            isbt_description_code="S1234",
        ),
        patient=services.enroll_patient(
            actor=clinician,
            site_id=clinic.pk,
            site_patient_id="LUH-000123",
            given_name="Maria",
            family_name="Garcia",
            date_of_birth="1971-03-14",
            weight_kg="68.5",
            diagnosis="Relapsed diffuse large B-cell lymphoma",
            consent_status="consented",
            consent_date="2026-01-10",
        ),
    )
    services.set_capacity(
        actor=supervisor, site_id=mfg.pk, start=w.today(), end=w.today() + dt.timedelta(days=30),
        capacity=2,
    )
    return w


STAGES = ("ordered", "scheduled", "collected", "in_transit", "received")


@pytest.fixture
def walk(world: World) -> Callable[..., TherapyOrder]:
    """walk("received", patient=None) -> an order taken to that stage through the services."""

    def go(stage: str = "ordered", *, patient: Patient | None = None, **kw: Any) -> TherapyOrder:
        w = world
        o = services.create_order(
            actor=w.clinician,
            patient_id=(patient or w.patient).pk,
            product_id=w.product.pk,
            treating_physician="Dr. Rivera",
            requested_collection_date=w.today(w.clinic),
            collection_site_id=w.apheresis.pk,
            manufacturing_site_id=w.mfg.pk,
        )
        if STAGES.index(stage) >= 1:
            services.book_slot(actor=w.clinician, order_id=o.pk, day=w.today())
        if STAGES.index(stage) >= 2:
            end = now() - dt.timedelta(hours=2)
            services.record_collection(
                actor=w.collector,
                order_id=o.pk,
                started_at=end - dt.timedelta(hours=3),
                ended_at=end,
                volume_ml="250",
                anticoagulant="ACD-A",
                wbc_10e9_per_l="12.5",
            )
        o.refresh_from_db()
        if STAGES.index(stage) >= 3:
            services.hand_off(
                actor=w.collector,
                order_id=o.pk,
                scanned_text=o.coi,
                to_custodian="World Courier (J. Smith)",
                to_location="Courier van",
                temperature_c="4.5",
                to_status="in_transit",
            )
        if STAGES.index(stage) >= 4:
            services.receive_collection(
                actor=w.operator,
                order_id=o.pk,
                scans=bag_label(o),
                arrival_temperature_c="5.0",
                logger_serial="TL-1",
                logger_min_c="3.1",
                logger_max_c="6.2",
            )
        o.refresh_from_db()
        return o

    return go


def bag_label(o: TherapyOrder) -> list[str]:
    """The three barcodes of an apheresis bag label, as a scanner types them."""
    o.refresh_from_db()
    din = o.collection.din
    return [f"={din}00", f"&/{o.coi}", f"=#00{o.patient.date_of_birth:%Y%m%d}"]
