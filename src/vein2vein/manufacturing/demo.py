"""Demo batch records, made through the services (real audit trail and signatures) after the
chain demo. Idempotent: the MBR is imported once, and a patient whose order exists is left as
it is, so a second run writes nothing.

- MBR-0001: the autologous anti-CD19 CAR-T master batch record (mbr/cd19-cart-lv.yaml),
  imported by Sofia Sato (supervisor), reviewed by Rita Reyes (qa) and approved by Amara
  Appiah (qa_approver), so it is effective.
- LUH-1007 (Daniel Kim) was collected this morning and received at MFG-PHL; his batch was
  started today. Olivia Ortiz (operator) has done the first unit operation (receipt) and the
  verifier has signed its two checks, so the batch page shows the next step (journey 4).
- LUH-1008 (Elena Rossi) was collected yesterday. Her batch ran through every step of the MBR
  and is completed, awaiting QA review (journey 6). The review shows only the exceptions:
  the day 5 cell count below the action limit (comment, deviation), the harvest viability
  below the alert limit, the harvest volume corrected with a reason, and the steps before
  the 18-hour activation timer, entered today with the times they were done (late entries).

The activation timer needs its first half done at least 18 hours before its second, and a
step's performer must have been qualified when the step was done. When the lower demos'
training is younger than that (they are loaded a moment ago), LUH-1008's batch stops in
progress at the activation timer; see `_can_back_date`.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.files.uploadedfile import SimpleUploadedFile

from vein2vein.chain import demo as chain_demo
from vein2vein.chain import selectors as chain_selectors
from vein2vein.chain import services as chain
from vein2vein.chain.demo import APHERESIS, CLINIC, MFG, PRODUCT, DemoPatient
from vein2vein.core.demo import DEMO_PASSWORD
from vein2vein.core.models import Site, User
from vein2vein.core.time import in_zone, now
from vein2vein.documents import services as documents
from vein2vein.documents.choices import VersionStatus
from vein2vein.documents.pdf import minimal_pdf
from vein2vein.materials import selectors as materials_selectors
from vein2vein.materials import services as materials
from vein2vein.materials.choices import LotStatus, SupplierStatus
from vein2vein.materials.demo import INSPECTED
from vein2vein.materials.demo import PDF as COA_PDF
from vein2vein.training.selectors import is_qualified

from . import mbr, services
from .models import Batch, MasterRecord, StepEntry

if TYPE_CHECKING:
    from vein2vein.chain.models import TherapyOrder, TherapyProduct
    from vein2vein.materials.models import Lot

MBR_FILE = Path(__file__).with_name("mbr") / "cd19-cart-lv.yaml"
IN_PROGRESS, COMPLETED = "LUH-1007", "LUH-1008"

PATIENTS = (
    DemoPatient(
        IN_PROGRESS,
        "Daniel",
        "Kim",
        "1984-06-19",
        "79.0",
        "Relapsed DLBCL after 2 lines",
        "in_progress",
    ),
    DemoPatient(
        COMPLETED,
        "Elena",
        "Rossi",
        "1966-02-11",
        "74.6",
        "Refractory primary mediastinal B-cell lymphoma",
        "completed",
    ),
)

# LUH-1008's timeline, in minutes after its batch started (stated times: late entries). The
# activation timer and everything after it are recorded now, 19 h 40 min after TransAct.
START_HOURS_AGO = 21
STATED = {
    "coi_receipt": 10,
    "apheresis_viable_cells": 15,
    "receipt_signoff": 20,
    "prodigy_setup": 35,
    "tubing_set": 40,
    "cd4_reagent": 45,
    "cd8_reagent": 47,
    "selection_run": 50,
    "cell_counter_day0": 75,
    "sample_day0": 78,
    "viable_cells_day0": 85,
    "selection_signoff": 90,
    "texmacs_medium": 100,
    "human_ab_serum": 105,
    "il7": 108,
    "il15": 110,
    "transact": 115,
    "activation_signoff": 120,
}

# What the operator enters or scans at each step (lots by part number, units by tag).
VALUES: dict[str, dict[str, Any]] = {
    "apheresis_viable_cells": {"value": "4800000000"},
    "prodigy_setup": {"unit": "CSP-01"},
    "tubing_set": {"part": "MAT-0110"},
    "cd4_reagent": {"part": "MAT-0101"},
    "cd8_reagent": {"part": "MAT-0102"},
    "cell_counter_day0": {"unit": "CNT-01"},
    "viable_cells_day0": {"value": "350000000"},
    "texmacs_medium": {"part": "MAT-0107"},
    "human_ab_serum": {"part": "MAT-0108"},
    "il7": {"part": "MAT-0104"},
    "il15": {"part": "MAT-0105"},
    "transact": {"part": "MAT-0103"},
    "cells_for_transduction": {"value": "40000000"},
    "vector_thaw": {"part": "MAT-0106"},
    "feed_day5": {"part": "MAT-0107"},
    "viable_cells_day5": {
        "value": "46000000",
        "comment": "Slow expansion after transduction; supervisor informed, culture continued "
        "per SOP-0005 section 7 pending QA assessment.",
    },
    "feed_day8": {"part": "MAT-0107"},
    "viable_cells_day8": {"value": "620000000"},
    "culture_appearance": {"value": "clear"},
    "cell_counter_harvest": {"unit": "CNT-01"},
    "harvest_viable_cells": {"value": "2100000000"},
    "harvest_viability": {"value": "78.4"},  # below the alert limit (80 %): flagged
    "flow_cytometer_harvest": {"unit": "FCM-01"},
    "car_percent": {"value": "31.5"},
    "harvest_volume_ml": {"value": "95.0"},  # corrected to 59.0 right after (see CORRECTION)
    "transfer_bag": {"part": "MAT-0112"},
    "centrifuge_formulation": {"unit": "CEN-01"},
    "cryostor": {"part": "MAT-0109"},
    "freezing_bag": {"part": "MAT-0111"},
    "tube_sealing": {"unit": "SEAL-01"},
    "crf": {"unit": "CRF-01"},
    "ln2_freezer": {"unit": "LN2-01"},
    "storage_location": {"value": "LN2-01, rack 3, box B, position 4"},
    "storage_temperature": {"value": "-182"},
}
CORRECTION = (
    "harvest_volume_ml",
    "59.0",
    "Transcription error: digits transposed; 59.0 mL read again from the Prodigy display",
)

# Human AB serum: the materials demo's only lot comes from a supplier under re-evaluation and
# stays in quarantine. A batch needs a released lot, so one comes from a second supplier.
SERUM_SUPPLIER = "Valley Biomedical"
SERUM_LOT = "VB-24-0612"


def _users() -> dict[str, User]:
    names = (
        "supervisor",
        "qa",
        "qa_approver",
        "clinic",
        "apheresis",
        "operator",
        "verifier",
        "qc",
    )
    return {u.username: u for u in User.objects.filter(username__in=names)}


def load_demo() -> None:
    users = _users()
    product = chain_selectors.products().filter(code=PRODUCT).first()
    mfg = Site.objects.filter(code=MFG).first()
    if len(users) < 8 or product is None or mfg is None:
        return  # the core and chain demos are not loaded
    master = _master_record(users, product)
    if master is None:
        return
    _serum_lot(users, mfg)
    clinic, aph = Site.objects.get(code=CLINIC), Site.objects.get(code=APHERESIS)
    for spec in PATIENTS:
        if chain_selectors.patient_enrolled(site=clinic, site_patient_id=spec.site_patient_id):
            continue
        _capacity(users["supervisor"], mfg)
        late = spec.stage == "completed"
        collected = now() - dt.timedelta(hours=START_HOURS_AGO + 3 if late else 5)
        order = _received(spec, users, product, clinic=clinic, aph=aph, mfg=mfg, end=collected)
        if late:
            _completed_batch(order, users)
        else:
            _started_batch(order, users)


# --- the master batch record ----------------------------------------------------------------


def _master_record(users: dict[str, User], product: TherapyProduct) -> MasterRecord | None:
    """MBR-0001 effective: imported, submitted, reviewed and approved (or finished if an earlier
    run stopped half way)."""
    found = services.effective_master_record(product)
    if found is not None:
        return found
    mr = (
        MasterRecord.objects.filter(
            product=product,
            document_version__status__in=(VersionStatus.DRAFT, VersionStatus.IN_REVIEW),
        )
        .select_related("document_version")
        .first()
    )
    if mr is None:
        mr = services.import_master_record(
            actor=users["supervisor"],
            yaml_text=MBR_FILE.read_text(encoding="utf-8"),
            change_summary="First issue of the autologous anti-CD19 CAR-T process",
            file_name=MBR_FILE.name,
        )
    version = mr.document_version
    if version.status == VersionStatus.DRAFT:
        documents.submit_for_review(actor=users["supervisor"], version_id=version.pk)
        version.refresh_from_db()
    if version.status == VersionStatus.IN_REVIEW:
        documents.review_version(actor=users["qa"], version_id=version.pk, password=DEMO_PASSWORD)
        documents.approve_version(
            actor=users["qa_approver"], version_id=version.pk, password=DEMO_PASSWORD
        )
    return services.effective_master_record(product)


def _serum_lot(users: dict[str, User], site: Site) -> None:
    """A released human AB serum lot (MAT-0108) from an approved supplier, unless one exists."""
    material = materials_selectors.materials().filter(part_number="MAT-0108").first()
    if material is None or _released(material.part_number, Decimal(30)) is not None:
        return
    today = now().date()
    supplier = materials_selectors.suppliers().filter(name=SERUM_SUPPLIER).first()
    if supplier is None:
        supplier = materials.create_supplier(
            actor=users["qa"],
            name=SERUM_SUPPLIER,
            status=SupplierStatus.APPROVED,
            qualification_date=today - dt.timedelta(days=200),
            reevaluation_due=today + dt.timedelta(days=530),
            contact="Quality: qa@example.com",
        )
    if not materials_selectors.active_links(material).filter(supplier=supplier).exists():
        materials.approve_supplier_for_material(
            actor=users["qa"], material_id=material.pk, supplier_id=supplier.pk
        )
    lot = materials_selectors.lots_of(material, supplier_lot=SERUM_LOT).first()
    if lot is None:
        lot = materials.receive_lot(
            actor=users["operator"],
            site_id=site.pk,
            material_id=material.pk,
            supplier_id=supplier.pk,
            supplier_lot=SERUM_LOT,
            quantity="500",
            expiry_date=today + dt.timedelta(days=330),
            location="Freezer FZ-02 (-20 °C)",
            inspection=INSPECTED,
            coa_file=SimpleUploadedFile(f"CoA-{SERUM_LOT}.pdf", COA_PDF),
        )
    if lot.status == LotStatus.QUARANTINE:
        materials.release_lot(
            actor=users["qc"],
            lot_id=lot.pk,
            password=DEMO_PASSWORD,
            reason="CoA reviewed against specification",
        )


def _released(part: str, quantity: Decimal) -> Lot | None:
    """The released lot of `part` that expires first and holds `quantity` (first expiry, first
    out)."""
    return next((lot for lot in materials_selectors.fefo(part) if lot.on_hand >= quantity), None)


# --- the patients, through the chain services -----------------------------------------------


def _capacity(supervisor: User, mfg: Site) -> None:
    """Two more collections today than the chain demo booked."""
    today = in_zone(now(), mfg.time_zone).date()
    (day,) = chain_selectors.calendar(mfg, today, 1)
    if day.free > 0:
        return
    chain.set_capacity(
        actor=supervisor,
        site_id=mfg.pk,
        start=today,
        end=today,
        capacity=day.booked + 2,
        reason="Demo: today's collections, two more for manufacturing",
    )


def _received(
    spec: DemoPatient,
    users: dict[str, User],
    product: TherapyProduct,
    *,
    clinic: Site,
    aph: Site,
    mfg: Site,
    end: dt.datetime,
) -> TherapyOrder:
    """Enrolled, ordered, collected (ending at `end`), handed to the courier and received."""
    today = in_zone(now(), mfg.time_zone).date()
    patient = {
        "site_patient_id": spec.site_patient_id,
        "given_name": spec.given_name,
        "family_name": spec.family_name,
        "date_of_birth": spec.born,
        "weight_kg": spec.weight_kg,
        "diagnosis": spec.diagnosis,
    }
    order = chain_demo.order_in_transit(
        patient,
        product=product,
        clinic_user=users["clinic"],
        collector=users["apheresis"],
        clinic=clinic,
        aph=aph,
        mfg=mfg,
        day=today,
        ended=end,
    )
    din = order.collection.din
    chain.receive_collection(
        actor=users["operator"],
        order_id=order.pk,
        scans=[f"={din}00", f"&/{order.coi}", f"=#00{order.patient.date_of_birth:%Y%m%d}"],
        arrival_temperature_c="5.2",
        logger_serial="TL-20977",
        logger_min_c="3.8",
        logger_max_c="6.4",
        logger_summary="No alarms",
        occurred_at=end + dt.timedelta(hours=2, minutes=10),
    )
    order.refresh_from_db()
    return order


# --- the batches ----------------------------------------------------------------------------


def _started_batch(order: TherapyOrder, users: dict[str, User]) -> Batch:
    """LUH-1007: started now; the receipt operation done and verified."""
    b = services.start_batch(actor=users["operator"], order_id=order.pk)
    definition = b.master_record.definition
    first = mbr.steps(definition)[0]["operation"]
    for step in mbr.steps(definition):
        if step["operation"] != first:
            break
        _record(b, step["key"], users)
    return b


def _can_back_date(operator: User, mr: MasterRecord, stated: dict[str, dt.datetime]) -> bool:
    """Was the operator qualified, when each stated step was done, for what it requires? Not
    when the lower demos' reads and grants were made after those times (a fresh demo)."""
    definition = mr.definition
    return all(
        is_qualified(operator, mbr.step(definition, key).get("requires") or [], at).ok
        for key, at in stated.items()
    )


def _completed_batch(order: TherapyOrder, users: dict[str, User]) -> Batch:
    """LUH-1008: every step, with its exceptions, then completed (awaiting QA review)."""
    operator = users["operator"]
    started = now() - dt.timedelta(hours=START_HOURS_AGO)
    mr = services.effective_master_record(order.product)
    assert mr is not None
    stated = {key: started + dt.timedelta(minutes=m) for key, m in STATED.items()}
    late = _can_back_date(operator, mr, stated)
    b = services.start_batch(
        actor=operator, order_id=order.pk, started_at=started if late else None
    )
    for step in mbr.steps(b.master_record.definition):
        key = step["key"]
        if not late and step["kind"] == "timer" and step.get("min_minutes"):
            return b  # cannot wait: in progress at the activation timer (see the docstring)
        _record(b, key, users, at=stated.get(key) if late else None)
        if key == CORRECTION[0]:
            entry = services.current_entries(b)[key]
            services.correct_entry(
                actor=operator, entry_id=entry.pk, value=CORRECTION[1], reason=CORRECTION[2]
            )
    return services.complete_batch(actor=operator, batch_id=b.pk)


def _record(b: Batch, key: str, users: dict[str, User], at: dt.datetime | None = None) -> StepEntry:
    """Record one step as Olivia Ortiz, with the verifier's signature where the MBR asks."""
    step = mbr.step(b.master_record.definition, key)
    given = dict(VALUES.get(key, {}))
    kwargs: dict[str, Any] = {}
    if "value" in given:
        kwargs["value"] = given["value"]
    if given.get("comment"):
        kwargs["comment"] = given["comment"]
    if "unit" in given:
        kwargs["scan"] = given["unit"]
    if "part" in given:
        quantity = Decimal(str(step.get("quantity") or 0))
        if step.get("quantity_from"):
            source = services.current_entries(b)[step["quantity_from"]]
            quantity = Decimal(source.value_number or 0)
        lot = _released(given["part"], quantity)
        assert lot is not None, f"no released lot of {given['part']} for {key}"
        kwargs["scan"] = lot.lot_number
    if step["kind"] == "coi_check":
        assert b.order is not None
        kwargs["scan"] = f"&/{b.order.coi}"
    elif step["kind"] == "signoff":
        kwargs["password"] = DEMO_PASSWORD
    elif step["kind"] == "attachment":
        pdf = minimal_pdf(
            f"CliniMACS Prodigy run report {b.number}",
            ("Program TCT, 12 days", "Run completed without alarms"),
        )
        kwargs["file"] = SimpleUploadedFile(f"prodigy-{b.number}.pdf", io.BytesIO(pdf).read())
    entry = services.record_step(
        actor=users["operator"], batch_id=b.pk, step_key=key, performed_at=at, **kwargs
    )
    if entry.status == "awaiting_verification":
        entry = services.verify_entry(
            actor=users["verifier"], entry_id=entry.pk, password=DEMO_PASSWORD
        )
    return entry
