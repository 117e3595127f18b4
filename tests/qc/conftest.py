"""A small QC lab on top of the manufacturing world: test methods (endotoxin needs the TEST-QC
qualification and runs on no equipment; viability runs on a cell counter; CAR+ by flow on a
flow cytometer), an approved release specification of the test product with criteria of
several kinds, two qualified analysts and an untrained one, a started batch with a release
sample. `unchanged` checks a refusal wrote nothing but its recorded attempt."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from django.db.models import Model

from tests.conftest import PASSWORD
from tests.manufacturing.conftest import (  # noqa: F401 - fixtures
    MFG_MODELS,
    Mfg,
    _unit,
    batch,
    mfg,
    received,
    walk,
    world,
)
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.models import AuditEvent, User
from vein2vein.equipment.models import Equipment
from vein2vein.manufacturing.models import Batch
from vein2vein.qc import services
from vein2vein.qc.models import (
    OosInvestigation,
    Sample,
    Shipment,
    Specification,
    TestMethod,
    TestResult,
)
from vein2vein.quality.models import Deviation
from vein2vein.training import services as training

QC_MODELS: tuple[type[Model], ...] = (
    Sample,
    Shipment,
    TestResult,
    OosInvestigation,
    Specification,
    TestMethod,
    Deviation,
    *MFG_MODELS,
)

CRITERIA = [
    {"method": "APP", "kind": "conforms", "expected": "cloudy liquid solution"},
    {"method": "VIAB", "kind": "at_least", "low": "70", "unit": "%"},
    {"method": "CAR", "kind": "at_least", "low": "20", "unit": "%"},
    {"method": "ENDO", "kind": "at_most", "high": "0.5", "unit": "EU/mL"},
    {"method": "STER", "kind": "not_detected"},
    {"method": "VCN", "kind": "range", "low": "0.5", "high": "5", "unit": "copies/cell"},
]


@dataclass
class Lab:
    m: Mfg
    analyst: User  # qualified for TEST-QC
    analyst2: User  # qualified for TEST-QC: the second pair of eyes
    untrained: User  # a QC analyst without TEST-QC
    counter: Equipment
    cytometer: Equipment
    spec: Specification
    batch: Batch
    sample: Sample  # a release sample of `batch`, 10 mL

    @property
    def qa(self) -> User:
        return self.m.approver


def make_methods(actor: User) -> None:
    rows = [
        ("APP", "Appearance", "appearance", False, "", "", ""),
        ("VIAB", "Cell viability", "cell_count", True, "%", "", "cell_counter"),
        ("CAR", "CAR expression", "car_expression", True, "%", "", "flow_cytometer"),
        ("ENDO", "Endotoxin", "endotoxin", True, "EU/mL", "TEST-QC", ""),
        ("STER", "Sterility (rapid)", "sterility", False, "", "", ""),
        ("VCN", "Vector copy number", "vcn", True, "copies/cell", "", ""),
    ]
    for code, name, category, numeric, unit, training_req, kind in rows:
        services.create_method(
            actor=actor,
            code=code,
            name=name,
            category=category,
            numeric=numeric,
            unit=unit,
            training_requirement=training_req,
            equipment_kind=kind,
        )


@pytest.fixture
def lab(mfg: Mfg, batch: Batch, make_user) -> Lab:  # type: ignore[no-untyped-def]  # noqa: F811
    w = mfg.w
    analyst2 = make_user(Role.QC_ANALYST, w.mfg, username="qc2", full_name="Quinn Second")
    untrained = make_user(Role.QC_ANALYST, w.mfg, username="qc3", full_name="Una Untrained")
    training.create_qualification_type(
        actor=w.supervisor, code="TEST-QC", name="Endotoxin assay", kind="other", validity_months=12
    )
    for person in (w.qc, analyst2):
        training.grant_qualification(
            actor=w.supervisor,
            user_id=person.pk,
            qualification_code="TEST-QC",
            site_id=w.mfg.pk,
            password=PASSWORD,
        )
    make_methods(w.supervisor)
    spec = services.create_specification(
        actor=w.supervisor,
        product_id=mfg.mbr.product_id,
        stage="release",
        title="Test release spec",
        criteria=CRITERIA,
    )
    services.approve_specification(actor=w.qa_approver, specification_id=spec.pk, password=PASSWORD)
    spec.refresh_from_db()
    sample = services.register_sample(
        actor=w.qc, batch_id=batch.pk, purpose="release", volume="10", unit="mL"
    )
    return Lab(
        m=mfg,
        analyst=w.qc,
        analyst2=analyst2,
        untrained=untrained,
        counter=_unit(w, "CC-01", "cell_counter"),
        cytometer=_unit(w, "FC-01", "flow_cytometer"),
        spec=spec,
        batch=batch,
        sample=sample,
    )


def _rows() -> dict[str, list[tuple[object, ...]]]:
    return {m.__name__: list(m._default_manager.order_by("pk").values_list()) for m in QC_MODELS}


@contextmanager
def unchanged(blocked: str | None = None) -> Iterator[list[AuditEvent]]:
    """No QC, quality or manufacturing row changed; the audit trail gained nothing, or (with
    `blocked`) exactly the one recorded refusal `<blocked>.blocked`; the chain verifies."""
    rows = _rows()
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    events: list[AuditEvent] = []
    yield events
    assert _rows() == rows, "a refused call changed rows"
    events.extend(AuditEvent.objects.filter(seq__gt=last).order_by("seq"))
    expected = [f"{blocked}.blocked"] if blocked else []
    assert [e.action for e in events] == expected
    assert verify_chain().ok
