"""Demo QC, made through the services after the manufacturing demo. Idempotent: methods,
the specification and a batch's samples are made once.

- Test methods: sterility (compendial 14-day and rapid), endotoxin, mycoplasma, cell count
  and viability, identity by flow (%CD3+), CAR expression (%CAR+), number of CAR+ cells, VCN,
  potency, RCL, residual beads, appearance. Endotoxin needs the QC-LAL qualification, which
  Sofia Sato (supervisor) grants to Quinn Chen (qc) here; viability runs on a cell counter,
  the flow tests on a flow cytometer.
- "CAR-T release spec" v1 of CD19-CART: the published ARI-0001 release specification
  (Castella et al. 2019; ../shared/data/batch_records/car_t_release_spec_ari0001.csv),
  written by the supervisor and approved by Amara Appiah (qa_approver) with her signature.
- LUH-1007's batch: a release sample resulted by Quinn Chen; the endotoxin result is out of
  specification (1.2 EU/mL > 0.5), so its OOS investigation is open in phase I; the other
  results wait for review.
- LUH-1008's batch: every release test resulted (the ARI0001/02 lot's published values) and
  reviewed by Kai Kimura (qc2), the second QC analyst, with a signature, all within
  specification: ready for release.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from vein2vein.chain import selectors as chain_selectors
from vein2vein.chain.demo import PRODUCT
from vein2vein.core.demo import DEMO_PASSWORD
from vein2vein.core.models import User
from vein2vein.core.time import now
from vein2vein.equipment import selectors as equipment_selectors
from vein2vein.manufacturing import selectors as mfg_selectors
from vein2vein.training import services as training
from vein2vein.training.selectors import is_qualified

from . import selectors, services
from .models import Sample, Specification, TestMethod

QUALIFICATION = "QC-LAL"
FLOW_FILE = "CAR19-panel.fcs"
# The flow methods' Gating-ML 2.0 strategy: lymphocytes on scatter, CD3+ among them, then
# CAR19+ among the CD3+ cells.
GATING_ML = """<?xml version="1.0" encoding="UTF-8"?>
<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating"
    xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes">
  <gating:RectangleGate gating:id="Lymphocytes">
    <gating:dimension gating:compensation-ref="uncompensated" gating:min="200" gating:max="800">
      <data-type:fcs-dimension data-type:name="FSC-A"/></gating:dimension>
    <gating:dimension gating:compensation-ref="uncompensated" gating:min="0" gating:max="400">
      <data-type:fcs-dimension data-type:name="SSC-A"/></gating:dimension>
  </gating:RectangleGate>
  <gating:RectangleGate gating:id="CD3pos" gating:parent_id="Lymphocytes">
    <gating:dimension gating:compensation-ref="uncompensated" gating:min="300">
      <data-type:fcs-dimension data-type:name="CD3"/></gating:dimension>
  </gating:RectangleGate>
  <gating:RectangleGate gating:id="CARpos" gating:parent_id="CD3pos">
    <gating:dimension gating:compensation-ref="uncompensated" gating:min="300">
      <data-type:fcs-dimension data-type:name="CAR"/></gating:dimension>
    <gating:dimension gating:compensation-ref="uncompensated" gating:min="300">
      <data-type:fcs-dimension data-type:name="CD3"/></gating:dimension>
  </gating:RectangleGate>
</gating:Gating-ML>
"""
FLOW_GATES = {"CAR": "CARpos", "CD3": "CD3pos"}
COUNTER, CYTOMETER = "CNT-01", "FCM-01"

# code, name, category, numeric, unit, training, equipment kind
METHODS: tuple[tuple[str, str, str, bool, str, str, str], ...] = (
    ("APP", "Appearance", "appearance", False, "", "", ""),
    ("CARN", "Number of CAR19+ cells", "car_expression", True, "10^6 cells", "", ""),
    ("CAR", "CAR19+ cells (flow)", "car_expression", True, "%", "", "flow_cytometer"),
    ("CD3", "CD3+ cells (identity, flow)", "identity", True, "%", "", "flow_cytometer"),
    ("VIAB", "Cell viability (trypan blue)", "cell_count", True, "%", "", "cell_counter"),
    ("VCD", "Viable cell density", "cell_count", True, "cells/mL", "", "cell_counter"),
    ("STER14", "Sterility, compendial 14-day", "sterility", False, "", "", ""),
    ("STERR", "Sterility, rapid", "sterility", False, "", "", ""),
    ("MYCO", "Mycoplasma (PCR)", "mycoplasma", False, "", "", ""),
    ("ENDO", "Endotoxin (chromogenic LAL)", "endotoxin", True, "EU/mL", QUALIFICATION, ""),
    ("VCN", "Transgene copies per cell (qPCR)", "vcn", True, "copies/cell", "", ""),
    ("RCL", "Replication-competent lentivirus (qPCR)", "rcl", False, "", "", ""),
    ("POT", "Cytotoxic potency (NALM6 killing)", "potency", False, "", "", ""),
    ("IFNG", "Potency: IFN-gamma release", "potency", True, "pg/mL", "", ""),
    ("BEADS", "Residual beads", "residual_beads", True, "beads/10^6 cells", "", ""),
)

# ARI-0001 release specification, as published.
CRITERIA: tuple[dict[str, Any], ...] = (
    {"method": "APP", "kind": "conforms", "expected": "cloudy liquid solution"},
    {"method": "CARN", "kind": "at_least", "low": "35", "unit": "10^6 cells"},
    {"method": "CAR", "kind": "at_least", "low": "20", "unit": "%"},
    {"method": "CD3", "kind": "at_least", "low": "70", "unit": "%"},
    {"method": "VIAB", "kind": "at_least", "low": "70", "unit": "%"},
    {"method": "STER14", "kind": "not_detected"},
    {"method": "MYCO", "kind": "not_detected"},
    {"method": "ENDO", "kind": "at_most", "high": "0.5", "unit": "EU/mL"},
    {"method": "VCN", "kind": "at_most", "high": "10", "unit": "copies/cell"},
    {"method": "RCL", "kind": "not_detected"},
    {"method": "POT", "kind": "report_only"},
)

# The ARI0001/02 lot's published results (endotoxin reported as "≤ 0.5": 0.25 here).
IN_SPEC: dict[str, dict[str, str]] = {
    "APP": {"text": "conforms"},
    "CARN": {"value": "1746"},
    "CAR": {"value": "41.9"},
    "CD3": {"value": "98.6"},
    "VIAB": {"value": "98.1"},
    "STER14": {"text": "not detected"},
    "MYCO": {"text": "not detected"},
    "ENDO": {"value": "0.25"},
    "VCN": {"value": "2.32"},
    "RCL": {"text": "not detected"},
    "POT": {"text": "(a) 40.4; (b) 64.6"},
}


def _users() -> dict[str, User]:
    names = ("supervisor", "qa_approver", "qc", "qc2")
    return {u.username: u for u in User.objects.filter(username__in=names)}


def load_demo() -> None:
    users = _users()
    product = chain_selectors.products().filter(code=PRODUCT).first()
    if len(users) < 3 or product is None:
        return
    _qualify(users)
    _methods(users["supervisor"])
    spec = _specification(users, product.pk)
    if spec is None:
        return
    for patient, oos in (("LUH-1007", True), ("LUH-1008", False)):
        b = (
            mfg_selectors.batches_for(users["supervisor"])
            .filter(order__patient__site_patient_id=patient)
            .first()
        )
        if b is not None and not Sample.objects.filter(batch_id=b.pk).exists():
            _test_batch(b, users, oos=oos)


def _qualify(users: dict[str, User]) -> None:
    sup, qc = users["supervisor"], users["qc"]
    from vein2vein.training.selectors import qualification_types

    if not qualification_types().filter(code=QUALIFICATION).exists():
        training.create_qualification_type(
            actor=sup,
            code=QUALIFICATION,
            name="Endotoxin testing (chromogenic LAL)",
            kind="other",
            validity_months=12,
        )
    if not is_qualified(qc, [QUALIFICATION]).ok:
        training.grant_qualification(
            actor=sup,
            user_id=qc.pk,
            qualification_code=QUALIFICATION,
            site_id=_site_id(qc),
            password=DEMO_PASSWORD,
        )


def _site_id(user: User) -> int:
    return chain_selectors.site_ids_of(user)[0]


def _methods(actor: User) -> None:
    for code, name, category, numeric, unit, need, kind in METHODS:
        if not TestMethod.objects.filter(code=code).exists():
            strategy = GATING_ML if code in FLOW_GATES else ""
            services.create_method(
                actor=actor,
                code=code,
                name=name,
                category=category,
                numeric=numeric,
                unit=unit,
                training_requirement=need,
                equipment_kind=kind,
                description=f"{name}: demo method, version 1",
                gating_ml=strategy,
            )


def _specification(users: dict[str, User], product_id: int) -> Specification | None:
    spec = selectors.approved_specification(product_id)
    if spec is not None:
        return spec
    draft = Specification.objects.filter(product_id=product_id, status="draft").first()
    if draft is None:
        draft = services.create_specification(
            actor=users["supervisor"],
            product_id=product_id,
            stage="release",
            title="CAR-T release spec",
            criteria=list(CRITERIA),
        )
    return services.approve_specification(
        actor=users["qa_approver"], specification_id=draft.pk, password=DEMO_PASSWORD
    )


def _usable(tag: str) -> str:
    unit = equipment_selectors.equipment_list().filter(equipment_id=tag).first()
    if unit is None or not equipment_selectors.check_equipment_usable(unit).ok:
        return ""
    return tag


def _test_batch(b: Any, users: dict[str, User], *, oos: bool) -> None:
    qc = users["qc"]
    drawn = [s for s in mfg_selectors.samples_of(b) if s.sample_type == "release"]
    sample = services.register_sample(
        actor=qc,
        batch_id=b.pk,
        purpose="release",
        volume=Decimal("12"),
        unit="mL",
        batch_sample_number=drawn[0].number if drawn else "",
        storage_location="QC lab, fridge 2, shelf B",
        assigned_to_id=qc.pk,
        due_date=(now() + dt.timedelta(days=2 if oos else 1)).date(),
    )
    retain = services.make_aliquot(
        actor=qc, sample_id=sample.pk, volume=Decimal("2"), storage_location="QC retain box 4"
    )
    if oos:  # the mycoplasma confirmation goes to a contract lab: in transit
        services.ship_sample(
            actor=qc,
            sample_id=retain.pk,
            lab_kind="external",
            lab_name="Contract mycoplasma laboratory",
            packet="2-8 °C shipper with logger; courier waybill 7781-2231",
        )
    equipment = {"VIAB": _usable(COUNTER), "CAR": _usable(CYTOMETER), "CD3": _usable(CYTOMETER)}
    for code, value in IN_SPEC.items():
        if code in equipment and not equipment[code]:
            continue  # the unit is not usable in this database: the test stays missing
        args = dict(value)
        if oos and code == "ENDO":
            args = {"value": "1.2"}
        if code in FLOW_GATES:
            r = services.import_flow_result(
                actor=qc,
                sample_id=sample.pk,
                method=code,
                content=demo_fcs(),
                filename=FLOW_FILE,
                gate=FLOW_GATES[code],
                equipment_id=equipment[code],
            )
        else:
            r = services.enter_result(
                actor=qc,
                sample_id=sample.pk,
                method=code,
                equipment_id=equipment.get(code, ""),
                **args,  # type: ignore[arg-type]
            )
        if not oos:
            services.review_result(actor=users["qc2"], result_id=r.pk, password=DEMO_PASSWORD)


def demo_fcs() -> bytes:
    """An FCS 3.1 file of 4,000 events (FSC-A, SSC-A, CD3, CAR), the same every time: about
    97 % CD3+ and 42 % CAR19+ of them."""
    import io

    import flowio
    import numpy as np

    rng = np.random.default_rng(19)
    n = 4000
    fsc = rng.normal(500, 80, n)
    ssc = rng.normal(200, 60, n)
    cd3 = np.where(rng.random(n) < 0.97, rng.normal(700, 100, n), rng.normal(100, 50, n))
    car = np.where(rng.random(n) < 0.42, rng.normal(650, 90, n), rng.normal(120, 60, n))
    events = np.clip(np.column_stack([fsc, ssc, cd3, car]), 0, 1023).astype(np.float32)
    out = io.BytesIO()
    flowio.create_fcs(
        out,
        events.ravel().tolist(),
        ["FSC-A", "SSC-A", "CD3", "CAR"],
        opt_channel_names=["", "", "CD3 FITC", "CAR19 PE"],
    )
    return out.getvalue()
