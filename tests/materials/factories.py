"""Set-up rows for the materials tests, written directly (the code under test uses services)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from tests.core.factories import SiteFactory, UserFactory
from vein2vein.materials.choices import LotStatus, SupplierStatus, TransactionKind
from vein2vein.materials.models import (
    InventoryTransaction,
    Lot,
    Material,
    MaterialSupplier,
    Supplier,
)


class SupplierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Supplier
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Supplier {n}")
    status = SupplierStatus.APPROVED
    qualification_date = dt.date(2025, 1, 15)
    reevaluation_due = dt.date(2027, 1, 15)
    created_at = factory.LazyFunction(timezone.now)


class MaterialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Material
        django_get_or_create = ("part_number",)

    part_number = factory.Sequence(lambda n: f"MAT-{n + 100:04d}")
    name = factory.LazyAttribute(lambda o: f"Reagent {o.part_number}")
    kind = "reagent"
    unit = "mL"
    storage_condition = "2_8c"
    qc_release_required = True
    reorder_level = Decimal("0")
    created_at = factory.LazyFunction(timezone.now)


def approve(material: Material, supplier: Supplier) -> MaterialSupplier:
    return MaterialSupplier.objects.create(
        material=material,
        supplier=supplier,
        added_by=UserFactory(username="master-data"),
        added_at=timezone.now(),
    )


class LotFactory(factory.django.DjangoModelFactory):
    """A lot as receive_lot leaves it (with its receipt ledger row); released by default."""

    class Meta:
        model = Lot
        skip_postgeneration_save = True

    lot_number = factory.Sequence(lambda n: f"LOT-TEST-{n:04d}")
    material = factory.SubFactory(MaterialFactory)
    supplier = factory.SubFactory(SupplierFactory)
    supplier_lot = factory.Sequence(lambda n: f"S{n:05d}")
    site = factory.SubFactory(SiteFactory, code="MFG-TEST")
    location = "Fridge F-01"
    quantity_received = Decimal("100")
    on_hand = factory.LazyAttribute(lambda o: o.quantity_received)
    unit = "mL"
    expiry_date = factory.LazyFunction(lambda: dt.date.today() + dt.timedelta(days=180))
    status = LotStatus.RELEASED
    packaging_intact = True
    labels_match = True
    temperature_ok = True
    coa_matches = True
    received_by = factory.SubFactory(UserFactory, username="receiver")
    received_at = factory.LazyFunction(timezone.now)
    coa_sha256 = "0" * 64

    @factory.post_generation
    def ledger(obj, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        if create:
            InventoryTransaction.objects.create(
                lot=obj,
                kind=TransactionKind.RECEIPT,
                quantity=obj.quantity_received,
                balance_after=obj.quantity_received,
                actor=obj.received_by,
                occurred_at=obj.received_at,
            )
            if obj.on_hand != obj.quantity_received:
                InventoryTransaction.objects.create(
                    lot=obj,
                    kind=TransactionKind.CONSUMPTION,
                    quantity=obj.on_hand - obj.quantity_received,
                    balance_after=obj.on_hand,
                    actor=obj.received_by,
                    occurred_at=obj.received_at,
                )
