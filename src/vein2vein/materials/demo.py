"""Demo materials: the bill of materials of an autologous anti-CD19 CAR-T process, its
suppliers and lots, made through the materials services (real audit trail and signatures)
after the quality demo. Idempotent: a second run finds everything and writes nothing.

- Lots are received by `logistics` (or `operator`) and released by `qc` (Quinn Chen).
- Most lots are released; a second vector lot and a medium lot wait in quarantine.
- CryoStor CS10 lot 23K0417 arrived already past its expiry: it stays in quarantine, expired.
- Human AB serum comes from a supplier under re-evaluation (conditional): its lot cannot be
  released until QA approves the supplier again.
- An activation kit (TransAct, IL-7, IL-15) is assembled from released lots.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile

from vein2vein.core.demo import DEMO_PASSWORD, demo_user_if_loaded
from vein2vein.core.models import Site, User
from vein2vein.core.time import now

from . import services
from .choices import LotStatus, MaterialKind, StorageCondition, SupplierStatus
from .models import Kit, Lot, Material, Supplier

SITE = "MFG-PHL"
INSPECTED = {
    "packaging_intact": True,
    "labels_match": True,
    "temperature_ok": True,
    "coa_matches": True,
}


@dataclass(frozen=True)
class DemoSupplier:
    name: str
    status: SupplierStatus
    qualified_days_ago: int
    reevaluation_in_days: int
    contact: str


@dataclass(frozen=True)
class DemoMaterial:
    part_number: str
    name: str
    kind: MaterialKind
    unit: str
    storage: StorageCondition
    suppliers: tuple[str, ...]
    reorder_level: str
    qc_release: bool = True


@dataclass(frozen=True)
class DemoLot:
    part_number: str
    supplier: str
    supplier_lot: str
    quantity: str
    expires_in_days: int
    location: str
    release: bool = True
    received_by: str = "logistics"
    titer: str = ""


SUPPLIERS = (
    DemoSupplier(
        "Miltenyi Biotec", SupplierStatus.APPROVED, 400, 330, "QA: supplier.qa@example.com"
    ),
    DemoSupplier(
        "Oxford Biomedica", SupplierStatus.APPROVED, 250, 480, "Vector QA: qa-vector@example.com"
    ),
    DemoSupplier("BioLife Solutions", SupplierStatus.APPROVED, 500, 230, "quality@example.com"),
    DemoSupplier("Charter Medical", SupplierStatus.APPROVED, 300, 430, "cs@example.com"),
    DemoSupplier(
        "Access Biologicals",
        SupplierStatus.CONDITIONAL,
        700,
        -20,
        "Re-evaluation overdue: audit CAR-2025-14 open on donor screening records",
    ),
)

MATERIALS = (
    DemoMaterial(
        "MAT-0101",
        "CliniMACS CD4 Reagent (Miltenyi Biotec)",
        MaterialKind.REAGENT,
        "vial",
        StorageCondition.REFRIGERATED,
        ("Miltenyi Biotec",),
        "2",
    ),
    DemoMaterial(
        "MAT-0102",
        "CliniMACS CD8 Reagent (Miltenyi Biotec)",
        MaterialKind.REAGENT,
        "vial",
        StorageCondition.REFRIGERATED,
        ("Miltenyi Biotec",),
        "2",
    ),
    DemoMaterial(
        "MAT-0103",
        "MACS GMP T Cell TransAct (CD3/CD28)",
        MaterialKind.REAGENT,
        "vial",
        StorageCondition.REFRIGERATED,
        ("Miltenyi Biotec",),
        "3",
    ),
    DemoMaterial(
        "MAT-0104",
        "MACS GMP Recombinant Human IL-7",
        MaterialKind.CYTOKINE,
        "vial",
        StorageCondition.FROZEN,
        ("Miltenyi Biotec",),
        "4",
    ),
    DemoMaterial(
        "MAT-0105",
        "MACS GMP Recombinant Human IL-15",
        MaterialKind.CYTOKINE,
        "vial",
        StorageCondition.FROZEN,
        ("Miltenyi Biotec",),
        "4",
    ),
    DemoMaterial(
        "MAT-0106",
        "Anti-CD19 CAR lentiviral vector (LV-CD19-BBz)",
        MaterialKind.VIRAL_VECTOR,
        "mL",
        StorageCondition.ULTRA_LOW,
        ("Oxford Biomedica",),
        "5",
    ),
    DemoMaterial(
        "MAT-0107",
        "TexMACS GMP Medium, 1 L bag",
        MaterialKind.MEDIUM,
        "bag",
        StorageCondition.REFRIGERATED,
        ("Miltenyi Biotec",),
        "6",
    ),
    DemoMaterial(
        "MAT-0108",
        "Human AB serum, heat-inactivated",
        MaterialKind.MEDIUM,
        "mL",
        StorageCondition.FROZEN,
        ("Access Biologicals",),
        "500",
    ),
    DemoMaterial(
        "MAT-0109",
        "CryoStor CS10 (10% DMSO)",
        MaterialKind.CRYOPROTECTANT,
        "mL",
        StorageCondition.REFRIGERATED,
        ("BioLife Solutions",),
        "200",
    ),
    DemoMaterial(
        "MAT-0110",
        "CliniMACS Prodigy TS 520 tubing set",
        MaterialKind.DISPOSABLE,
        "each",
        StorageCondition.ROOM,
        ("Miltenyi Biotec",),
        "3",
        qc_release=False,
    ),
    DemoMaterial(
        "MAT-0111",
        "CryoMACS Freezing Bag 250",
        MaterialKind.BAG,
        "each",
        StorageCondition.ROOM,
        ("Miltenyi Biotec",),
        "10",
        qc_release=False,
    ),
    DemoMaterial(
        "MAT-0112",
        "Infusion transfer bag 300 mL",
        MaterialKind.BAG,
        "each",
        StorageCondition.ROOM,
        ("Charter Medical",),
        "10",
        qc_release=False,
    ),
)

LOTS = (
    DemoLot("MAT-0101", "Miltenyi Biotec", "6230914", "6", 210, "Fridge F-01, shelf 2"),
    DemoLot("MAT-0101", "Miltenyi Biotec", "6231127", "4", 95, "Fridge F-01, shelf 2"),
    DemoLot("MAT-0102", "Miltenyi Biotec", "6230988", "5", 200, "Fridge F-01, shelf 2"),
    DemoLot("MAT-0103", "Miltenyi Biotec", "5240312", "8", 150, "Fridge F-01, shelf 3"),
    DemoLot("MAT-0104", "Miltenyi Biotec", "5240177", "10", 400, "Freezer FZ-01 (-20 °C)"),
    DemoLot("MAT-0105", "Miltenyi Biotec", "5240190", "10", 380, "Freezer FZ-01 (-20 °C)"),
    DemoLot(
        "MAT-0106",
        "Oxford Biomedica",
        "LV19-24-007",
        "20",
        540,
        "ULT freezer ULT-02, rack B",
        titer="2.4e8",
    ),
    DemoLot(
        "MAT-0106",
        "Oxford Biomedica",
        "LV19-24-011",
        "20",
        600,
        "ULT freezer ULT-02, rack B",
        release=False,
        titer="1.9e8",
    ),
    DemoLot("MAT-0107", "Miltenyi Biotec", "7241105", "12", 120, "Cold room CR-1"),
    DemoLot(
        "MAT-0107",
        "Miltenyi Biotec",
        "7241210",
        "12",
        160,
        "Cold room CR-1, quarantine cage",
        release=False,
        received_by="operator",
    ),
    DemoLot(
        "MAT-0108",
        "Access Biologicals",
        "AB-24-3317",
        "1000",
        300,
        "Freezer FZ-02 (-20 °C)",
        release=False,
    ),
    DemoLot("MAT-0109", "BioLife Solutions", "24H0912", "500", 420, "Fridge F-03"),
    DemoLot(
        "MAT-0109",
        "BioLife Solutions",
        "23K0417",
        "250",
        -12,
        "Fridge F-03, quarantine shelf",
        release=False,
    ),
    DemoLot("MAT-0110", "Miltenyi Biotec", "TS520-24-5521", "6", 700, "Warehouse W-1, bay 4"),
    DemoLot("MAT-0111", "Miltenyi Biotec", "FB250-24-118", "40", 900, "Warehouse W-1, bay 5"),
    DemoLot(
        "MAT-0112",
        "Charter Medical",
        "TB300-24-0442",
        "30",
        800,
        "Warehouse W-1, bay 5",
        received_by="operator",
    ),
)

KIT_NAME = "Activation kit: TransAct, IL-7, IL-15 (one patient run)"
PDF = b"%PDF-1.4\n% vein2vein demo certificate of analysis\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _ensure_suppliers(actor: User) -> None:
    today = now().date()
    for spec in SUPPLIERS:
        if Supplier.objects.filter(name=spec.name).exists():
            continue
        services.create_supplier(
            actor=actor,
            name=spec.name,
            status=spec.status,
            qualification_date=today - dt.timedelta(days=spec.qualified_days_ago),
            reevaluation_due=today + dt.timedelta(days=spec.reevaluation_in_days),
            contact=spec.contact,
        )


def _ensure_materials(actor: User) -> None:
    for spec in MATERIALS:
        material = Material.objects.filter(part_number=spec.part_number).first()
        if material is None:
            material = services.create_material(
                actor=actor,
                part_number=spec.part_number,
                name=spec.name,
                kind=spec.kind,
                unit=spec.unit,
                storage_condition=spec.storage,
                qc_release_required=spec.qc_release,
                reorder_level=spec.reorder_level,
            )
        for name in spec.suppliers:
            supplier = Supplier.objects.get(name=name)
            if not material.supplier_links.filter(
                supplier=supplier, removed_at__isnull=True
            ).exists():
                services.approve_supplier_for_material(
                    actor=actor, material_id=material.pk, supplier_id=supplier.pk
                )


def _ensure_lots(site: Site, qc: User) -> None:
    today = now().date()
    for spec in LOTS:
        material = Material.objects.get(part_number=spec.part_number)
        if Lot.objects.filter(material=material, supplier_lot=spec.supplier_lot).exists():
            continue
        receiver = demo_user_if_loaded(spec.received_by)
        if receiver is None:
            continue
        lot = services.receive_lot(
            actor=receiver,
            site_id=site.pk,
            material_id=material.pk,
            supplier_id=Supplier.objects.get(name=spec.supplier).pk,
            supplier_lot=spec.supplier_lot,
            quantity=spec.quantity,
            expiry_date=today + dt.timedelta(days=spec.expires_in_days),
            location=spec.location,
            inspection=INSPECTED,
            coa_file=SimpleUploadedFile(f"CoA-{spec.supplier_lot}.pdf", PDF),
            attributes={"titer_tu_per_ml": spec.titer} if spec.titer else None,
            remarks="Data logger trace reviewed: in range." if spec.titer else "",
        )
        if spec.release:
            services.release_lot(
                actor=qc,
                lot_id=lot.pk,
                password=DEMO_PASSWORD,
                reason="CoA reviewed against specification",
            )


def _ensure_kit(site: Site) -> None:
    operator = demo_user_if_loaded("operator")
    if operator is None or Kit.objects.filter(name=KIT_NAME).exists():
        return
    lots = [
        Lot.objects.filter(material__part_number=pn, status=LotStatus.RELEASED)
        .order_by("expiry_date")
        .first()
        for pn in ("MAT-0103", "MAT-0104", "MAT-0105")
    ]
    if any(lot is None for lot in lots):
        return
    services.assemble_kit(
        actor=operator,
        site_id=site.pk,
        name=KIT_NAME,
        location="Kit cart K-1, cleanroom suite 1 airlock",
        components=[{"lot_id": lot.pk, "quantity": "1"} for lot in lots if lot is not None],
    )


def load_demo() -> None:
    site = Site.objects.filter(code=SITE).first()
    qa = demo_user_if_loaded("qa")
    qc = demo_user_if_loaded("qc")
    if site is None or qa is None or qc is None:
        return
    _ensure_suppliers(qa)
    _ensure_materials(qa)
    _ensure_lots(site, qc)
    _ensure_kit(site)
