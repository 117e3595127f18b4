"""qc API shapes. Rules live in the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ninja import Field, Schema

from vein2vein.core.pagination import Page
from vein2vein.core.schemas import FilterText


class SampleFilter(Page):
    purpose: FilterText | None = Field(None, max_length=20)
    status: FilterText | None = Field(None, max_length=20)
    batch: FilterText | None = Field(None, max_length=40, description="batch number")


class ResultFilter(Page):
    status: FilterText | None = Field(None, max_length=30)
    evaluation: FilterText | None = Field(None, max_length=20)
    batch: FilterText | None = Field(None, max_length=40, description="batch number")


class MethodIn(Schema):
    code: str = Field(..., max_length=30, examples=["ENDO"])
    name: str = Field(..., max_length=200)
    category: str = Field(..., examples=["endotoxin"])
    numeric: bool
    unit: str = Field("", max_length=30)
    training_requirement: str = Field("", max_length=60)
    equipment_kind: str = Field("", max_length=30)
    description: str = Field("", max_length=10_000)
    gating_ml: str = Field("", max_length=2_000_000)


class MethodVersionIn(Schema):
    description: str = Field(..., max_length=10_000)
    gating_ml: str = Field("", max_length=2_000_000)


class MethodVersionOut(Schema):
    version: int
    description: str
    gating_ml_sha256: str
    created_at: dt.datetime


class MethodOut(Schema):
    id: int
    code: str
    name: str
    category: str
    numeric: bool
    unit: str
    training_requirement: str
    equipment_kind: str
    versions: list[MethodVersionOut]


class CriterionIn(Schema):
    method: str = Field(..., max_length=30)
    kind: str = Field(..., examples=["at_most"])
    low: Decimal | None = None
    high: Decimal | None = None
    unit: str = Field("", max_length=30)
    expected: str = Field("", max_length=500)


class SpecificationIn(Schema):
    product_id: int
    stage: str = Field(..., examples=["release"])
    title: str = Field(..., max_length=200)
    criteria: list[CriterionIn]


class CriterionOut(Schema):
    method: str
    kind: str
    low: Decimal | None
    high: Decimal | None
    unit: str
    expected: str
    printed: str


class SpecificationOut(Schema):
    id: int
    product: str
    stage: str
    version: int
    title: str
    status: str
    approved_by: str | None
    approved_at: dt.datetime | None
    criteria: list[CriterionOut]


class QcSignIn(Schema):
    password: str = Field(..., max_length=200)


class ResultReviewIn(QcSignIn):
    comment: str = Field("", max_length=2000)


class InvalidationReasonIn(Schema):
    reason: str = Field(..., max_length=2000)


class SampleIn(Schema):
    batch_id: int
    purpose: str = Field(..., examples=["release"])
    volume: Decimal
    unit: str = Field(..., max_length=20)
    batch_sample_number: str = Field("", max_length=40)
    storage_location: str = Field("", max_length=200)
    assigned_to_id: int | None = None
    due_date: dt.date | None = None


class AliquotIn(Schema):
    volume: Decimal
    storage_location: str = Field("", max_length=200)


class ShipIn(Schema):
    lab_kind: str = Field(..., examples=["external"])
    lab_name: str = Field(..., max_length=200)
    packet: str = Field(..., max_length=10_000)


class SampleReceiptIn(Schema):
    received_by: str = Field(..., max_length=200)
    condition_on_arrival: str = Field(..., max_length=10_000)


class ShipmentOut(Schema):
    id: int
    sample: str
    lab_kind: str
    lab_name: str
    packet: str
    shipped_at: dt.datetime
    received_by: str
    received_at: dt.datetime | None
    condition_on_arrival: str


class QcSampleOut(Schema):
    id: int
    number: str
    batch: str
    purpose: str
    parent: str | None
    volume: Decimal
    unit: str
    storage_location: str
    status: str
    lab_kind: str
    lab_name: str
    assigned_to: str | None
    due_date: dt.date | None


class ResultIn(Schema):
    sample_id: int
    method: str = Field(..., max_length=30, examples=["ENDO"])
    value: Decimal | None = None
    text: str = Field("", max_length=200)
    unit: str = Field("", max_length=30)
    equipment_id: str = Field("", max_length=30)
    comment: str = Field("", max_length=10_000)
    retest_of_id: int | None = None


class ResultOut(Schema):
    id: int
    batch: str
    sample: str
    test: str
    method_version: int
    criterion: str
    value_number: Decimal | None
    value_text: str
    unit: str
    printed: str
    evaluation: str
    status: str
    equipment_id: str | None
    file_name: str
    file_sha256: str
    entered_by: str
    entered_at: dt.datetime
    reviewed_by: str | None
    reviewed_at: dt.datetime | None
    retest_of_id: int | None
    invalidation_reason: str
    oos_deviation_id: int | None


class PhaseIIn(Schema):
    assignable_cause: bool
    summary: str = Field(..., max_length=10_000)


class SummaryIn(Schema):
    summary: str = Field(..., max_length=10_000)


class OosOut(Schema):
    id: int
    result_id: int
    batch: str
    deviation_id: int
    deviation: str
    phase: str
    opened_at: dt.datetime
    assignable_cause: bool | None
    phase_i_summary: str
    phase_ii_summary: str


class ReleaseLineOut(Schema):
    test: str
    method_version: str
    criterion: str
    result: str | None
    status: str
    analyst: str | None
    reviewer: str | None
    reviewed_at: dt.datetime | None
    url: str | None


class ReleaseTestingOut(Schema):
    batch_id: int
    specification: str | None
    complete: bool
    all_in_spec: bool
    lines: list[ReleaseLineOut]
    oos_deviation_ids: list[int]


class WorkItemOut(Schema):
    kind: str
    due: dt.date | None
    sample_id: int
    sample: str
    batch: str
    test: str
    result_id: int | None


class CounterImportForm(Schema):
    instrument: str = Field(..., max_length=60, examples=["BECKMAN_VI_CELL_BLU"])
    assignments: str = Field(
        ..., max_length=10_000, description='JSON {row index: sample id}, e.g. {"0": 12}'
    )
    equipment_id: str = Field("", max_length=30)


class FlowImportForm(Schema):
    sample_id: int
    method: str = Field(..., max_length=30)
    gate: str = Field(..., max_length=100)
    equipment_id: str = Field(..., max_length=30)
