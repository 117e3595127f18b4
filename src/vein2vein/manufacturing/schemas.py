"""API schemas of the batch record (pydantic v2 through ninja). Shapes only: the rules (the
MBR's content, limits, interlocks, who may do what) live in the services, which name the field.

A step's `value` is a number or a text in JSON and goes to the service as given: the step's
kind decides what it must be (numeric and calculation steps a number within the MBR's range,
choice steps one of the options, text steps free text).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import PlainValidator, WithJsonSchema

from vein2vein.chain.schemas import ZonedDateTime
from vein2vein.core.pagination import Page
from vein2vein.core.schemas import FilterText

from .choices import BatchStatus
from .mbr import MAX_BYTES

MAX_ID = 2**63 - 1


def _json_number(value: Decimal) -> Decimal:
    """A JSON number carries no precision: 120000000.0 (as many clients write a float) is the
    whole number 120000000, and 0.50 is 0.5. A text ("12.50") goes to the service as typed."""
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or exponent >= 0:
        return value  # not finite (the service refuses it), or no fractional digits
    try:
        if value == value.to_integral_value():
            return value.quantize(Decimal(1))
        return value.normalize()
    except InvalidOperation:  # more digits than a decimal context holds: the service decides
        return value


def _step_value(value: object) -> str | Decimal:
    """A text stays a text ("12" for a text step is the text "12"); a number becomes a Decimal
    (the service checks its range and decimals)."""
    if isinstance(value, str):
        if len(value) > 2000:
            raise ValueError("must be at most 2000 characters")
        return value
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValueError("must be a number or a text") from None
        if not number.is_finite():
            raise ValueError("must be a finite number")
        return _json_number(number)
    raise ValueError("must be a number or a text")


StepValue = Annotated[
    str | Decimal,
    PlainValidator(_step_value),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string", "maxLength": 2000}]}),
]


class ReasonIn(Schema):
    reason: str = Field(..., max_length=2000)


# --- master records ---------------------------------------------------------------------------
class MasterRecordFilter(Page):
    product: FilterText | None = Field(None, max_length=30, description="product code")


class MasterRecordOut(Schema):
    id: int
    document_id: int
    document_number: str
    version: int
    version_status: str = Field(..., description="The MBR document version's status")
    effective_date: dt.date | None
    effective_at: dt.datetime | None
    product: str
    process_version: str
    title: str
    step_count: int
    file_sha256: str
    definition_sha256: str
    parsed_by: str
    parsed_at: dt.datetime


class MbrStepOut(Schema):
    key: str
    kind: str
    title: str
    instruction: str
    operation: str
    operation_title: str
    index: int
    after: list[str]
    requires: list[str]
    verify: bool
    spec: dict[str, Any] = Field(
        ..., description="The kind's own fields: unit, limits, formula, part, options..."
    )


class MasterRecordDetailOut(MasterRecordOut):
    description: str
    parameters: dict[str, Any]
    steps: list[MbrStepOut]


class YamlIn(Schema):
    yaml_text: str = Field(..., max_length=MAX_BYTES, description="The MBR file (vein2vein-mbr/1)")


class ValidateOut(Schema):
    ok: bool
    product: str
    process_version: str
    title: str
    operations: int
    steps: int


class ImportIn(Schema):
    yaml_text: str = Field(..., max_length=MAX_BYTES, description="The MBR file (vein2vein-mbr/1)")
    change_summary: str = Field(..., max_length=2000, examples=["First issue"])
    title: str | None = Field(None, max_length=200, description="New document (default: the MBR's)")
    document_id: int | None = Field(
        None, description="A new version of this MBR document (default: a new document)"
    )
    effective_date: dt.date | None = None
    file_name: str | None = Field(None, max_length=200, examples=["CD19-CART-1.0.yaml"])


# --- batches ----------------------------------------------------------------------------------
class BatchFilter(Page):
    status: BatchStatus | None = None


class StartIn(Schema):
    order_id: int | None = Field(None, description="A received order (autologous)")
    donor_lot: str = Field("", max_length=60, description="Or a donor lot (allogeneic)")
    master_record_id: int | None = Field(
        None, description="Default: the product's effective MBR (required for a donor lot)"
    )
    site_id: int | None = Field(None, description="Manufacturing site of a donor-lot batch")
    started_at: ZonedDateTime | None = Field(
        None, description="When it started, with its offset (default now; a late entry)"
    )


class BatchOut(Schema):
    id: int
    number: str
    master_record_id: int
    mbr: str = Field(..., description="MBR document number and version")
    product: str
    process_version: str
    site: str
    order_id: int | None
    coi: str
    donor_lot: str
    status: str
    status_label: str
    started_by: str
    started_at: dt.datetime
    recorded_at: dt.datetime
    hold_reason: str
    completed_at: dt.datetime | None
    reviewed_at: dt.datetime | None
    review_comment: str
    aborted_at: dt.datetime | None
    abort_reason: str


class EntryOut(Schema):
    id: int
    batch_id: int
    seq: int
    step_key: str
    step_kind: str
    status: str
    value_text: str
    value_number: Decimal | None
    unit: str
    details: dict[str, Any]
    flag: str
    comment: str
    deviation: str
    performed_by: str
    performed_at: dt.datetime
    recorded_at: dt.datetime
    late: bool = Field(..., description="Recorded more than 30 minutes after it was done")
    file_name: str
    file_sha256: str
    verified_by: str | None
    verified_at: dt.datetime | None
    corrects_id: int | None
    correction_reason: str


class StepStateOut(Schema):
    key: str
    kind: str
    title: str
    operation: str
    index: int
    verify: bool
    state: str = Field(..., description="done | awaiting_verification | next | waiting")
    entry: EntryOut | None
    history: list[EntryOut] = Field(..., description="Superseded entries, oldest first")


class ProgressOut(Schema):
    done: int
    total: int


class BatchDetailOut(BatchOut):
    steps: list[StepStateOut]
    next_steps: list[str] = Field(..., description="Keys of the steps that may be recorded now")
    progress: ProgressOut


class StepIn(Schema):
    value: StepValue | None = Field(
        None, description="Numeric, choice and text steps (a number or a text)"
    )
    scan: str | None = Field(
        None, max_length=300, description="Material, equipment and COI checks: what was scanned"
    )
    comment: str = Field("", max_length=2000)
    performed_at: ZonedDateTime | None = Field(
        None, description="When it was done, with its offset (default now; a late entry)"
    )
    password: str | None = Field(None, max_length=256, description="Sign-off steps")


class VerifyIn(Schema):
    password: str = Field(..., max_length=256)
    comment: str = Field("", max_length=2000)


class CorrectIn(Schema):
    reason: str = Field(..., max_length=2000)
    value: StepValue | None = None
    comment: str = Field("", max_length=2000)


class AbortIn(Schema):
    reason: str = Field(..., max_length=2000)
    password: str = Field(..., max_length=256)


class ReviewIn(Schema):
    password: str = Field(..., max_length=256)
    comment: str = Field("", max_length=4000)


class ExceptionOut(Schema):
    kind: str = Field(
        ...,
        description="limit | comment | correction | deviation | late | blocked | timer | "
        "unverified",
    )
    title: str
    detail: str
    entry_id: int | None
    step_key: str | None
    deviation: str | None
    deviation_status: str | None
    event_seq: int | None


class ReviewOut(Schema):
    batch_id: int
    number: str
    status: str
    exceptions: list[ExceptionOut]
    record_sha256: str


class SampleOut(Schema):
    number: str
    batch_id: int
    entry_id: int
    sample_type: str
    tests: list[str]
    quantity: Decimal
    unit: str
    drawn_by: str
    drawn_at: dt.datetime
    label_text: str
    voided_at: dt.datetime | None
    void_reason: str
