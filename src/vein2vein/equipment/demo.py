"""Demo equipment: one cleanroom suite at MFG-PHL, made through the services (real audit trail
and signatures). Idempotent: each run finishes whatever an earlier run left half done.

Every unit is qualified (IQ/OQ/PQ against three controlled protocols, FRM-0101..0103, approved
by Amara Appiah), calibrated by the QC analyst and in service. CEN-02's calibration was done
181 days ago on a 180-day interval, so it lapsed yesterday: scanning it is refused (journey 4).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.core.files import File

from vein2vein.core.demo import DEMO_PASSWORD, demo_user
from vein2vein.core.models import Site
from vein2vein.core.time import now
from vein2vein.documents import selectors as documents
from vein2vein.documents import services as document_services
from vein2vein.documents.choices import VersionStatus
from vein2vein.documents.pdf import minimal_pdf

from . import services
from .choices import EquipmentStatus, QualificationStatus, Result
from .models import Equipment

if TYPE_CHECKING:
    from vein2vein.documents.models import Document

SITE = "MFG-PHL"
SUITE = "Suite A / Grade B cleanroom"

PROTOCOLS = {
    "IQ": ("FRM-0101", "Equipment installation qualification (IQ) protocol and report"),
    "OQ": ("FRM-0102", "Equipment operational qualification (OQ) protocol and report"),
    "PQ": ("FRM-0103", "Equipment performance qualification (PQ) protocol and report"),
}


@dataclass(frozen=True)
class Plan:
    kind: str
    title: str
    interval_days: int
    done_days_ago: int


@dataclass(frozen=True)
class Unit:
    tag: str
    name: str
    kind: str
    manufacturer: str
    model: str
    serial: str
    location: str
    plans: tuple[Plan, ...]


def _days_ago_at_site(site: Site, days: int) -> dt.datetime:
    """09:00 on the site's own calendar `days` days ago. Due dates are the site's days, so
    "now - 181 days" in UTC would land a day off in the hour a zone's offset change shifts."""
    zone = ZoneInfo(site.time_zone)
    day = now().astimezone(zone).date() - dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(9), tzinfo=zone)


def _cal(title: str, days: int = 365, ago: int = 60) -> Plan:
    return Plan("calibration", title, days, ago)


def _pm(title: str, days: int = 180, ago: int = 30) -> Plan:
    return Plan("maintenance", title, days, ago)


UNITS = (
    Unit(
        "BSC-01",
        "Class II biosafety cabinet (left)",
        "biosafety_cabinet",
        "Thermo Fisher",
        "Herasafe 2030i",
        "HS2030-41877",
        SUITE,
        (
            _cal("Airflow velocity and HEPA integrity", 180, 45),
            _pm("UV lamp and filter check", 90, 20),
        ),
    ),
    Unit(
        "BSC-02",
        "Class II biosafety cabinet (right)",
        "biosafety_cabinet",
        "Thermo Fisher",
        "Herasafe 2030i",
        "HS2030-41902",
        SUITE,
        (
            _cal("Airflow velocity and HEPA integrity", 180, 50),
            _pm("UV lamp and filter check", 90, 25),
        ),
    ),
    Unit(
        "INC-01",
        "CO2 incubator 1",
        "incubator",
        "Thermo Fisher",
        "Heracell VIOS 160i",
        "VIOS-220391",
        SUITE,
        (_cal("Temperature and CO2 mapping", 365, 90), _pm("Decontamination cycle", 90, 30)),
    ),
    Unit(
        "INC-02",
        "CO2 incubator 2",
        "incubator",
        "Thermo Fisher",
        "Heracell VIOS 160i",
        "VIOS-220415",
        SUITE,
        (_cal("Temperature and CO2 mapping", 365, 100), _pm("Decontamination cycle", 90, 35)),
    ),
    Unit(
        "CEN-01",
        "Benchtop centrifuge",
        "centrifuge",
        "Thermo Fisher",
        "Sorvall X4R Pro",
        "X4R-77120",
        SUITE,
        (_cal("Speed and temperature", 180, 30),),
    ),
    Unit(
        "CEN-02",
        "Benchtop centrifuge (backup)",
        "centrifuge",
        "Thermo Fisher",
        "Sorvall X4R Pro",
        "X4R-77164",
        SUITE,
        (_cal("Speed and temperature", 180, 181),),
    ),
    Unit(
        "CSP-01",
        "CliniMACS Prodigy",
        "closed_system",
        "Miltenyi Biotec",
        "CliniMACS Prodigy",
        "PRO-1047",
        SUITE,
        (
            _cal("Centrifuge, pumps and temperature", 365, 120),
            _pm("Preventive maintenance visit", 365, 120),
        ),
    ),
    Unit(
        "CNT-01",
        "NucleoCounter NC-200",
        "cell_counter",
        "ChemoMetec",
        "NC-200",
        "NC200-3321",
        "QC lab",
        (_cal("Counting verification with reference beads", 180, 40),),
    ),
    Unit(
        "FCM-01",
        "Flow cytometer",
        "flow_cytometer",
        "BD Biosciences",
        "FACSLyric",
        "FL-90211",
        "QC lab",
        (_cal("Daily CS&T / performance verification", 30, 5),),
    ),
    Unit(
        "CRF-01",
        "Controlled-rate freezer",
        "controlled_rate_freezer",
        "Thermo Fisher",
        "CryoMed 7456",
        "CM-54410",
        SUITE,
        (_cal("Chamber temperature probes", 365, 70),),
    ),
    Unit(
        "LN2-01",
        "LN2 vapour-phase freezer",
        "ln2_freezer",
        "Chart MVE",
        "HEco 1500",
        "MVE-18873",
        "Cryostorage room",
        (_cal("Temperature probes and alarm", 365, 80),),
    ),
    Unit(
        "SEAL-01",
        "Tube sealer",
        "tube_sealer",
        "Terumo BCT",
        "TSCD-II",
        "TSCD-60042",
        SUITE,
        (_pm("Electrode inspection", 180, 60),),
    ),
)


def _protocol(number: str, title: str) -> Document:
    """A controlled form in effect, through the documents services."""
    author, qa, approver = demo_user("supervisor"), demo_user("qa"), demo_user("qa_approver")
    document = documents.get_document(number)
    if document is None:
        document = document_services.create_document(
            actor=author, kind="form", title=title, owner=author, number=number
        )
    if documents.effective_version(document) is not None:
        return document
    version = document.versions.filter(status__in=documents.IN_FLIGHT).first()
    if version is None:
        pdf = minimal_pdf(
            f"{number} {title}", ("Version 1", "", "Tests, acceptance criteria, results.")
        )
        version = document_services.create_version(
            actor=author,
            document=document,
            change_summary="Initial issue",
            file=File(io.BytesIO(pdf), name=f"{number}_v1.pdf"),
        )
    if version.status == VersionStatus.DRAFT:
        document_services.submit_for_review(actor=author, version_id=version.pk)
        version.refresh_from_db()
    if version.status == VersionStatus.IN_REVIEW and not documents.current_reviews(version):
        document_services.review_version(actor=qa, version_id=version.pk, password=DEMO_PASSWORD)
    if version.status == VersionStatus.IN_REVIEW:
        document_services.approve_version(
            actor=approver, version_id=version.pk, password=DEMO_PASSWORD
        )
        version.refresh_from_db()
    if version.status == VersionStatus.APPROVED:
        document_services.make_effective(actor=approver, version_id=version.pk)
    return document


def _unit(spec: Unit, site: Site, protocols: dict[str, Document]) -> None:
    supervisor, qc, approver = demo_user("supervisor"), demo_user("qc"), demo_user("qa_approver")
    unit = Equipment.objects.filter(equipment_id=spec.tag).first()
    if unit is None:
        unit = services.register_equipment(
            actor=supervisor,
            equipment_id=spec.tag,
            name=spec.name,
            kind=spec.kind,
            site_id=site.pk,
            location=spec.location,
            manufacturer=spec.manufacturer,
            model=spec.model,
            serial_number=spec.serial,
        )
    performed = (now() - dt.timedelta(days=400)).date()
    for stage, document in protocols.items():
        records = unit.qualifications.filter(stage=stage, result=Result.PASS)
        if records.filter(status=QualificationStatus.APPROVED).exists():
            continue
        record = records.first() or services.record_qualification(
            actor=supervisor,
            equipment_id=spec.tag,
            stage=stage,
            document=document,
            result=Result.PASS,
            performed_on=performed,
            remarks=f"{stage} executed per {document.number}; all acceptance criteria met.",
        )
        services.approve_qualification(
            actor=approver, record_id=record.pk, password=DEMO_PASSWORD, reason="Protocol complete"
        )
    for p in spec.plans:
        plan = unit.plans.filter(kind=p.kind, title=p.title).first() or services.add_plan(
            actor=supervisor,
            equipment_id=spec.tag,
            kind=p.kind,
            title=p.title,
            interval_days=p.interval_days,
        )
        if not plan.records.exists():
            certificate = None
            if p.kind == "calibration":
                pdf = minimal_pdf(f"Calibration certificate {spec.tag}", (p.title, "Result: pass"))
                certificate = File(io.BytesIO(pdf), name=f"{spec.tag}-calibration.pdf")
            services.record_service(
                actor=qc,
                plan_id=plan.pk,
                performed_at=_days_ago_at_site(unit.site, p.done_days_ago),
                result=Result.PASS,
                password=DEMO_PASSWORD,
                certificate=certificate,
                remarks="Within tolerance.",
            )
    unit.refresh_from_db()
    if unit.status == EquipmentStatus.IN_QUALIFICATION:
        services.change_status(
            actor=supervisor,
            equipment_id=spec.tag,
            status=EquipmentStatus.IN_SERVICE,
            reason="IQ, OQ and PQ approved; released for GMP use",
        )


def load_demo() -> None:
    site = Site.objects.get(code=SITE)
    protocols = {stage: _protocol(*spec) for stage, spec in PROTOCOLS.items()}
    for spec in UNITS:
        _unit(spec, site, protocols)
