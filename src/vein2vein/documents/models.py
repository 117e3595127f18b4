"""Controlled documents: a document (SOP-0042) and its versions through review to effective."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from vein2vein.core.models import User

from .choices import DEFAULT_REVIEW_PERIOD_MONTHS, DocumentKind, VersionStatus


class Document(models.Model):
    """A controlled document, identified by its number; its content lives in its versions."""

    number = models.CharField(max_length=20, unique=True, help_text="e.g. SOP-0042")
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=30, choices=DocumentKind.choices)
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="owned_documents")
    review_period_months = models.PositiveSmallIntegerField(default=DEFAULT_REVIEW_PERIOD_MONTHS)
    created_at = models.DateTimeField()

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
