"""API schemas of the chain of identity (pydantic v2 through ninja). Shapes only: the rules
(ranges, identifiers, states, who may do what) live in the services, which name the field.

Personal data: the order shapes carry the patient's name, date of birth and site patient ID
only for a caller `selectors.can_see_identity` allows; for everybody else they are null and
the COI identifier is the patient's only handle.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from ninja import Field, Schema
from pydantic import AfterValidator, AwareDatetime, ConfigDict

from vein2vein.core.pagination import Page
from vein2vein.core.schemas import FilterText

from .choices import OrderStatus

MAX_ID = 2**63 - 1
MAX_CALENDAR_DAYS = 92
_EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)


def _utc(value: dt.datetime) -> dt.datetime:
    """An instant with its offset, in UTC, within a calendar every database can store."""
    try:
        value = value.astimezone(dt.UTC)
    except OverflowError as exc:
        raise ValueError("is outside the supported date range") from exc
    if not _EARLIEST <= value <= _LATEST:
        raise ValueError("must be between the years 1900 and 9000")
    return value


# Times entered for the chain must say their zone (a collection at 14:00 where?): naive times
# are refused, not guessed as UTC.
ZonedDateTime = Annotated[AwareDatetime, AfterValidator(_utc)]


class ReasonIn(Schema):
    reason: str = Field(..., max_length=2000)


# --- products ---------------------------------------------------------------------------------
class ProductIn(Schema):
    code: str = Field(..., max_length=30, examples=["CD19-CART"])
    name: str = Field(..., max_length=200, examples=["Autologous anti-CD19 CAR-T"])
    max_hours_to_manufacture: int = Field(..., examples=[48])
    fresh_min_c: Decimal = Field(..., examples=["2"])
    fresh_max_c: Decimal = Field(..., examples=["8"])
    isbt_description_code: str = Field("", max_length=5, examples=["S1234"])
    autologous: bool = True


class ProductPatch(Schema):
    """A correction: a field that cannot be corrected is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(..., max_length=2000)
    name: str | None = Field(None, max_length=200)
    isbt_description_code: str | None = Field(None, max_length=5)
    autologous: bool | None = None
    max_hours_to_manufacture: int | None = None
    fresh_min_c: Decimal | None = None
    fresh_max_c: Decimal | None = None
    is_active: bool | None = None


class ProductOut(Schema):
    id: int
    code: str
    name: str
    isbt_description_code: str
    autologous: bool
    max_hours_to_manufacture: int
    fresh_min_c: Decimal
    fresh_max_c: Decimal
    is_active: bool


class ProductFilter(Page):
    active_only: bool = False


# --- patients ---------------------------------------------------------------------------------
class PatientIn(Schema):
    site_id: int
    site_patient_id: str = Field(..., max_length=40, examples=["LUH-000123"])
    given_name: str = Field(..., max_length=100)
    family_name: str = Field(..., max_length=100)
    date_of_birth: dt.date
    weight_kg: Decimal = Field(..., examples=["68.5"])
    diagnosis: str = Field(..., max_length=300)
    consent_status: str = Field(..., examples=["consented"])
    consent_date: dt.date | None = None


class PatientPatch(Schema):
    """A correction: a field that cannot be corrected is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(..., max_length=2000)
    site_patient_id: str | None = Field(None, max_length=40)
    given_name: str | None = Field(None, max_length=100)
    family_name: str | None = Field(None, max_length=100)
    date_of_birth: dt.date | None = None
    weight_kg: Decimal | None = None
    diagnosis: str | None = Field(None, max_length=300)
    consent_status: str | None = None
    consent_date: dt.date | None = None


class PatientOut(Schema):
    id: int
    site: str
    site_patient_id: str
    given_name: str
    family_name: str
    date_of_birth: dt.date
    weight_kg: Decimal
    diagnosis: str
    consent_status: str
    consent_date: dt.date | None
    enrolled_by: str
    enrolled_at: dt.datetime


class PatientFilter(Page):
    site_id: int | None = Field(None, ge=1, le=MAX_ID)
    site_patient_id: FilterText | None = Field(None, max_length=40)


# --- orders -----------------------------------------------------------------------------------
class OrderIn(Schema):
    patient_id: int
    product_id: int
    treating_physician: str = Field(..., max_length=150, examples=["Dr. Rivera"])
    requested_collection_date: dt.date
    collection_site_id: int
    manufacturing_site_id: int


class OrderFilter(Page):
    status: OrderStatus | None = None
    coi: FilterText | None = Field(
        None, max_length=20, description="COI identifier (spaces ignored)"
    )


class OrderOut(Schema):
    id: int
    coi: str
    coi_eye_readable: str
    coi_check_character: str
    product: str
    treating_physician: str
    requested_collection_date: dt.date
    ordering_site: str
    collection_site: str
    manufacturing_site: str
    status: str
    status_label: str
    ordered_by: str
    ordered_at: dt.datetime
    cancel_reason: str
    current_custodian: str
    current_location: str
    stability_deadline: dt.datetime | None
    manufacturing_started_at: dt.datetime | None
    stability_deviation: str
    identity_visible: bool = Field(
        ..., description="Whether the caller may see the patient's personal data"
    )
    # Personal data: null unless identity_visible.
    patient_id: int | None = None
    site_patient_id: str | None = None
    patient_name: str | None = None
    patient_date_of_birth: dt.date | None = None


class AdvanceIn(Schema):
    to_status: str = Field(..., examples=["in_manufacturing"])
    reason: str = Field("", max_length=2000)
    custodian: str = Field("", max_length=200)
    location: str = Field("", max_length=200)
    occurred_at: ZonedDateTime | None = Field(
        None, description="When it happened, with its offset (default now)"
    )


# --- slots ------------------------------------------------------------------------------------
class CalendarFilter(Schema):
    site_id: int = Field(..., ge=1, le=MAX_ID, description="manufacturing facility")
    start: dt.date | None = Field(None, description="first day (default today at the site)")
    days: int = Field(14, ge=1, le=MAX_CALENDAR_DAYS)


class SlotDayOut(Schema):
    day: dt.date
    capacity: int
    booked: int
    free: int
    full: bool


class CapacityIn(Schema):
    site_id: int
    start: dt.date
    end: dt.date
    capacity: int = Field(..., examples=[2])
    weekdays: list[int] | None = Field(
        None, max_length=7, description="ISO weekdays (1 = Monday); default every day"
    )
    reason: str = Field("", max_length=2000)


class CapacityOut(Schema):
    site: str
    day: dt.date
    capacity: int


class BookIn(Schema):
    day: dt.date


class RescheduleIn(Schema):
    day: dt.date
    reason: str = Field(..., max_length=2000)


class BookingOut(Schema):
    id: int
    order_id: int
    coi: str
    site: str
    day: dt.date
    status: str
    booked_by: str
    booked_at: dt.datetime
    released_by: str | None
    released_at: dt.datetime | None
    release_reason: str


# --- collection -------------------------------------------------------------------------------
class CollectionIn(Schema):
    started_at: ZonedDateTime
    ended_at: ZonedDateTime
    volume_ml: Decimal = Field(..., examples=["250"])
    anticoagulant: str = Field(..., examples=["ACD-A"])
    wbc_10e9_per_l: Decimal | None = None
    cd3_10e9_per_l: Decimal | None = None
    din: str = Field(
        "", max_length=40, description="DIN assigned by the facility (blank: allocate one)"
    )
    sec: str = Field("", max_length=60, description="Single European Code, at EU/EEA sites")


class CollectionPatch(Schema):
    """A correction: a field that cannot be corrected is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(..., max_length=2000)
    started_at: ZonedDateTime | None = None
    ended_at: ZonedDateTime | None = None
    volume_ml: Decimal | None = None
    anticoagulant: str | None = None
    wbc_10e9_per_l: Decimal | None = None
    cd3_10e9_per_l: Decimal | None = None


class CollectionOut(Schema):
    id: int
    order_id: int
    coi: str
    site: str
    din: str
    din_eye_readable: str
    din_check_character: str
    sec: str
    started_at: dt.datetime
    ended_at: dt.datetime
    time_zone: str
    started_local: str
    ended_local: str
    volume_ml: Decimal
    anticoagulant: str
    wbc_10e9_per_l: Decimal | None
    cd3_10e9_per_l: Decimal | None
    recorded_by: str
    recorded_at: dt.datetime


# --- receipt and custody ----------------------------------------------------------------------
class ReceiveIn(Schema):
    scans: list[str] | str = Field(
        ...,
        description="The bag label's scans: a list, or text with one scan per line. "
        "DIN, COI identifier and patient date of birth must all be scanned and match.",
        examples=[["=B23452612345600", "&/CHB234526000001", "=#0019710314"]],
    )
    arrival_temperature_c: Decimal = Field(..., examples=["5.0"])
    decision: str = Field("accepted", examples=["accepted"])
    rejection_reason: str = Field("", max_length=2000)
    logger_serial: str = Field("", max_length=60)
    logger_min_c: Decimal | None = None
    logger_max_c: Decimal | None = None
    logger_summary: str = Field("", max_length=4000)
    location: str = Field("Goods-in", max_length=200)


class ReceiptOut(Schema):
    id: int
    order_id: int
    coi: str
    site: str
    received_by: str
    received_at: dt.datetime
    scans: list[str]
    matched: list[str]
    arrival_temperature_c: Decimal
    logger_serial: str
    logger_min_c: Decimal | None
    logger_max_c: Decimal | None
    logger_summary: str
    temperature_ok: bool
    decision: str
    rejection_reason: str
    deviations: list[str]
    order_status: str
    quarantined: bool = Field(
        False, description="Received outside the temperature range; QA disposition pending"
    )
    disposition_by: str | None = None
    disposition_at: dt.datetime | None = None
    disposition_reason: str = ""


class ReceiptDispositionIn(Schema):
    """QA's signed disposition of a quarantined receipt."""

    decision: str = Field(..., examples=["accepted"], description="accepted or rejected")
    reason: str = Field(..., max_length=2000, examples=["Logger shows 40 min at 9 °C; SOP-123"])
    password: str = Field(..., max_length=256)


class HandoffIn(Schema):
    scanned_text: str = Field(..., max_length=300, examples=["&/CHB234526000001"])
    to_custodian: str = Field(..., max_length=200, examples=["World Courier (J. Smith)"])
    to_location: str = Field(..., max_length=200, examples=["Courier van"])
    temperature_c: Decimal | None = None
    to_status: str = Field("", examples=["in_transit"])
    item: str = Field("", max_length=200)
    note: str = Field("", max_length=2000)
    occurred_at: ZonedDateTime | None = Field(
        None, description="When it happened, with its offset (default now; a late entry)"
    )


class CustodyEventOut(Schema):
    seq: int
    kind: str
    item: str
    from_custodian: str
    from_location: str
    to_custodian: str
    to_location: str
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    temperature_c: Decimal | None
    scanned_text: str
    matched: str
    status_after: str
    note: str
    recorded_by: str
    site: str


class TimelineEventOut(CustodyEventOut):
    since_previous_seconds: float | None
    since_start_seconds: float
    late_entry: bool


class ClockOut(Schema):
    deadline: dt.datetime | None
    stopped_at: dt.datetime | None
    running: bool
    hours_left: Decimal | None
    expired: bool
    deviation: str
    label: str


class TimelineOut(Schema):
    order: OrderOut
    status: str
    status_label: str
    current_custodian: str
    current_location: str
    collection_day: dt.date | None
    din: str | None
    receipt_decision: str | None
    events: list[TimelineEventOut]
    total_seconds: float | None
    clock: ClockOut
    closed: bool
