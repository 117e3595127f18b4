"""Every area of the platform, in the order of the work; areas not built yet say so."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Area:
    slug: str
    title: str
    summary: str
    url_name: str | None = None  # None: not built yet

    @property
    def built(self) -> bool:
        return self.url_name is not None


AREAS: tuple[Area, ...] = (
    Area("dashboard", "Dashboard", "Your work today", "web:dashboard"),
    Area(
        "chain", "Chain of identity", "Patients, orders, collections, custody", "chain:order_list"
    ),
    Area(
        "manufacturing",
        "Batch records",
        "Master batch records and step execution",
        "manufacturing:batch_list",
    ),
    Area("materials", "Materials", "Lots, quarantine and release, inventory", "materials:lot_list"),
    Area("equipment", "Equipment", "Calibration, maintenance, usage", "equipment:equipment_list"),
    Area("qc", "QC testing", "Samples, results, instrument imports", "qc:worklist"),
    Area("release", "Release", "Readiness, disposition, certificates", "release:awaiting"),
    Area("storage", "Cryostorage", "Freezers, positions, thaw"),
    Area("monitoring", "Monitoring", "Sensors, alarms, excursions"),
    Area("labeling", "Labeling", "ISBT 128 labels, printing, verification"),
    Area("logistics", "Logistics", "Shipments, receipt, infusion"),
    Area("quality", "Quality", "Deviations, CAPA, change control", "quality:deviation_list"),
    Area("documents", "Documents", "SOPs, forms, master records", "documents:document_list"),
    Area("training", "Training", "Curricula, records, qualifications", "training:my_training"),
    Area("metrics", "Metrics", "KPIs and trends"),
    Area("audit", "Audit trail", "Every change, who, when, why", "core:audit"),
    Area("sites", "Sites", "Facilities and their time zones", "core:site_list"),
    Area("users", "Users", "People and their roles", "core:user_list"),
)

AREAS_BY_SLUG = {a.slug: a for a in AREAS}
