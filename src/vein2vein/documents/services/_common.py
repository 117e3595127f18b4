"""Helpers shared by the document services: clock, dates, locking, transitions."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from vein2vein.core import audit
from vein2vein.core.errors import Conflict, NotFound, ValidationFailed
from vein2vein.core.services import _validate
from vein2vein.core.time import add_months as add_months
from vein2vein.core.time import now

from ..choices import TRANSITIONS, VersionStatus
from ..models import Document, DocumentVersion

VERSION_FIELDS = (
    "document",
    "version",
    "status",
    "change_summary",
    "file_name",
    "file_sha256",
    "effective_date",
    "next_review_due",
    "created_by",
)
DOCUMENT_FIELDS = (*Document.RECORD_FIELDS, "obsoleted_at")
IN_FLIGHT = (VersionStatus.DRAFT, VersionStatus.IN_REVIEW, VersionStatus.APPROVED)
MAX_SUMMARY = 4000
MAX_REVIEW_PERIOD_MONTHS = 120

text = _validate.text
reason = _validate.reason


def today() -> dt.date:
    """The calendar day in the document-control zone (settings.TIME_ZONE): documents are
    organisation-wide, so one zone decides when 'effective from' a date begins."""
    return timezone.localdate(now(), ZoneInfo(settings.TIME_ZONE))


def optional_date(value: object, field: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise ValidationFailed(f"{field} must be a date (YYYY-MM-DD)", field=field)
    return value


def version_pk(version_id: object) -> int:
    if isinstance(version_id, bool) or not isinstance(version_id, int):
        raise ValidationFailed("version_id must be a number", field="version_id")
    return version_id


def load_version(version_id: object) -> DocumentVersion:
    """The version, read without a lock (for the checks made before a password is asked)."""
    version = (
        DocumentVersion.objects.select_related("document", "created_by")
        .filter(pk=version_pk(version_id))
        .first()
    )
    if version is None:
        raise NotFound(f"document version {version_id} does not exist", field="version_id")
    return version


def lock_version(version_id: int) -> DocumentVersion:
    """Lock the version's document, then the version: every change to a document's versions
    takes the document's lock first, so two of them never interleave."""
    document_id = (
        DocumentVersion.objects.filter(pk=version_id).values_list("document_id", flat=True).first()
    )
    if document_id is None:
        raise NotFound(f"document version {version_id} does not exist", field="version_id")
    Document.objects.select_for_update(no_key=True, of=("self",)).get(pk=document_id)
    return (
        DocumentVersion.objects.select_for_update(no_key=True, of=("self",))
        .select_related("document", "created_by")
        .get(pk=version_id)
    )


def require_status(version: DocumentVersion, *allowed: VersionStatus, doing: str) -> None:
    if version.status not in allowed:
        wanted = " or ".join(VersionStatus(s).label.lower() for s in allowed)
        raise Conflict(
            f"{version} is {version.get_status_display().lower()}: "
            f"only a version {wanted} can be {doing}",
            field="version_id",
        )


def move(version: DocumentVersion, to: VersionStatus) -> dict[str, Any]:
    """Change the status along an allowed transition (choices.TRANSITIONS); the change."""
    current = VersionStatus(version.status)
    if to not in TRANSITIONS[current]:
        raise Conflict(
            f"{version} cannot go from {current.label.lower()} to {to.label.lower()}",
            field="version_id",
        )
    version.status = to
    return {"status": {"old": current.value, "new": to.value}}


def stamp(version: DocumentVersion, field: str) -> dict[str, Any]:
    """Set a lifecycle timestamp to the server's time; the change for the audit event."""
    value = now()
    old = getattr(version, field)
    setattr(version, field, value)
    return {field: {"old": audit.jsonable(old), "new": audit.jsonable(value)}}
