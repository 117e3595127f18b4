"""Batch record tables: master records (the parsed content of an approved MBR document
version), batches, and the executed step entries.

An entry is never changed: a correction is a new entry that supersedes the old one (which
stays, with the reason), and the verifier signs again. Every write goes through
manufacturing.services.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from vein2vein.chain.models import TherapyOrder, TherapyProduct
from vein2vein.core.models import Site
from vein2vein.core.signing import signable
from vein2vein.documents.models import DocumentVersion

from .choices import BatchStatus, EntryFlag, EntryStatus

LATE_ENTRY_SECONDS = 30 * 60
"""An entry recorded more than 30 minutes after it was done is flagged late for review."""


class MasterRecord(models.Model):
    """The executable content of one MBR document version. Approval, effectivity and
    retirement are the document version's (documents app); a batch keeps the version it
    started with."""

    document_version = models.OneToOneField(
        DocumentVersion, on_delete=models.PROTECT, related_name="master_record"
    )
    product = models.ForeignKey(TherapyProduct, on_delete=models.PROTECT, related_name="+")
    process_version = models.CharField(max_length=30)
    title = models.CharField(max_length=200)
    definition = models.JSONField(help_text="The validated MBR (vein2vein-mbr/1), normalised")
    yaml_text = models.TextField(help_text="The YAML file, as reviewed and approved")
    file_sha256 = models.CharField(
        max_length=64, help_text="SHA-256 of the YAML file: the document version's file_sha256"
    )
    definition_sha256 = models.CharField(max_length=64)
    step_count = models.PositiveIntegerField()
    parsed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    parsed_at = models.DateTimeField()

    RECORD_FIELDS = (
        "document_version",
        "product",
        "process_version",
        "title",
        "file_sha256",
        "definition_sha256",
        "step_count",
    )

    def __str__(self) -> str:
        return f"{self.document_version} ({self.product.code} process {self.process_version})"

    @property
    def site(self) -> None:
        """Master records are organisation-wide, like the documents they come from."""
        return None


@signable(
    meanings=("reviewed", "approved"),
    site=lambda b: b.site,
    performer=lambda b: b.started_by,
)
class Batch(models.Model):
    """One execution of a master record: for a patient's order (autologous) or a donor lot
    (allogeneic). Carries its number and the COI identifier."""

    number = models.CharField(max_length=40, unique=True)
    master_record = models.ForeignKey(
        MasterRecord, on_delete=models.PROTECT, related_name="batches"
    )
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    order = models.OneToOneField(
        TherapyOrder, on_delete=models.PROTECT, null=True, blank=True, related_name="batch"
    )
    donor_lot = models.CharField(max_length=60, blank=True)
    coi = models.CharField("COI identifier", max_length=15, blank=True)
    status = models.CharField(max_length=20, choices=BatchStatus.choices)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    started_at = models.DateTimeField(help_text="When it started (UTC); stated for a late entry")
    recorded_at = models.DateTimeField(help_text="When the start was recorded (server, UTC)")
    hold_reason = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    aborted_at = models.DateTimeField(null=True, blank=True)
    abort_reason = models.TextField(blank=True)
    last_seq = models.PositiveIntegerField(default=0)
    review_comment = models.TextField(blank=True)

    RECORD_FIELDS = (
        "number",
        "master_record",
        "site",
        "order",
        "donor_lot",
        "coi",
        "status",
        "started_at",
    )

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["status", "site"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=BatchStatus.values), name="mfg_batch_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(order__isnull=False) | ~Q(donor_lot=""),
                name="mfg_batch_for_order_or_donor_lot",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def signed_content(self) -> dict[str, Any]:
        """What a QA review or an abort attests: the batch's identity, its master record and
        every entry as it stands. Not its workflow status: a batch that moves on after review
        (to disposition, release) keeps its review signature valid."""
        return {
            "number": self.number,
            "coi": self.coi,
            "order": self.order_id,
            "donor_lot": self.donor_lot,
            "master_record": self.master_record.definition_sha256,
            "entries": [
                e.signed_content()
                for e in self.entries.order_by("seq")  # type: ignore[attr-defined]
            ],
        }


@signable(
    meanings=("performed", "verified"),
    site=lambda e: e.batch.site,
    performer=lambda e: e.performed_by,
)
class StepEntry(models.Model):
    """What was done at one step of a batch: the value, who and when, limits as they were,
    the flag, comment and deviation; superseded (never changed) by a correction."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="entries")
    seq = models.PositiveIntegerField(help_text="Order of recording within the batch")
    step_key = models.CharField(max_length=60)
    step_kind = models.CharField(max_length=20)
    status = models.CharField(max_length=30, choices=EntryStatus.choices)
    value_text = models.TextField(blank=True, help_text="Choice, text, scan or reference")
    value_number = models.DecimalField(max_digits=30, decimal_places=10, null=True, blank=True)
    unit = models.CharField(max_length=40, blank=True)
    details = models.JSONField(default=dict, help_text="Limits, inputs, lot, equipment...")
    flag = models.CharField(max_length=10, choices=EntryFlag.choices, blank=True)
    comment = models.TextField(blank=True)
    deviation = models.CharField(max_length=30, blank=True)
    performed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    performed_at = models.DateTimeField(help_text="When it was done (UTC); stated for a late entry")
    recorded_at = models.DateTimeField(help_text="When it was recorded (server, UTC)")
    file = models.FileField(upload_to="manufacturing/attachments/", blank=True)
    file_name = models.CharField(max_length=255, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    corrects = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrected_by"
    )
    correction_reason = models.TextField(blank=True)

    RECORD_FIELDS = (
        "batch",
        "seq",
        "step_key",
        "step_kind",
        "status",
        "value_text",
        "value_number",
        "unit",
        "details",
        "flag",
        "comment",
        "deviation",
        "performed_by",
        "performed_at",
        "file_sha256",
        "corrects",
        "correction_reason",
    )

    class Meta:
        ordering = ["batch_id", "seq"]
        indexes = [models.Index(fields=["batch", "step_key", "status"])]
        constraints = [
            models.UniqueConstraint(fields=["batch", "seq"], name="mfg_entry_batch_seq"),
            models.CheckConstraint(
                condition=Q(verified_by__isnull=True) | ~Q(verified_by=models.F("performed_by")),
                name="mfg_entry_verifier_is_not_performer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch.number} #{self.seq} {self.step_key}"

    @property
    def site(self) -> Site:
        return self.batch.site

    @property
    def is_late(self) -> bool:
        return (self.recorded_at - self.performed_at).total_seconds() > LATE_ENTRY_SECONDS

    def signed_content(self) -> dict[str, Any]:
        """What the verifier signs: the value and its context, not the verification stamps."""
        number = None if self.value_number is None else str(self.value_number.normalize())
        return {
            "batch": self.batch_id,
            "seq": self.seq,
            "step": self.step_key,
            "value_text": self.value_text,
            "value_number": number,
            "unit": self.unit,
            "flag": self.flag,
            "comment": self.comment,
            "deviation": self.deviation,
            "performed_by": self.performed_by_id,
            "performed_at": self.performed_at.isoformat(),
            "details": json.dumps(self.details, sort_keys=True, default=str),
            "file_sha256": self.file_sha256,
            "corrects": self.corrects_id,
            "correction_reason": self.correction_reason,
        }


class BatchSample(models.Model):
    """A sample drawn at a sample step, labelled with its own number and the batch's COI
    identifier, waiting for QC (which picks it up by number)."""

    number = models.CharField(max_length=40, unique=True)
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="samples")
    entry = models.ForeignKey(StepEntry, on_delete=models.PROTECT, related_name="samples")
    sample_type = models.CharField(max_length=60)
    tests = models.JSONField(default=list)
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    unit = models.CharField(max_length=20)
    drawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    drawn_at = models.DateTimeField()
    label_text = models.TextField(help_text="What the sample label carries, as printed")
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(blank=True)

    RECORD_FIELDS = (
        "number",
        "batch",
        "entry",
        "sample_type",
        "tests",
        "quantity",
        "unit",
        "drawn_at",
        "label_text",
    )

    class Meta:
        ordering = ["batch_id", "number"]

    def __str__(self) -> str:
        return self.number
