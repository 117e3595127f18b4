"""A small chain-of-identity world: a manufacturing facility (FIN B2345), a clinic and an
apheresis center, a person per role, a CAR-T product, a consented patient, and `walk(...)`
to take an order to any stage through the services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from django.db.models import Model

from tests.core.helpers import nothing_written
from vein2vein.chain import services
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
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.errors import DomainError
from vein2vein.core.models import AuditEvent, NumberSequence, Site, User
from vein2vein.core.time import in_zone, now
from vein2vein.quality.models import Deviation


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
        actor=supervisor,
        site_id=mfg.pk,
        start=w.today(),
        end=w.today() + dt.timedelta(days=30),
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


# --- shared by the service tests ------------------------------------------------------------

CHAIN_MODELS: tuple[type[Model], ...] = (
    NumberSequence,
    TherapyProduct,
    Patient,
    TherapyOrder,
    SlotCapacity,
    SlotBooking,
    Collection,
    Receipt,
    CustodyEvent,
)


def unchanged() -> AbstractContextManager[None]:
    """A refused call wrote nothing: no chain row, no deviation, no audit event."""
    return nothing_written(*CHAIN_MODELS, Deviation)


def _rows() -> dict[str, list[tuple[object, ...]]]:
    """Chain rows; of the shared number sequences, the chain's own (a recorded refusal's
    deviation draws its DEV number with it)."""

    def rows_of(m: type[Model]) -> list[tuple[object, ...]]:
        qs = m._default_manager.order_by("pk")
        if m is NumberSequence:
            qs = qs.exclude(key="DEV")
        return list(qs.values_list())

    return {m.__name__: rows_of(m) for m in CHAIN_MODELS}


@dataclass
class Recorded:
    """What a recorded refusal wrote: its audit events (oldest first) and its deviation."""

    events: list[AuditEvent]
    deviation: Deviation | None


@contextmanager
def refusal_recorded(o: TherapyOrder, action: str, *, deviation: bool) -> Iterator[Recorded]:
    """A refused scan: the block must write exactly the blocked audit event about `o` (and,
    when `deviation`, one open identity deviation at the manufacturing site with its own
    audit event), and leave every chain row as it was."""
    rows = _rows()
    last_event = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    deviations = set(Deviation.objects.values_list("pk", flat=True))
    out = Recorded(events=[], deviation=None)
    yield out
    assert _rows() == rows, "a refused scan changed chain rows"
    out.events = list(AuditEvent.objects.filter(seq__gt=last_event).order_by("seq"))
    new = list(Deviation.objects.exclude(pk__in=deviations))
    blocked = [e for e in out.events if e.action == f"{action}.blocked"]
    assert len(blocked) == 1, [e.action for e in out.events]
    assert blocked[0].record_id == str(o.pk)
    if deviation:
        assert sorted(e.action for e in out.events) == sorted(
            [f"{action}.blocked", "quality.deviation.raised"]
        )
        assert len(new) == 1
        out.deviation = new[0]
        assert out.deviation.category == "identity"
        assert out.deviation.site_id == o.manufacturing_site_id
        assert out.deviation.source_id == str(o.pk)
        assert out.deviation.status == "open"
    else:
        assert [e.action for e in out.events] == [f"{action}.blocked"]
        assert new == []
    assert verify_chain().ok


@pytest.fixture
def everyone(world: World, make_user) -> dict[str, User]:  # type: ignore[no-untyped-def]
    """One user per role holding it at all three of the world's sites, so that only the role
    decides (not the site): role -> user."""
    from tests.core.factories import grant

    users: dict[str, User] = {}
    for role in Role:
        user = make_user(username=f"every-{role.value}", full_name=f"Every {role.label}")
        for at in (world.mfg, world.clinic, world.apheresis):
            grant(user, role, at)
        users[role.value] = user
    return users


@contextmanager
def refused(error: type[DomainError], *, field: str | None, message: str) -> Iterator[None]:
    """The block raises `error` naming `field`, with `message` in its text, and writes
    nothing (chain rows, deviations, audit trail)."""
    with unchanged(), pytest.raises(error) as caught:
        yield
    assert caught.value.field == field, caught.value.message
    assert message in caught.value.message, caught.value.message


def refused_roles(allowed: set[str] | frozenset[str]) -> list[str]:
    """Every role not in `allowed` (the inspector always among them)."""
    out = [r.value for r in Role if r.value not in allowed]
    assert Role.INSPECTOR.value in out
    return out
