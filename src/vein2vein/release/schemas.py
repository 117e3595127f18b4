"""API schemas of release (pydantic v2 through ninja). Shapes only: the rules live in the
services, which name the field."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Schema

from vein2vein.core.pagination import Page

from .choices import Decision


class ItemOut(Schema):
    key: str
    title: str
    state: str = Field(..., description="ok | missing | not_applicable")
    ok: bool
    detail: str
    url: str
    problems: list[str]


class ReadinessOut(Schema):
    batch_id: int
    batch: str
    coi: str
    ready: bool
    items: list[ItemOut]


class DispositionIn(Schema):
    decision: Decision
    reason: str = Field(..., max_length=4000, description="The QA justification")
    password: str = Field(..., max_length=256)
    exceptional: bool = Field(False, description="Release out of specification")
    physician_name: str = Field("", max_length=150)
    physician_requested_at: dt.datetime | None = None
    physician_reference: str = Field("", max_length=200)


class DispositionOut(Schema):
    id: int
    batch_id: int
    decision: str
    exceptional: bool
    follows_id: int | None
    reason: str
    physician_name: str
    physician_requested_at: dt.datetime | None
    physician_reference: str
    decided_by: str
    decided_at: dt.datetime
    shippable: bool
    shippable_reason: str


class CertificateOut(Schema):
    id: int
    batch_id: int
    version: int
    sha256: str
    size: int
    generated_by: str
    generated_at: dt.datetime
    download: str


class AwaitingOut(Schema):
    id: int
    number: str
    coi: str
    site: str
    product: str
    reviewed_at: dt.datetime | None
    decision: str = Field("", description="'' (none yet) or 'hold'")


class AwaitingFilter(Page):
    held: bool | None = Field(None, description="only batches on quarantine hold (or not)")
