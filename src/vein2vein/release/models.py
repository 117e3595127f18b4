"""Release tables: the QA disposition of a batch (release, reject, quarantine hold, with the
exceptional release of an out-of-specification product), the notice an exceptional release
leaves for the clinical site, and the certificates of analysis with their SHA-256.

Nothing here is changed or deleted: a later disposition is a new row that names the one it
follows; a regenerated certificate whose content changed is a new version. Every write goes
through release.services.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from vein2vein.core.models import Site
from vein2vein.core.signing import signable
from vein2vein.manufacturing.models import Batch

from .choices import Decision


@signable(
    meanings=("released", "rejected", "approved", "exceptional_release"),
    site=lambda d: d.batch.site,
    performer=lambda d: d.batch.started_by,
)
class Disposition(models.Model):
    """One QA decision on a batch, signed. `follows` is the decision it comes after (a hold)."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    follows = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="followed_by"
    )
    exceptional = models.BooleanField(
        default=False, help_text="Released out of specification on the physician's request"
    )
    reason = models.TextField(help_text="Why: the QA justification of the decision")
    physician_name = models.CharField(max_length=150, blank=True)
    physician_requested_at = models.DateTimeField(null=True, blank=True)
    physician_reference = models.CharField(max_length=200, blank=True)
    physician_file = models.FileField(upload_to="release/requests/", blank=True)
    physician_file_name = models.CharField(max_length=255, blank=True)
    physician_file_sha256 = models.CharField(max_length=64, blank=True)
    readiness = models.JSONField(help_text="The readiness checklist as it stood when decided")
    record_sha256 = models.CharField(max_length=64, help_text="Of the executed batch record")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    decided_at = models.DateTimeField()

    RECORD_FIELDS = (
        "batch",
        "decision",
        "follows",
        "exceptional",
        "reason",
        "physician_name",
        "physician_requested_at",
        "physician_reference",
        "physician_file_sha256",
        "record_sha256",
        "decided_by",
        "decided_at",
    )

    class Meta:
        ordering = ["batch_id", "decided_at", "pk"]
        indexes = [models.Index(fields=["batch", "decided_at"], name="release_disp_batch")]
        constraints = [
            models.CheckConstraint(
                condition=Q(decision__in=Decision.values), name="release_disp_decision_valid"
            ),
            models.CheckConstraint(
                condition=Q(exceptional=False)
                | (
                    Q(decision=Decision.RELEASE)
                    & ~Q(physician_name="")
                    & Q(physician_requested_at__isnull=False)
                    & ~Q(physician_reference="")
                ),
                name="release_disp_exceptional_has_request",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="release_disp_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.batch.number}: {self.get_decision_display()}"

    @property
    def site(self) -> Site:
        return self.batch.site

    def signed_content(self) -> dict[str, Any]:
        """What the QA approver signs: the decision, why, the physician's request and the
        batch record and readiness it was made on."""
        return {
            "batch": self.batch_id,
            "decision": self.decision,
            "follows": self.follows_id,
            "exceptional": self.exceptional,
            "reason": self.reason,
            "physician_name": self.physician_name,
            "physician_requested_at": (
                self.physician_requested_at.isoformat() if self.physician_requested_at else None
            ),
            "physician_reference": self.physician_reference,
            "physician_file_sha256": self.physician_file_sha256,
            "readiness": self.readiness,
            "record_sha256": self.record_sha256,
        }


class ClinicalNotice(models.Model):
    """What the clinical site is told of an exceptional release: the product is out of
    specification, which results, and the physician's request it answers."""

    disposition = models.OneToOneField(Disposition, on_delete=models.PROTECT, related_name="notice")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField()

    RECORD_FIELDS = ("disposition", "site", "batch", "text", "created_at")

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Notice: {self.batch.number} released out of specification"


class Certificate(models.Model):
    """A certificate of analysis PDF as issued: its content hash and the file's SHA-256.
    Regenerating with the same content gives this file back; changed content, a new version."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField()
    disposition = models.ForeignKey(Disposition, on_delete=models.PROTECT, related_name="+")
    content_sha256 = models.CharField(max_length=64, help_text="Of what the certificate states")
    file = models.FileField(upload_to="release/coa/")
    sha256 = models.CharField(max_length=64, help_text="Of the PDF file")
    size = models.PositiveIntegerField()
    generated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    generated_at = models.DateTimeField()

    RECORD_FIELDS = (
        "batch",
        "version",
        "disposition",
        "content_sha256",
        "sha256",
        "size",
        "generated_by",
        "generated_at",
    )

    class Meta:
        ordering = ["batch_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "version"], name="release_coa_version"),
        ]

    def __str__(self) -> str:
        return f"CoA {self.batch.number} v{self.version}"
