"""Materials tables: suppliers, the material master, lots in quarantine/release, the inventory
ledger and kits. Quantities change only through the ledger (InventoryTransaction), in the same
transaction as the lot's locked `on_hand` column; nothing here is ever deleted."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.db.models import Q

from vein2vein.core.models import Site
from vein2vein.core.signing import signable

from .choices import (
    INSPECTION_ITEMS,
    LotStatus,
    MaterialKind,
    StorageCondition,
    SupplierStatus,
    TransactionKind,
)
from .permissions import NON_QC_RELEASE_ROLES

QTY = {"max_digits": 16, "decimal_places": 3}


class Supplier(models.Model):
    """An entry of the approved supplier list. Status changes are audited with a reason."""

    name = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=20, choices=SupplierStatus.choices)
    qualification_date = models.DateField(null=True, blank=True)
    reevaluation_due = models.DateField(null=True, blank=True)
    contact = models.TextField(blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    RECORD_FIELDS = ("name", "status", "qualification_date", "reevaluation_due", "contact")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=SupplierStatus.values), name="supplier_status_valid"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def reevaluation_overdue(self, today: dt.date) -> bool:
        return self.reevaluation_due is not None and self.reevaluation_due < today


class Material(models.Model):
    """A part of the material master (what a batch record asks for by part number)."""

    part_number = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=MaterialKind.choices)
    unit = models.CharField(max_length=20, help_text="Unit of measure, e.g. mL, vial, each")
    storage_condition = models.CharField(max_length=20, choices=StorageCondition.choices)
    qc_release_required = models.BooleanField(default=True)
    reorder_level = models.DecimalField(**QTY, default=Decimal("0"))
    description = models.TextField(blank=True)
    suppliers = models.ManyToManyField(
        Supplier, through="MaterialSupplier", related_name="materials"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    RECORD_FIELDS = (
        "part_number",
        "name",
        "kind",
        "unit",
        "storage_condition",
        "qc_release_required",
        "reorder_level",
        "description",
    )

    class Meta:
        ordering = ["part_number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=MaterialKind.values), name="material_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(storage_condition__in=StorageCondition.values),
                name="material_storage_valid",
            ),
            models.CheckConstraint(
                condition=Q(reorder_level__gte=0), name="material_reorder_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.part_number} {self.name}"


class MaterialSupplier(models.Model):
    """A supplier approved for a material. Removed with a reason, never deleted."""

    material = models.ForeignKey(Material, on_delete=models.PROTECT, related_name="supplier_links")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="material_links")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField()
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    removed_at = models.DateTimeField(null=True, blank=True)
    remove_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["material__part_number", "supplier__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["material", "supplier"],
                condition=Q(removed_at__isnull=True),
                name="one_active_material_supplier",
            )
        ]

    def __str__(self) -> str:
        return f"{self.supplier} for {self.material.part_number}"


@signable(
    meanings=("released", "rejected"),
    site=lambda lot: lot.site,
    performer=lambda lot: lot.received_by,
)
class Lot(models.Model):
    """A received lot. It starts in quarantine; its release or rejection is an e-signature."""

    lot_number = models.CharField(max_length=20, unique=True, help_text="Internal lot id")
    material = models.ForeignKey(Material, on_delete=models.PROTECT, related_name="lots")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="lots")
    supplier_lot = models.CharField(max_length=80)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    location = models.CharField(max_length=200, help_text="Where at the site, e.g. Fridge F-02")
    quantity_received = models.DecimalField(**QTY)
    on_hand = models.DecimalField(**QTY, help_text="Kept with the ledger, in one transaction")
    unit = models.CharField(max_length=20)
    expiry_date = models.DateField()
    status = models.CharField(max_length=20, choices=LotStatus.choices)
    status_before_hold = models.CharField(max_length=20, choices=LotStatus.choices, blank=True)
    hold_reason = models.TextField(blank=True)
    attributes = models.JSONField(
        default=dict, blank=True, help_text="e.g. {'titer_tu_per_ml': '2.1e8'} for a vector"
    )
    # Receiving inspection.
    packaging_intact = models.BooleanField()
    labels_match = models.BooleanField()
    temperature_ok = models.BooleanField()
    coa_matches = models.BooleanField()
    inspection_remarks = models.TextField(blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField()
    imported = models.BooleanField(default=False, help_text="Migrated by CSV import")
    # The supplier's certificate of analysis, hashed at upload and on every read.
    coa_file = models.FileField(upload_to="materials/coa/%Y/", blank=True, max_length=200)
    coa_file_name = models.CharField(max_length=255, blank=True)
    coa_sha256 = models.CharField(max_length=64, blank=True)
    # Disposition.
    disposition_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    disposition_at = models.DateTimeField(null=True, blank=True)
    disposition_reason = models.TextField(blank=True)

    # Release and rejection are signed through their own steps only, by QC or QA (and a
    # supervisor for materials that need no QC release: release_lot narrows by material).
    SIGNING_ROLES: dict[str, frozenset[str]] = {
        "released": NON_QC_RELEASE_ROLES,
        "rejected": NON_QC_RELEASE_ROLES,
    }
    RECORD_FIELDS = (
        "lot_number",
        "material",
        "supplier",
        "supplier_lot",
        "site",
        "location",
        "quantity_received",
        "unit",
        "expiry_date",
        "status",
        "attributes",
        "packaging_intact",
        "labels_match",
        "temperature_ok",
        "coa_matches",
        "inspection_remarks",
        "coa_sha256",
    )

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [models.Index(fields=["material", "status", "expiry_date"], name="lot_fefo_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=LotStatus.values), name="lot_status_valid"
            ),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="lot_on_hand_nonnegative"),
            models.CheckConstraint(
                condition=Q(quantity_received__gt=0), name="lot_received_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.lot_number

    def signed_content(self) -> dict[str, Any]:
        """What a release or rejection covers: identity, receipt, inspection, CoA and status
        (not the quantity on hand, which consumption changes without touching the decision)."""
        content = {f: getattr(self, self._meta.get_field(f).attname) for f in self.RECORD_FIELDS}
        content["part_number"] = self.material.part_number
        return content

    @property
    def inspection_passed(self) -> bool:
        return all(getattr(self, name) for name, _ in INSPECTION_ITEMS)

    @property
    def failed_inspection_items(self) -> list[str]:
        return [label for name, label in INSPECTION_ITEMS if not getattr(self, name)]

    def expires_at(self) -> dt.datetime:
        """The lot may be used through its expiry date, in its site's zone: it expires at the
        following midnight there."""
        day = self.expiry_date + dt.timedelta(days=1)
        return dt.datetime.combine(day, dt.time.min, ZoneInfo(self.site.time_zone))

    def is_expired(self, at: dt.datetime) -> bool:
        return at >= self.expires_at()

    def local_date(self, at: dt.datetime) -> dt.date:
        return at.astimezone(ZoneInfo(self.site.time_zone)).date()


class Kit(models.Model):
    """A kit assembled from released lots; usable only while every component lot is."""

    kit_number = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    location = models.CharField(max_length=200)
    assembled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assembled_at = models.DateTimeField()
    remarks = models.TextField(blank=True)

    class Meta:
        ordering = ["-assembled_at", "-pk"]

    def __str__(self) -> str:
        return self.kit_number


class KitComponent(models.Model):
    kit = models.ForeignKey(Kit, on_delete=models.PROTECT, related_name="components")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="kit_uses")
    quantity = models.DecimalField(**QTY)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="kit_component_positive"),
            models.UniqueConstraint(fields=["kit", "lot"], name="kit_component_lot_once"),
        ]

    def __str__(self) -> str:
        return f"{self.lot} x {self.quantity}"


class InventoryTransaction(models.Model):
    """One append-only ledger row: receipt, consumption, adjustment or use in a kit. The sum
    of a lot's rows is its on-hand quantity; `balance_after` makes every step checkable."""

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="transactions")
    kind = models.CharField(max_length=20, choices=TransactionKind.choices)
    quantity = models.DecimalField(**QTY, help_text="Signed: + in, - out")
    balance_after = models.DecimalField(**QTY)
    reason = models.TextField(blank=True)
    reference = models.CharField(max_length=200, blank=True, help_text="e.g. B-0001 step 4")
    record_type = models.CharField(max_length=100, blank=True)
    record_id = models.CharField(max_length=64, blank=True)
    kit = models.ForeignKey(Kit, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["occurred_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=TransactionKind.values), name="inventory_kind_valid"
            ),
            models.CheckConstraint(condition=~Q(quantity=0), name="inventory_quantity_nonzero"),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="inventory_balance_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lot} {self.kind} {self.quantity}"
