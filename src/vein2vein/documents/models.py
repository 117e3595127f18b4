"""Controlled documents: a document (SOP-0042) and its versions through review to effective."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from vein2vein.core.models import User
from vein2vein.core.signing import signable

from .choices import DEFAULT_REVIEW_PERIOD_MONTHS, DocumentKind, VersionStatus


class Document(models.Model):
    """A controlled document, identified by its number; its content lives in its versions."""

    number = models.CharField(max_length=20, unique=True, help_text="e.g. SOP-0042")
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=30, choices=DocumentKind.choices)
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="owned_documents")
    review_period_months = models.PositiveSmallIntegerField(default=DEFAULT_REVIEW_PERIOD_MONTHS)
    created_at = models.DateTimeField()
    obsoleted_at = models.DateTimeField(
        null=True, blank=True, help_text="Withdrawn from use: no new versions after this"
    )

    RECORD_FIELDS = ("number", "title", "kind", "owner", "review_period_months")

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=DocumentKind.values), name="document_kind_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


def version_upload_to(instance: DocumentVersion, filename: str) -> str:
    return f"documents/{instance.document.number}/v{instance.version}/{filename}"


@signable(
    meanings=("reviewed", "approved"),
    site=lambda v: None,
    performer=lambda v: v.created_by,
)
class DocumentVersion(models.Model):
    """One version of a document. Only one version of a document is effective at a time."""

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    status = models.CharField(
        max_length=20, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    change_summary = models.TextField(blank=True)
    file = models.FileField(upload_to=version_upload_to, blank=True)
    file_name = models.CharField(max_length=255, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True)
    effective_date = models.DateField(null=True, blank=True, help_text="Effective from this date")
    next_review_due = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    effective_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True, help_text="Superseded or obsoleted")

    # What the review and approval signatures cover: the content, not the lifecycle stamps.
    SIGNED_FIELDS = ("document_id", "version", "change_summary", "file_sha256", "effective_date")

    class Meta:
        ordering = ["document__number", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["document", "version"], name="document_version_unique"),
            models.UniqueConstraint(
                fields=["document"],
                condition=Q(status=VersionStatus.EFFECTIVE),
                name="one_effective_version_per_document",
            ),
            models.CheckConstraint(
                condition=Q(status__in=VersionStatus.values), name="document_version_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document.number} v{self.version}"

    @property
    def site(self) -> None:
        """Documents are organisation-wide: signatures are checked against roles anywhere."""
        return None

    def signed_content(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.SIGNED_FIELDS}

    @property
    def performed_by(self) -> User:
        """The author, for core's four-eyes check (core.signing.performer_of): no signature
        path, not even the generic sign dialog, lets the author review or approve their own."""
        return self.created_by


@signable(
    meanings=("reviewed",),
    site=lambda r: None,
    performer=lambda r: r.version.created_by,
)
class PeriodicReview(models.Model):
    """A periodic review of an effective version: QA confirms it is still fit for use.

    Signed with the meaning 'reviewed'; it pushes the version's next review date. A row of its
    own (not a second signature on the version), so the history of reviews stays readable.
    """

    version = models.ForeignKey(
        DocumentVersion, on_delete=models.PROTECT, related_name="periodic_reviews"
    )
    reviewed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    reviewed_at = models.DateTimeField()
    comment = models.TextField(blank=True)
    previous_due = models.DateField(null=True, blank=True)
    next_review_due = models.DateField()

    RECORD_FIELDS = ("version", "reviewed_by", "comment", "previous_due", "next_review_due")

    class Meta:
        ordering = ["-reviewed_at"]

    def __str__(self) -> str:
        return f"Periodic review of {self.version} on {self.reviewed_at:%Y-%m-%d}"

    @property
    def site(self) -> None:
        return None

    def signed_content(self) -> dict[str, Any]:
        """What the reviewer confirms: this version and file, reviewed now, next due then."""
        return {
            "version_id": self.version_id,
            "file_sha256": self.version.file_sha256,
            "reviewed_at": self.reviewed_at,
            "comment": self.comment,
            "next_review_due": self.next_review_due,
        }
