"""Acceptance: "The demo MBR runs from start to QA review in a service-level test".

The demo MBR (mbr/cd19-cart-lv.yaml) on the chain's small world: its twelve parts as released
lots, a qualified unit of each equipment kind it scans, SOP-0001..0006 effective and read by the
operator, who holds gowning, APS and NC-200. The order is received yesterday and the batch
started then (late entries, the services' own path): the activation timer needs 18 hours
between TransAct and transduction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

import vein2vein.manufacturing
from tests.chain.conftest import World, bag_label
from tests.conftest import PASSWORD
from tests.manufacturing.conftest import _unit, make_effective_mbr
from tests.materials.factories import LotFactory, MaterialFactory
from tests.training.factories import DocumentFactory, make_effective
from vein2vein.chain import services as chain
from vein2vein.chain.models import TherapyOrder
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.models import Signature, User
from vein2vein.core.signing import is_valid
from vein2vein.core.time import now
from vein2vein.manufacturing import mbr, selectors, services
from vein2vein.manufacturing.models import Batch, BatchSample, StepEntry
from vein2vein.materials.models import Lot
from vein2vein.training import services as training
from vein2vein.training.models import Qualification, TrainingAssignment

DEMO_MBR = Path(vein2vein.manufacturing.__file__).with_name("mbr") / "cd19-cart-lv.yaml"
SOPS = ("SOP-0001", "SOP-0002", "SOP-0003", "SOP-0004", "SOP-0005", "SOP-0006")
QUALIFICATIONS = (
    ("ASEPTIC-GOWNING", "Aseptic gowning", "aseptic", ""),
    ("APS", "Aseptic process simulation", "aseptic", ""),
    ("NC-200", "NucleoCounter NC-200 operation", "instrument", "NucleoCounter NC-200"),
)
UNITS = {
    "CSP-01": "closed_system",
    "CNT-01": "cell_counter",
    "FCM-01": "flow_cytometer",
    "CEN-01": "centrifuge",
    "SEAL-01": "tube_sealer",
    "CRF-01": "controlled_rate_freezer",
    "LN2-01": "ln2_freezer",
}
PARTS = {  # part -> (unit, lot attributes)
    "MAT-0101": ("vial", None),
    "MAT-0102": ("vial", None),
    "MAT-0103": ("vial", None),
    "MAT-0104": ("vial", None),
    "MAT-0105": ("vial", None),
    "MAT-0106": ("mL", {"titer_tu_per_ml": "2.4e8"}),
    "MAT-0107": ("bag", None),
    "MAT-0108": ("mL", None),
    "MAT-0109": ("mL", None),
    "MAT-0110": ("each", None),
    "MAT-0111": ("each", None),
    "MAT-0112": ("each", None),
}
STARTED_HOURS_AGO = 21


def _trained_operator(w: World) -> None:
    """SOP-0001..0006 effective three days ago and read by the operator; gowning, APS and
    NC-200 granted. The reads and grants go through the training services, which stamp them
    now; no service states an earlier time, so set-up moves them back two days (the batch
    started 21 hours ago and the operator must have been qualified then)."""
    for number in SOPS:
        make_effective(DocumentFactory(number=number), at=now() - dt.timedelta(days=3))
    curriculum = training.create_curriculum(actor=w.supervisor, role="operator", name="Operator")
    for number in SOPS:
        training.add_curriculum_document(
            actor=w.supervisor, curriculum_id=curriculum.pk, document_number=number
        )
    for assignment in TrainingAssignment.objects.filter(trainee=w.operator):
        training.sign_assignment(actor=w.operator, assignment_id=assignment.pk, password=PASSWORD)
    for code, name, kind, subject in QUALIFICATIONS:
        training.create_qualification_type(
            actor=w.supervisor,
            code=code,
            name=name,
            kind=kind,
            validity_months=12,
            subject=subject,
        )
        training.grant_qualification(
            actor=w.supervisor,
            user_id=w.operator.pk,
            qualification_code=code,
            site_id=w.mfg.pk,
            password=PASSWORD,
        )
    earlier = now() - dt.timedelta(days=2)
    TrainingAssignment.objects.filter(trainee=w.operator).update(
        trainee_signed_at=earlier, completed_at=earlier
    )
    Qualification.objects.filter(user=w.operator).update(granted_at=earlier)


def _lots(w: World) -> dict[str, Lot]:
    out = {}
    for part, (unit, attributes) in PARTS.items():
        material = MaterialFactory(part_number=part, unit=unit)
        out[part] = LotFactory(
            material=material,
            site=w.mfg,
            unit=unit,
            lot_number=f"L-{part[-4:]}",
            attributes=attributes or {},
        )
    return out


def _received_yesterday(w: World) -> TherapyOrder:
    """The chain world's patient (68.5 kg), collected and received yesterday (late entries)."""
    o = chain.create_order(
        actor=w.clinician,
        patient_id=w.patient.pk,
        product_id=w.product.pk,
        treating_physician="Dr. Rivera",
        requested_collection_date=w.today(w.clinic),
        collection_site_id=w.apheresis.pk,
        manufacturing_site_id=w.mfg.pk,
    )
    chain.book_slot(actor=w.clinician, order_id=o.pk, day=w.today())
    end = now() - dt.timedelta(hours=STARTED_HOURS_AGO + 4)
    chain.record_collection(
        actor=w.collector,
        order_id=o.pk,
        started_at=end - dt.timedelta(hours=3),
        ended_at=end,
        volume_ml="250",
        anticoagulant="ACD-A",
        wbc_10e9_per_l="12.5",
    )
    o.refresh_from_db()
    chain.hand_off(
        actor=w.collector,
        order_id=o.pk,
        scanned_text=o.coi,
        to_custodian="World Courier (J. Smith)",
        to_location="Courier van",
        temperature_c="4.5",
        to_status="in_transit",
        occurred_at=end + dt.timedelta(minutes=30),
    )
    chain.receive_collection(
        actor=w.operator,
        order_id=o.pk,
        scans=bag_label(o),
        arrival_temperature_c="5.0",
        logger_serial="TL-1",
        logger_min_c="3.1",
        logger_max_c="6.2",
        occurred_at=end + dt.timedelta(hours=3),
    )
    o.refresh_from_db()
    return o


@pytest.fixture
def people(world: World, make_user) -> dict[str, User]:  # type: ignore[no-untyped-def]
    return {
        "verifier": make_user(Role.VERIFIER, world.mfg, username="ver", full_name="Victor V"),
        "qa": make_user(Role.QA_REVIEWER, world.mfg, username="qarev", full_name="Rita R"),
    }


def _inputs(o: TherapyOrder) -> dict[str, dict[str, Any]]:
    """What the operator enters or scans per step (lots and units are scanned by id)."""
    return {
        "coi_receipt": {"scan": f"&/{o.coi}"},
        "apheresis_viable_cells": {"value": "5200000000"},
        "viable_cells_day0": {"value": "380000000"},
        "cells_for_transduction": {"value": "36000000"},
        "viable_cells_day5": {"value": "150000000"},
        "viable_cells_day8": {"value": "900000000"},
        "culture_appearance": {"value": "clear"},
        "harvest_viable_cells": {"value": "2000000000"},
        "harvest_viability": {"value": "91.2"},
        "car_percent": {"value": "30.0"},
        "harvest_volume_ml": {"value": "60.0"},
        "storage_location": {"value": "LN2-01, rack 2, box A, position 7"},
        "storage_temperature": {"value": "-185"},
        "prodigy_report": {"file": SimpleUploadedFile("prodigy.pdf", b"%PDF-1.4\n%%EOF\n")},
    }


def test_demo_mbr_runs_from_start_to_qa_review(world: World, people: dict[str, User]) -> None:
    w = world
    _trained_operator(w)
    lots = _lots(w)
    for tag, kind in UNITS.items():
        _unit(w, tag, kind)
    mr = make_effective_mbr(w, DEMO_MBR.read_text(encoding="utf-8"), people["qa"])
    o = _received_yesterday(w)

    started = now() - dt.timedelta(hours=STARTED_HOURS_AGO)
    b = services.start_batch(
        actor=w.operator, order_id=o.pk, master_record_id=mr.pk, started_at=started
    )
    definition = mr.definition
    steps = mbr.steps(definition)
    timer = next(s for s in steps if s["kind"] == "timer" and s.get("min_minutes"))
    # Steps before the 18-hour activation timer were done yesterday: stated times, a minute
    # apart. The timer and every step after it are recorded now.
    before_timer = [s["key"] for s in steps[: timer["index"]]]
    stated = {key: started + dt.timedelta(minutes=5 + i) for i, key in enumerate(before_timer)}
    inputs = _inputs(o)
    for step in steps:
        key, kind = step["key"], step["kind"]
        kw: dict[str, Any] = dict(inputs.get(key, {}))
        if kind == "material":
            kw["scan"] = lots[step["part"]].lot_number
        elif kind == "equipment":
            kw["scan"] = next(t for t, k in UNITS.items() if k == step["equipment_kind"])
        elif kind == "signoff":
            kw["password"] = PASSWORD
        entry = services.record_step(
            actor=w.operator, batch_id=b.pk, step_key=key, performed_at=stated.get(key), **kw
        )
        if step.get("verify"):
            assert entry.status == "awaiting_verification", key
            entry = services.verify_entry(
                actor=people["verifier"], entry_id=entry.pk, password=PASSWORD
            )
        assert entry.status == "done", key
        assert not entry.flag, (key, entry.flag)  # realistic values, all within limits

    entries = services.current_entries(b)
    assert entries[timer["key"]].value_number >= 18 * 60
    # Hand-computed for a 68.5 kg patient and a vector lot of 2.4e8 TU/mL:
    assert entries["vector_volume_ml"].value_number == Decimal("0.75")  # 3.6e7 x 5 / 2.4e8
    assert entries["dose_car_cells"].value_number == Decimal("68500000")  # 68.5 x 1e6 < 1e8
    assert entries["car_cells_available"].value_number == Decimal("600000000")  # 2e9 x 30 %
    assert entries["dose_fraction"].value_number == Decimal("0.114")  # 6.85e7 / 6e8
    assert entries["dose_volume_ml"].value_number == Decimal("6.85")  # 60 mL x 6.85e7 / 6e8
    assert entries["cryostor"].value_number == Decimal("50")
    assert BatchSample.objects.filter(batch=b).count() == sum(s["kind"] == "sample" for s in steps)

    services.complete_batch(actor=w.operator, batch_id=b.pk)
    b.refresh_from_db()
    o.refresh_from_db()
    assert b.status == "completed"
    assert o.status == "in_qc"
    kinds = {x.kind for x in selectors.review_exceptions(b)}
    assert kinds == {"late"}  # yesterday's entries, stated late; nothing else to review

    services.review_batch(actor=people["qa"], batch_id=b.pk, password=PASSWORD, comment="OK")
    b = Batch.objects.get(pk=b.pk)
    assert b.status == "reviewed"
    review = Signature.objects.get(record_type="manufacturing.batch", record_id=str(b.pk))
    assert review.meaning == "reviewed" and review.signer == people["qa"]
    assert is_valid(review, b)
    assert StepEntry.objects.filter(batch=b).count() == len(steps)
    assert verify_chain().ok
