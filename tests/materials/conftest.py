"""Materials fixtures: one person per role at the test site, a minimal PDF, a ready lot."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.core.helpers import nothing_written
from vein2vein.core.choices import Role
from vein2vein.core.models import NumberSequence, User
from vein2vein.materials.models import (
    InventoryTransaction,
    Kit,
    KitComponent,
    Lot,
    Material,
    MaterialSupplier,
    Supplier,
)

from .factories import MaterialFactory, SupplierFactory, approve

MATERIALS_MODELS = (
    Supplier,
    Material,
    MaterialSupplier,
    Lot,
    InventoryTransaction,
    Kit,
    KitComponent,
    NumberSequence,
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@contextmanager
def unchanged() -> Iterator[None]:
    """Nothing in core or materials changed, and the audit chain still verifies."""
    with nothing_written(*MATERIALS_MODELS):
        yield


def pdf(name: str = "coa.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


@pytest.fixture
def qc(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user(Role.QC_ANALYST, username="qc1", full_name="Quinn Chen")


@pytest.fixture
def supervisor(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user(Role.SUPERVISOR, username="super1", full_name="Sofia Sato")


@pytest.fixture
def logistics(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user(Role.LOGISTICS, username="logi1", full_name="Luis Lopez")


@pytest.fixture
def qa_approver(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user(Role.QA_APPROVER, username="qaa1", full_name="Amara Appiah")


@pytest.fixture
def supplier(db) -> Supplier:  # type: ignore[no-untyped-def]
    return SupplierFactory(name="Miltenyi Biotec")


@pytest.fixture
def material(supplier) -> Material:  # type: ignore[no-untyped-def]
    m = MaterialFactory(part_number="MAT-0001", name="CliniMACS CD4 Reagent", unit="vial")
    approve(m, supplier)
    return m


INSPECTION_OK = {
    "packaging_intact": True,
    "labels_match": True,
    "temperature_ok": True,
    "coa_matches": True,
}
