"""Training API schemas: shapes only; the rules live in the services."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Schema

from vein2vein.core.pagination import Page
from vein2vein.core.schemas import FilterText, UtcDateTime


class ManifestationOut(Schema):
    meaning: str
    printed_name: str
    username: str
    signed_at: str
    valid: bool
    reason: str


class AssignmentOut(Schema):
    id: int
    trainee: str
    trainee_name: str
    document: str
    title: str
    version: int
    document_version_id: int
    site: str
    status: str
    trainer_led: bool
    assigned_at: dt.datetime
    due_at: dt.datetime
    overdue: bool
    trainee_signed_at: dt.datetime | None
    trainer: str | None
    trainer_signed_at: dt.datetime | None
    completed_at: dt.datetime | None
    superseded_at: dt.datetime | None
    signatures: list[ManifestationOut] = []


class AssignmentFilter(Page):
    status: FilterText | None = Field(None, max_length=20, examples=["assigned"])
    overdue: bool = False
    document: FilterText | None = Field(None, max_length=20, examples=["SOP-0004"])
    trainee: FilterText | None = Field(None, max_length=150, description="username")


class TrainingSignIn(Schema):
    password: str = Field(..., max_length=256)
    reason: str = Field("", max_length=2000, description="Optional comment")


class SyncOut(Schema):
    created: int


class CurriculumIn(Schema):
    role: str = Field(..., max_length=20, examples=["operator"])
    name: str = Field(..., max_length=200)
    site_id: int | None = Field(None, description="None: the role at every site")
    description: str = Field("", max_length=2000)


class CurriculumPatch(Schema):
    reason: str = Field(..., max_length=2000)
    name: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=2000)


class CurriculumItemOut(Schema):
    id: int
    kind: str  # document | qualification
    requirement: str
    title: str
    trainer_led: bool
    due_days: int | None
    added_at: dt.datetime
    added_by: str
    removed_at: dt.datetime | None
    remove_reason: str


class CurriculumOut(Schema):
    id: int
    role: str
    site: str | None
    name: str
    description: str
    created_at: dt.datetime
    items: list[CurriculumItemOut]


class CurriculumDocumentIn(Schema):
    document_number: str = Field(..., max_length=20, examples=["SOP-0004"])
    trainer_led: bool = False
    due_days: int | None = Field(None, ge=1, le=365)


class CurriculumDocumentOut(Schema):
    item: CurriculumItemOut
    assigned: int


class CurriculumQualificationIn(Schema):
    qualification_code: str = Field(..., max_length=40, examples=["APS"])


class ReasonIn(Schema):
    reason: str = Field(..., max_length=2000)


class QualificationTypeIn(Schema):
    code: str = Field(..., max_length=40, examples=["ASEPTIC-GOWNING"])
    name: str = Field(..., max_length=200)
    kind: str = Field(..., max_length=20, examples=["aseptic"])
    validity_months: int = Field(..., ge=1, le=120)
    subject: str = Field("", max_length=200)
    description: str = Field("", max_length=2000)


class QualificationTypePatch(Schema):
    reason: str = Field(..., max_length=2000)
    name: str | None = Field(None, max_length=200)
    kind: str | None = Field(None, max_length=20)
    subject: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=2000)
    validity_months: int | None = Field(None, ge=1, le=120)
    is_active: bool | None = None


class QualificationTypeOut(Schema):
    code: str
    name: str
    kind: str
    subject: str
    description: str
    validity_months: int
    is_active: bool


class QualificationGrantIn(Schema):
    user_id: int
    qualification_code: str = Field(..., max_length=40, examples=["APS"])
    site_id: int
    password: str = Field(..., max_length=256)
    note: str = Field("", max_length=2000)


class QualificationOut(Schema):
    id: int
    user: str
    user_name: str
    qualification_type: str
    name: str
    site: str
    status: str
    state: str  # valid | expired | revoked | superseded, now
    granted_by: str
    granted_at: dt.datetime
    expires_at: dt.datetime
    note: str
    superseded_at: dt.datetime | None
    revoked_at: dt.datetime | None
    revoked_by: str | None
    revoke_reason: str
    signatures: list[ManifestationOut] = []


class QualificationFilter(Page):
    user: FilterText | None = Field(None, max_length=150, description="username")
    qualification_type: FilterText | None = Field(None, max_length=40, examples=["APS"])
    state: FilterText | None = Field(
        None, max_length=20, description="valid, expired, revoked or superseded"
    )


class CheckFilter(Schema):
    user_id: int | None = Field(None, description="default: yourself")
    requirements: list[FilterText] = Field(
        default_factory=list,
        max_length=100,
        description="document numbers and qualification type codes",
        examples=[["SOP-0004", "APS"]],
    )
    at: UtcDateTime | None = Field(None, description="default: now")


class CheckOut(Schema):
    user: str
    ok: bool
    missing: list[str]
    message: str
    at: dt.datetime


class MatrixFilter(Page):
    site_id: int | None = None
    role: FilterText | None = Field(None, max_length=20)


class MatrixRowOut(Schema):
    user: str
    full_name: str
    roles: list[str]
    requirements: int
    ok: bool
    missing: list[str]
    open: int
    overdue: int


class MyTrainingOut(Schema):
    user: str
    ok: bool
    missing: list[str]
    open: list[AssignmentOut]
    records: list[AssignmentOut]
    qualifications: list[QualificationOut]
