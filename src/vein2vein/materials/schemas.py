"""API schemas (pydantic v2 through ninja). Shapes only: rules live in the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ninja import Field, Schema

from vein2vein.core.pagination import Page
from vein2vein.core.schemas import FilterText, UtcDateTime

QTY = {"max_digits": 16, "decimal_places": 3}
MAX_ID = 2**63 - 1


class ManifestationOut(Schema):
    meaning: str
    printed_name: str
    username: str
    signed_at: str
    valid: bool
    reason: str


class SupplierIn(Schema):
    name: str = Field(..., max_length=200, examples=["Miltenyi Biotec"])
    status: str = Field(..., examples=["approved"])
    qualification_date: dt.date | None = None
    reevaluation_due: dt.date | None = None
    contact: str = Field("", max_length=2000)


class SupplierPatch(Schema):
    reason: str = Field(..., max_length=2000)
    contact: str | None = Field(None, max_length=2000)
    qualification_date: dt.date | None = None
    reevaluation_due: dt.date | None = None


class SupplierStatusIn(Schema):
    status: str = Field(..., examples=["disqualified"])
    reason: str = Field(..., max_length=2000)
    qualification_date: dt.date | None = None
    reevaluation_due: dt.date | None = None


class SupplierOut(Schema):
    id: int
    name: str
    status: str
    qualification_date: dt.date | None
    reevaluation_due: dt.date | None
    contact: str


class MaterialIn(Schema):
    part_number: str = Field(..., max_length=40, examples=["MAT-0001"])
    name: str = Field(..., max_length=200)
    kind: str = Field(..., examples=["reagent"])
    unit: str = Field(..., max_length=20, examples=["vial"])
    storage_condition: str = Field(..., examples=["2_8c"])
    qc_release_required: bool = True
    reorder_level: Decimal = Field(Decimal(0), ge=0, **QTY)
    description: str = Field("", max_length=4000)


class MaterialPatch(Schema):
    reason: str = Field(..., max_length=2000)
    name: str | None = Field(None, max_length=200)
    unit: str | None = Field(None, max_length=20)
    storage_condition: str | None = None
    qc_release_required: bool | None = None
    reorder_level: Decimal | None = Field(None, ge=0, **QTY)
    description: str | None = Field(None, max_length=4000)


class MaterialOut(Schema):
    id: int
    part_number: str
    name: str
    kind: str
    unit: str
    storage_condition: str
    qc_release_required: bool
    reorder_level: Decimal
    description: str
    approved_suppliers: list[str]


class SupplierLinkIn(Schema):
    supplier_id: int
    reason: str = Field("", max_length=2000)


class ReasonIn(Schema):
    reason: str = Field(..., max_length=2000)


class MaterialsSignIn(Schema):
    password: str = Field(..., max_length=256)
    reason: str = Field("", max_length=2000)


class ConsumeIn(Schema):
    quantity: Decimal = Field(..., **QTY)
    reference: str = Field(..., max_length=200, examples=["B-0007 step 4 activation"])
    part_number: str | None = Field(None, max_length=40)
    record_type: str | None = Field(None, max_length=100, examples=["manufacturing.step"])
    record_id: str | None = Field(None, max_length=64)


class AdjustIn(Schema):
    quantity: Decimal = Field(..., **QTY, description="Signed: negative takes away")
    reason: str = Field(..., max_length=2000)


class LotFilter(Page):
    status: FilterText | None = Field(None, max_length=20)
    part_number: FilterText | None = Field(None, max_length=40)
    material_id: int | None = Field(None, ge=1, le=MAX_ID)
    site_id: int | None = Field(None, ge=1, le=MAX_ID)
    location: FilterText | None = Field(None, max_length=200)
    expiring_days: int | None = Field(None, ge=0, le=3650)
    usable: bool | None = None
    search: FilterText | None = Field(None, max_length=100)


class TransactionOut(Schema):
    id: int
    kind: str
    quantity: Decimal
    balance_after: Decimal
    reason: str
    reference: str
    record_type: str
    record_id: str
    kit: str | None
    actor: str
    occurred_at: dt.datetime


class LotOut(Schema):
    id: int
    lot_number: str
    part_number: str
    material: str
    supplier: str
    supplier_status: str
    supplier_lot: str
    site: str
    location: str
    quantity_received: Decimal
    on_hand: Decimal
    unit: str
    expiry_date: dt.date
    status: str
    hold_reason: str
    attributes: dict[str, str]
    inspection: dict[str, bool]
    inspection_remarks: str
    received_by: str
    received_at: dt.datetime
    imported: bool
    coa_file_name: str
    coa_sha256: str
    disposition_by: str | None
    disposition_at: dt.datetime | None
    disposition_reason: str
    usable_now: bool
    not_usable_because: list[str]
    signatures: list[ManifestationOut] = []
    transactions: list[TransactionOut] = []


class UsableFilter(Schema):
    part_number: FilterText | None = Field(None, max_length=40)
    quantity: Decimal = Field(..., **QTY)
    at: UtcDateTime | None = None


class UsableOut(Schema):
    lot: str
    ok: bool
    reasons: list[str]
    messages: list[str]
    message: str
    at: dt.datetime


class FefoFilter(Page):
    part_number: FilterText = Field(..., max_length=40)
    site_id: int | None = Field(None, ge=1, le=MAX_ID)


class StockOut(Schema):
    part_number: str
    name: str
    unit: str
    usable: Decimal
    quarantine: Decimal
    reorder_level: Decimal


class DaysFilter(Page):
    days: int = Field(30, ge=0, le=3650)


class ExpiringOut(Schema):
    lot: LotOut
    expired: bool


class KitComponentIn(Schema):
    lot_id: int
    quantity: Decimal = Field(..., **QTY)


class KitIn(Schema):
    site_id: int
    name: str = Field(..., max_length=200)
    location: str = Field(..., max_length=200)
    remarks: str = Field("", max_length=2000)
    components: list[KitComponentIn] = Field(..., max_length=50)


class KitComponentOut(Schema):
    lot_id: int
    lot_number: str
    part_number: str
    quantity: Decimal


class KitOut(Schema):
    id: int
    kit_number: str
    name: str
    site: str
    location: str
    assembled_by: str
    assembled_at: dt.datetime
    remarks: str
    usable_now: bool
    not_usable_because: list[str]
    components: list[KitComponentOut]


class ImportOut(Schema):
    imported: int
    lots: list[str]
