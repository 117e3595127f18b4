"""Equipment API shapes. Rules live in the services."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Schema

from vein2vein.core.pagination import Page
from vein2vein.core.schemas import FilterText, UtcDateTime


class EquipmentFilter(Page):
    kind: FilterText | None = Field(None, max_length=30)
    status: FilterText | None = Field(None, max_length=20)
    site: FilterText | None = Field(None, max_length=20, description="site code")
    due: FilterText | None = Field(None, max_length=10, description="soon | overdue")
    q: FilterText | None = Field(None, max_length=100)


class EquipmentIn(Schema):
    equipment_id: str = Field(..., max_length=30, examples=["BSC-01"])
    name: str = Field(..., max_length=200)
    kind: str = Field(..., examples=["biosafety_cabinet"])
    site_id: int
    location: str = Field(..., max_length=200)
    manufacturer: str = Field("", max_length=200)
    model: str = Field("", max_length=200)
    serial_number: str = Field("", max_length=100)


class EquipmentPatch(Schema):
    reason: str = Field(..., max_length=2000)
    name: str | None = Field(None, max_length=200)
    location: str | None = Field(None, max_length=200)
    manufacturer: str | None = Field(None, max_length=200)
    model: str | None = Field(None, max_length=200)
    serial_number: str | None = Field(None, max_length=100)


class StatusIn(Schema):
    status: str = Field(..., examples=["in_service"])
    reason: str = Field(..., max_length=2000)


class EquipmentOut(Schema):
    id: int
    equipment_id: str
    name: str
    kind: str
    manufacturer: str
    model: str
    serial_number: str
    site: str
    location: str
    status: str
    status_reason: str
    status_changed_at: dt.datetime


class UsabilityOut(Schema):
    equipment_id: str
    at: dt.datetime
    ok: bool
    reasons: list[str]
    message: str


class UsableQuery(Schema):
    at: UtcDateTime | None = None
    batch_type: FilterText | None = Field(None, max_length=100)
    batch_id: FilterText | None = Field(None, max_length=64)


class QualificationIn(Schema):
    stage: str = Field(..., examples=["IQ"])
    document: str = Field(..., max_length=20, examples=["FRM-0101"])
    result: str = Field(..., examples=["pass"])
    performed_on: dt.date
    remarks: str = Field("", max_length=10_000)


class EquipmentSignIn(Schema):
    password: str = Field(..., max_length=256)
    reason: str = Field("", max_length=2000)


class UnitQualificationOut(Schema):
    id: int
    equipment_id: str
    stage: str
    document: str
    document_version: int
    result: str
    performed_on: dt.date
    remarks: str
    performed_by: str
    recorded_at: dt.datetime
    status: str
    approved_by: str | None
    approved_at: dt.datetime | None


class PlanIn(Schema):
    kind: str = Field(..., examples=["calibration"])
    title: str = Field(..., max_length=200)
    interval_days: int


class IntervalIn(Schema):
    interval_days: int
    reason: str = Field(..., max_length=2000)


class PlanOut(Schema):
    id: int
    equipment_id: str
    kind: str
    title: str
    interval_days: int
    last_done: dt.date | None
    next_due: dt.date | None
    overdue: bool


class ServiceForm(Schema):
    """Multipart fields of a calibration or maintenance record (the certificate is `file`)."""

    performed_at: UtcDateTime
    result: str
    password: str = Field(..., max_length=256)
    remarks: str = Field("", max_length=10_000)


class ImpactOut(Schema):
    usage_id: int
    batch_type: str
    batch_id: str
    batch_label: str
    step: str
    started_at: dt.datetime
    ended_at: dt.datetime | None


class RecordOut(Schema):
    id: int
    equipment_id: str
    plan_id: int
    kind: str
    performed_at: dt.datetime
    performed_by: str
    recorded_at: dt.datetime
    result: str
    remarks: str
    certificate_name: str
    certificate_sha256: str
    next_due_after: dt.date | None
    deviation_number: str
    impact_window_start: dt.datetime | None
    impact_batches: list[str]
    impact: list[ImpactOut]


class UsageIn(Schema):
    batch_type: str = Field(..., max_length=100, examples=["manufacturing.batch"])
    batch_id: str = Field(..., max_length=64)
    batch_label: str = Field(..., max_length=100, examples=["B-2026-0012"])
    step: str = Field(..., max_length=200)
    at: UtcDateTime | None = None


class UsageEndIn(Schema):
    at: UtcDateTime | None = None


class UsageOut(Schema):
    id: int
    equipment_id: str
    batch_type: str
    batch_id: str
    batch_label: str
    step: str
    started_at: dt.datetime
    started_by: str
    ended_at: dt.datetime | None
    ended_by: str | None


class DueOut(Schema):
    plan: PlanOut
    equipment_status: str
    days_left: int | None
