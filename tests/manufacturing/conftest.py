"""A small manufacturing world on top of the chain's: an effective test MBR (every step kind
the services treat specially), released lots, a qualified biosafety cabinet, a trained
operator and an untrained one, a verifier, QA; `received` and `started` take an order to a
batch through the services. `recorded`/`unchanged` check what a refused call wrote."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Model

from tests.chain import conftest as chain
from tests.chain.conftest import World, bag_label
from tests.conftest import PASSWORD
from tests.core.helpers import nothing_written
from tests.equipment import factories as eq
from tests.materials.factories import LotFactory, MaterialFactory
from vein2vein.chain.models import TherapyOrder
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.models import AuditEvent, User
from vein2vein.documents import services as documents
from vein2vein.equipment import services as equipment
from vein2vein.equipment.models import Equipment, Usage
from vein2vein.manufacturing import services
from vein2vein.manufacturing.models import Batch, BatchSample, MasterRecord, StepEntry
from vein2vein.materials.models import InventoryTransaction, Lot
from vein2vein.quality.models import Deviation
from vein2vein.training import services as training

TEST_MBR = """\
schema: vein2vein-mbr/1
product: CD19-CART
process_version: "0.9"
title: Test CAR-T process
parameters:
  target_moi: {value: 5, unit: TU/cell}
  target_dose_car_per_kg: {value: 1.0e6, unit: CAR+ cells/kg}
  max_dose_car: {value: 1.0e8, unit: CAR+ cells}
operations:
  - key: receipt
    title: Receipt
    steps:
      - {key: coi_in, kind: coi_check, title: Scan the bag's COI identifier}
      - {key: bsc, kind: equipment, title: Biosafety cabinet, equipment_kind: biosafety_cabinet}
      - {key: reagent, kind: material, title: Activation reagent, part: MAT-T01, quantity: 2}
      - key: cells
        kind: numeric
        title: Viable cells
        unit: cells
        decimals: 0
        alert: {low: 1.0e8}
        action: {low: 5.0e7}
        range: {low: 0, high: 1.0e11}
        verify: true
        requires: [TEST-APS]
  - key: transduction
    title: Transduction
    steps:
      - {key: vector, kind: material, title: Thaw a vector vial, part: MAT-T02, quantity: 1}
      - key: vector_ml
        kind: calculation
        title: Vector volume
        formula: cells * param.target_moi / vector.titer_tu_per_ml
        unit: mL
        decimals: 2
        action: {high: 1}
      - key: rest
        kind: timer
        title: Rest after transduction
        from_step: vector
        min_minutes: 0
        max_minutes: 600
      - key: look
        kind: choice
        title: Visual inspection
        options: [clear, turbid]
        in_spec: [clear]
      - {key: branch_a, kind: text, title: Note A, after: [look]}
      - {key: branch_b, kind: instruction, title: Instruction B, after: [look]}
      - key: dose
        kind: calculation
        title: Dose
        formula: min(param.target_dose_car_per_kg * patient.weight_kg, param.max_dose_car)
        unit: CAR+ cells
        decimals: 0
        after: [branch_a, branch_b]
      - key: ipc
        kind: sample
        title: In-process sample
        sample_type: in_process
        tests: [cell count, viability]
        quantity: 1
        unit: mL
      - {key: bag_label, kind: label, title: Print the bag label, label_kind: bag}
      - {key: sign, kind: signoff, title: Sign off the batch}
"""

world = chain.world  # the chain fixtures, shared
walk = chain.walk

MFG_MODELS: tuple[type[Model], ...] = (
    Batch,
    StepEntry,
    BatchSample,
    MasterRecord,
    Lot,
    InventoryTransaction,
    Usage,
    TherapyOrder,
)


@dataclass
class Mfg:
    w: World
    operator: User  # trained and qualified (TEST-APS)
    operator2: User  # holds the operator role, not qualified
    verifier: User
    qa: User  # QA reviewer
    mbr: MasterRecord
    bsc: Equipment
    centrifuge: Equipment
    reagent: Lot
    vector: Lot

    @property
    def approver(self) -> User:
        return self.w.qa_approver


def make_effective_mbr(w: World, text: str, reviewer: User) -> MasterRecord:
    """Import a YAML MBR as the supervisor and take it through review and approval."""
    mr = services.import_master_record(
        actor=w.supervisor, yaml_text=text, change_summary="First issue", title="Test MBR"
    )
    version = mr.document_version
    documents.submit_for_review(actor=w.supervisor, version_id=version.pk)
    documents.review_version(actor=reviewer, version_id=version.pk, password=PASSWORD)
    documents.approve_version(actor=w.qa_approver, version_id=version.pk, password=PASSWORD)
    mr.refresh_from_db()
    mr.document_version.refresh_from_db()
    assert mr.document_version.status == "effective"
    return mr


def _unit(w: World, tag: str, kind: str) -> Equipment:
    protocol = eq.effective_document(f"FRM-{tag}", "Qualification protocol")
    unit = eq.register(w.supervisor, w.mfg, tag, kind=kind)
    eq.qualify(unit, w.supervisor, w.qa_approver, protocol)
    plan = equipment.add_plan(
        actor=w.supervisor,
        equipment_id=tag,
        kind="calibration",
        title="Annual calibration",
        interval_days=365,
    )
    eq.record(w.supervisor, plan, at=eq.ago(days=1))
    equipment.change_status(actor=w.supervisor, equipment_id=tag, status="in_service", reason="OK")
    unit.refresh_from_db()
    return unit


@pytest.fixture
def mfg(world: World, make_user) -> Mfg:  # type: ignore[no-untyped-def]
    w = world
    qa = make_user(Role.QA_REVIEWER, w.mfg, username="qarev", full_name="Rita Reviewer")
    verifier = make_user(Role.VERIFIER, w.mfg, username="ver", full_name="Victor Verifier")
    operator2 = make_user(Role.OPERATOR, w.mfg, username="op2", full_name="Omar Untrained")
    reagent_part = MaterialFactory(part_number="MAT-T01", name="Activation reagent", unit="vial")
    vector_part = MaterialFactory(part_number="MAT-T02", name="Lentiviral vector", unit="mL")
    reagent = LotFactory(material=reagent_part, site=w.mfg, unit="vial", lot_number="LOT-R1")
    vector = LotFactory(
        material=vector_part,
        site=w.mfg,
        unit="mL",
        lot_number="LOT-V1",
        attributes={"titer_tu_per_ml": "1.2e9"},
    )
    training.create_qualification_type(
        actor=w.supervisor,
        code="TEST-APS",
        name="Aseptic process simulation",
        kind="aseptic",
        validity_months=6,
    )
    training.grant_qualification(
        actor=w.supervisor,
        user_id=w.operator.pk,
        qualification_code="TEST-APS",
        site_id=w.mfg.pk,
        password=PASSWORD,
    )
    bsc = _unit(w, "BSC-01", "biosafety_cabinet")
    centrifuge = _unit(w, "CEN-01", "centrifuge")
    return Mfg(
        w=w,
        operator=w.operator,
        operator2=operator2,
        verifier=verifier,
        qa=qa,
        mbr=make_effective_mbr(w, TEST_MBR, qa),
        bsc=bsc,
        centrifuge=centrifuge,
        reagent=reagent,
        vector=vector,
    )


@pytest.fixture
def received(mfg: Mfg, walk) -> Callable[..., TherapyOrder]:  # type: ignore[no-untyped-def]
    """received(patient=None) -> an order received and accepted at MFG."""
    return lambda **kw: walk("received", **kw)


@pytest.fixture
def batch(mfg: Mfg, received) -> Batch:  # type: ignore[no-untyped-def]
    """A batch of the test MBR, just started for a received order."""
    order = received()
    return services.start_batch(actor=mfg.operator, order_id=order.pk)


def run(mfg: Mfg, b: Batch, until: str | None = None, **values: Any) -> dict[str, StepEntry]:
    """Record (and verify where needed) every step of the test MBR in order, stopping before
    `until`. `values` override a step's input (value or scan) by key."""
    o = b.order
    assert o is not None
    inputs: dict[str, dict[str, Any]] = {
        "coi_in": {"scan": f"&/{o.coi}"},
        "bsc": {"scan": mfg.bsc.equipment_id},
        "reagent": {"scan": mfg.reagent.lot_number},
        "cells": {"value": "120000000"},
        "vector": {"scan": mfg.vector.lot_number},
        "look": {"value": "clear"},
        "branch_a": {"value": "all well"},
        "sign": {"password": PASSWORD},
    }
    for key, override in values.items():
        inputs[key] = override
    out: dict[str, StepEntry] = {}
    for step in services.open_steps(b):
        if step == until:
            break
        entry = services.record_step(
            actor=mfg.operator, batch_id=b.pk, step_key=step, **inputs.get(step, {})
        )
        if entry.status == "awaiting_verification":
            entry = services.verify_entry(actor=mfg.verifier, entry_id=entry.pk, password=PASSWORD)
        out[step] = entry
    return out


def unchanged() -> AbstractContextManager[None]:
    """A refused call wrote nothing: no manufacturing row, lot, usage, deviation, audit event."""
    return nothing_written(*MFG_MODELS, Deviation)


@contextmanager
def blocked(b: Batch, action: str = "manufacturing.step.execute") -> Iterator[list[AuditEvent]]:
    """An interlock refusal: every manufacturing, materials and equipment row as it was, no
    deviation, and exactly one new audit event: `<action>.blocked` (on the batch, or on the
    record the gate files it under)."""
    rows = {m.__name__: list(m._default_manager.order_by("pk").values_list()) for m in MFG_MODELS}
    deviations = Deviation.objects.count()
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    events: list[AuditEvent] = []
    yield events
    after = {m.__name__: list(m._default_manager.order_by("pk").values_list()) for m in MFG_MODELS}
    assert after == rows, "a refused step changed rows"
    assert Deviation.objects.count() == deviations
    events.extend(AuditEvent.objects.filter(seq__gt=last).order_by("seq"))
    assert [e.action for e in events] == [f"{action}.blocked"], [e.action for e in events]
    assert verify_chain().ok


def ago(**delta: float) -> dt.datetime:
    return eq.ago(**delta)


__all__ = ["PASSWORD", "Decimal", "Mfg", "bag_label", "blocked", "run", "unchanged"]
