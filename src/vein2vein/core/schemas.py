"""API schemas (pydantic v2 through ninja). Shapes only: rules live in the services."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import AfterValidator

from .pagination import Page

_EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _utc(value: dt.datetime) -> dt.datetime:
    """Naive means UTC; every time is compared in UTC, within a calendar databases can store."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    try:
        value = value.astimezone(dt.UTC)
    except OverflowError as exc:
        raise ValueError("is outside the supported date range") from exc
    if not _EARLIEST <= value <= _LATEST:
        raise ValueError("must be between the years 1900 and 9000")
    return value


FilterText = Annotated[str, AfterValidator(_no_nul)]
UtcDateTime = Annotated[dt.datetime, AfterValidator(_utc)]


class ErrorOut(Schema):
    detail: str
    field: str | None = None


class SiteIn(Schema):
    code: str = Field(..., max_length=20, examples=["MFG-BCN"])
    name: str = Field(..., max_length=200)
    kind: str = Field(..., examples=["manufacturing"])
    time_zone: str = Field(..., max_length=64, examples=["Europe/Madrid"])
    fin: str = Field("", max_length=5, examples=["A9999"])
    country: str = Field("", max_length=2, examples=["ES"])
    address: str = Field("", max_length=1000)


class SitePatch(Schema):
    reason: str = Field(..., max_length=2000, description="Why the correction is made")
    name: str | None = Field(None, max_length=200)
    kind: str | None = None
    time_zone: str | None = Field(None, max_length=64)
    fin: str | None = Field(None, max_length=5)
    country: str | None = Field(None, max_length=2)
    address: str | None = Field(None, max_length=1000)


class ReasonIn(Schema):
    reason: str = Field(..., max_length=2000)


class SiteOut(Schema):
    id: int
    code: str
    name: str
    kind: str
    time_zone: str
    fin: str
    country: str
    address: str
    is_active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class AuditFilter(Page):
    record_type: FilterText | None = Field(None, max_length=100, examples=["core.site"])
    record_id: FilterText | None = Field(None, max_length=64)
    actor: FilterText | None = Field(None, max_length=150, description="username")
    action: FilterText | None = Field(None, max_length=100, description="action prefix")
    since: UtcDateTime | None = Field(None, description="from this time (inclusive)")
    until: UtcDateTime | None = Field(None, description="before this time (exclusive)")


class AuditEventOut(Schema):
    seq: int
    occurred_at: dt.datetime
    actor_username: str
    action: str
    record_type: str
    record_id: str
    changes: dict[str, Any]
    reason: str
    prev_hash: str
    hash: str


class VerifyOut(Schema):
    ok: bool
    count: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None
    detail: str | None = None


class SignIn(Schema):
    record_type: str = Field(..., max_length=100, examples=["core.site"])
    record_id: str = Field(..., max_length=64)
    meaning: str = Field(..., examples=["reviewed"])
    password: str = Field(..., max_length=256)
    reason: str = Field("", max_length=2000)


class SignatureOut(Schema):
    id: int
    record_type: str
    record_id: str
    meaning: str
    signer_username: str
    printed_name: str
    signed_at: dt.datetime
    signed_at_display: str
    time_zone: str
    content_hash: str
    valid: bool
    manifestation: str


class RoleOut(Schema):
    id: int
    site: str
    role: str
    granted_at: dt.datetime


class MeOut(Schema):
    id: int
    username: str
    full_name: str
    roles: list[RoleOut]


class UserIn(Schema):
    username: str = Field(..., max_length=150)
    full_name: str = Field(..., max_length=150)
    email: str = Field("", max_length=254)
    password: str = Field(..., max_length=256)


class UserOut(Schema):
    id: int
    username: str
    full_name: str
    email: str
    is_active: bool
    roles: list[RoleOut]


class GrantIn(Schema):
    site_id: int
    role: str


class TokenIn(Schema):
    name: str = Field(..., max_length=100)
    scope: str = Field("read_write", description="read (GET and HEAD only) or read_write")
    expires_in_days: int = Field(90, description="1 to 365 days")


class TokenOut(Schema):
    prefix: str
    name: str
    scope: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreatedOut(TokenOut):
    token: str = Field(..., description="Shown once; only its SHA-256 is stored")
