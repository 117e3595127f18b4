"""Set-up for equipment tests. Units, qualifications, plans, records and usages are made
through the services (a real audit trail); the controlled document an IQ/OQ/PQ points at is
written directly (its lifecycle is the documents app's, tested there)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.conftest import PASSWORD
from tests.core.factories import UserFactory
from vein2vein.core.models import Site, User
from vein2vein.core.time import now
from vein2vein.documents.choices import VersionStatus
from vein2vein.documents.models import Document, DocumentVersion
from vein2vein.documents.pdf import minimal_pdf
from vein2vein.equipment import services
from vein2vein.equipment.models import (
    Equipment,
    ImpactItem,
    MaintenancePlan,
    QualificationRecord,
    ServiceRecord,
    Usage,
)

EQUIPMENT_MODELS = (
    Equipment,
    QualificationRecord,
    MaintenancePlan,
    ServiceRecord,
    Usage,
    ImpactItem,
)


def effective_document(number: str, title: str) -> Document:
    owner = UserFactory(username="doc-owner")
    doc, _ = Document.objects.get_or_create(
        number=number,
        defaults={"title": title, "kind": "form", "owner": owner, "created_at": timezone.now()},
    )
    if not doc.versions.exists():
        DocumentVersion.objects.create(
            document=doc,
            version=1,
            status=VersionStatus.EFFECTIVE,
            change_summary="First issue",
            file_sha256="0" * 64,
            created_by=owner,
            created_at=timezone.now(),
            approved_at=timezone.now(),
            effective_at=timezone.now() - dt.timedelta(days=1),
        )
    return doc


def certificate(name: str = "cert.pdf", content: bytes | None = None) -> SimpleUploadedFile:
    body = minimal_pdf("Calibration certificate", ("Result: within tolerance",))
    return SimpleUploadedFile(name, body if content is None else content, "application/pdf")


def ago(**delta: float) -> dt.datetime:
    return now() - dt.timedelta(**delta)


def register(
    actor: User, site: Site, tag: str = "CEN-01", kind: str = "centrifuge", **kw: Any
) -> Equipment:
    values: dict[str, Any] = {
        "equipment_id": tag,
        "name": f"Unit {tag}",
        "kind": kind,
        "site_id": site.pk,
        "location": "Suite 1",
        "manufacturer": "Thermo Fisher",
        "model": "Sorvall X4R Pro",
        "serial_number": "SN-0001",
    }
    values.update(kw)
    return services.register_equipment(actor=actor, **values)


def qualify(
    unit: Equipment,
    recorder: User,
    approver: User,
    document: Document,
    stages: tuple[str, ...] = ("IQ", "OQ", "PQ"),
) -> list[QualificationRecord]:
    out = []
    for stage in stages:
        record = services.record_qualification(
            actor=recorder,
            equipment_id=unit.equipment_id,
            stage=stage,
            document=document,
            result="pass",
            performed_on=timezone.localdate() - dt.timedelta(days=60),
        )
        out.append(
            services.approve_qualification(actor=approver, record_id=record.pk, password=PASSWORD)
        )
    return out


def record(
    actor: User,
    plan: MaintenancePlan,
    result: str = "pass",
    at: dt.datetime | None = None,
    **kw: Any,
) -> ServiceRecord:
    values: dict[str, Any] = {
        "plan_id": plan.pk,
        "performed_at": at or now(),
        "result": result,
        "password": PASSWORD,
        "remarks": "" if result == "pass" else "Speed reading 4% off at 4000 rpm",
    }
    if plan.kind == "calibration":
        values["certificate"] = certificate()
    values.update(kw)
    return services.record_service(actor=actor, **values)


def in_service(
    site: Site,
    supervisor: User,
    approver: User,
    document: Document,
    tag: str = "CEN-01",
    *,
    calibrated_at: dt.datetime | None = None,
    interval_days: int = 365,
) -> tuple[Equipment, MaintenancePlan]:
    """A qualified unit in service with one calibration plan, calibrated (default 1 day ago)."""
    unit = register(supervisor, site, tag)
    qualify(unit, supervisor, approver, document)
    plan = services.add_plan(
        actor=supervisor,
        equipment_id=unit.equipment_id,
        kind="calibration",
        title="Speed and temperature",
        interval_days=interval_days,
    )
    record(supervisor, plan, at=calibrated_at or ago(days=1))
    services.change_status(
        actor=supervisor, equipment_id=unit.equipment_id, status="in_service", reason="Qualified"
    )
    unit.refresh_from_db()
    plan.refresh_from_db()
    return unit, plan


def use(
    actor: User, unit: Equipment, batch: str, start: dt.datetime, end: dt.datetime | None = None
) -> Usage:
    usage = services.start_usage(
        actor=actor,
        equipment_id=unit.equipment_id,
        batch_ref=("manufacturing.batch", batch),
        batch_label=batch,
        step="Harvest and wash",
        at=start,
    )
    if end is not None:
        usage = services.end_usage(actor=actor, usage_id=usage.pk, at=end)
    return usage
