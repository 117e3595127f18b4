"""API shapes for documents. Shapes only: the services decide."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Schema

from vein2vein.core.pagination import Page
from vein2vein.core.schemas import FilterText


class DocumentIn(Schema):
    kind: str = Field(..., examples=["sop"])
    title: str = Field(..., max_length=200)
    number: str | None = Field(None, max_length=20, description="empty: next free number")
    owner_id: int | None = Field(None, description="empty: the caller")
    review_period_months: int = Field(24, ge=1, le=120)


class DocumentFilter(Page):
    kind: FilterText | None = Field(None, max_length=30)
    status: FilterText | None = Field(None, max_length=20, description="has a version in it")
    q: FilterText | None = Field(None, max_length=100, description="number or title contains")
    overdue: bool = False


class VersionForm(Schema):
    """Multipart fields next to the PDF."""

    change_summary: str = Field(..., max_length=4000)
    effective_date: dt.date | None = None


class VersionPatchForm(Schema):
    change_summary: str | None = Field(None, max_length=4000)
    effective_date: dt.date | None = None
    clear_effective_date: bool = False


class ReasonIn(Schema):
    reason: str = Field(..., max_length=2000)


class DocumentsSignIn(Schema):
    password: str = Field(..., max_length=256)
    reason: str = Field("", max_length=2000)


class DocumentApproveIn(DocumentsSignIn):
    effective_date: dt.date | None = Field(
        None, description="if given, must be the reviewed effective date"
    )


class ActivateIn(Schema):
    today: dt.date | None = Field(None, description="not used: the server's date decides")


class ManifestationOut(Schema):
    meaning: str
    printed_name: str
    username: str
    signed_at: str
    valid: bool
    reason: str


class VersionOut(Schema):
    id: int
    document_number: str
    version: int
    status: str
    change_summary: str
    file_name: str
    file_sha256: str
    file_url: str | None
    effective_date: dt.date | None
    next_review_due: dt.date | None
    created_by: str
    created_at: dt.datetime
    submitted_at: dt.datetime | None
    approved_at: dt.datetime | None
    effective_at: dt.datetime | None
    retired_at: dt.datetime | None
    signatures: list[ManifestationOut]


class DocumentOut(Schema):
    id: int
    number: str
    title: str
    kind: str
    owner: str
    review_period_months: int
    created_at: dt.datetime
    obsoleted_at: dt.datetime | None
    effective_version: int | None
    next_review_due: dt.date | None
    review_overdue: bool


class DocumentDetailOut(DocumentOut):
    versions: list[VersionOut]


class PeriodicReviewOut(Schema):
    id: int
    version_id: int
    reviewed_by: str
    reviewed_at: dt.datetime
    comment: str
    previous_due: dt.date | None
    next_review_due: dt.date


class QueueOut(Schema):
    to_review: list[VersionOut]
    to_approve: list[VersionOut]
