"""Equipment: units, their IQ/OQ/PQ records, calibration and maintenance plans and records,
the usage log, and the impact list a failed calibration leaves behind.

Rows are written by the services only; nothing here is ever deleted (PROTECT everywhere).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models
from django.db.models import Q

from vein2vein.core.models import Site, User
from vein2vein.core.signing import signable
from vein2vein.documents.models import Document

from .choices import (
    EquipmentKind,
    EquipmentStatus,
    PlanKind,
    QualificationStage,
    QualificationStatus,
    Result,
)


class Equipment(models.Model):
    """A unit, known by its asset tag (BSC-01). Its status gates every use."""

    equipment_id = models.CharField(
        "equipment ID", max_length=30, unique=True, help_text="Asset tag, e.g. BSC-01"
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=30, choices=EquipmentKind.choices)
    manufacturer = models.CharField(max_length=200, blank=True)
    model = models.CharField(max_length=200, blank=True)
    serial_number = models.CharField(max_length=100, blank=True)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="equipment")
    location = models.CharField(max_length=200, help_text="Room, e.g. Suite 2 / Grade B")
    status = models.CharField(
        max_length=20, choices=EquipmentStatus.choices, default=EquipmentStatus.IN_QUALIFICATION
    )
    status_reason = models.TextField(blank=True, help_text="Why the status last changed")
    status_changed_at = models.DateTimeField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    RECORD_FIELDS = (
        "equipment_id",
        "name",
        "kind",
        "manufacturer",
        "model",
        "serial_number",
        "site",
        "location",
        "status",
    )

    class Meta:
        ordering = ["equipment_id"]
        verbose_name_plural = "equipment"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=EquipmentKind.values), name="equipment_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=EquipmentStatus.values), name="equipment_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.equipment_id} {self.name}"


@signable(
    meanings=("approved",),
    site=lambda r: r.equipment.site,
    performer=lambda r: r.performed_by,
)
class QualificationRecord(models.Model):
    """One IQ, OQ or PQ of a unit: the controlled protocol/report it was executed against,
    its result, and QA's approval signature."""

    equipment = models.ForeignKey(
        Equipment, on_delete=models.PROTECT, related_name="qualifications"
    )
    stage = models.CharField(max_length=2, choices=QualificationStage.choices)
    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="+")
    document_version = models.PositiveIntegerField(help_text="The version in effect when recorded")
    result = models.CharField(max_length=4, choices=Result.choices)
    performed_on = models.DateField(help_text="When the protocol was executed")
    remarks = models.TextField(blank=True)
    performed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    status = models.CharField(
        max_length=20, choices=QualificationStatus.choices, default=QualificationStatus.PENDING
    )
    approved_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    RECORD_FIELDS = (
        "equipment",
        "stage",
        "document",
        "document_version",
        "result",
        "performed_on",
        "remarks",
        "performed_by",
        "status",
    )

    class Meta:
        ordering = ["equipment", "stage", "recorded_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(stage__in=QualificationStage.values), name="eq_qual_stage_valid"
            ),
            models.CheckConstraint(condition=Q(result__in=Result.values), name="eq_qual_result"),
        ]

    def __str__(self) -> str:
        return f"{self.equipment.equipment_id} {self.stage} #{self.pk}"

    @property
    def site(self) -> Site:
        return self.equipment.site

    def signed_content(self) -> dict[str, Any]:
        return {
            "equipment": self.equipment.equipment_id,
            "stage": self.stage,
            "document": self.document.number,
            "document_version": self.document_version,
            "result": self.result,
            "performed_on": self.performed_on,
            "remarks": self.remarks,
            "performed_by": self.performed_by_id,
            "status": self.status,
        }


class MaintenancePlan(models.Model):
    """A recurring calibration or preventive maintenance of a unit. `last_done` and `next_due`
    follow from the records (the last passing one), kept here so due lists are one query."""

    equipment = models.ForeignKey(Equipment, on_delete=models.PROTECT, related_name="plans")
    kind = models.CharField(max_length=20, choices=PlanKind.choices)
    title = models.CharField(max_length=200, help_text="e.g. Speed and temperature calibration")
    interval_days = models.PositiveIntegerField()
    last_done = models.DateField(null=True, blank=True, help_text="Last passing record")
    next_due = models.DateField(
        null=True, blank=True, help_text="last_done + interval; empty until first done"
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    RECORD_FIELDS = ("equipment", "kind", "title", "interval_days", "last_done", "next_due")

    class Meta:
        ordering = ["equipment", "kind", "title"]
        constraints = [
            models.UniqueConstraint(
                fields=["equipment", "kind", "title"], name="eq_plan_unique_title"
            ),
            models.CheckConstraint(condition=Q(kind__in=PlanKind.values), name="eq_plan_kind"),
            models.CheckConstraint(condition=Q(interval_days__gte=1), name="eq_plan_interval"),
        ]

    def __str__(self) -> str:
        return f"{self.equipment.equipment_id} {self.get_kind_display().lower()}: {self.title}"

    @property
    def site(self) -> Site:
        return self.equipment.site

    def is_overdue_on(self, day: dt.date) -> bool:
        """Never done, or the due date has passed (the due date itself is still in date)."""
        return self.next_due is None or day > self.next_due


def certificate_upload_to(instance: ServiceRecord, filename: str) -> str:
    return f"equipment/{instance.equipment.equipment_id}/certificates/{filename}"


@signable(
    meanings=("performed",),
    site=lambda r: r.equipment.site,
    performer=lambda r: r.performed_by,
)
class ServiceRecord(models.Model):
    """One calibration or maintenance done on a unit, signed 'performed'. A failed calibration
    names the deviation it raised and owns its impact list."""

    plan = models.ForeignKey(MaintenancePlan, on_delete=models.PROTECT, related_name="records")
    equipment = models.ForeignKey(Equipment, on_delete=models.PROTECT, related_name="records")
    kind = models.CharField(max_length=20, choices=PlanKind.choices)
    performed_at = models.DateTimeField(help_text="When the work was done (entered by the user)")
    performed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(help_text="Server time of entry")
    result = models.CharField(max_length=4, choices=Result.choices)
    remarks = models.TextField(blank=True)
    certificate = models.FileField(upload_to=certificate_upload_to, blank=True, max_length=300)
    certificate_name = models.CharField(max_length=255, blank=True)
    certificate_sha256 = models.CharField(max_length=64, blank=True)
    next_due_after = models.DateField(null=True, blank=True, help_text="Plan's due date after it")
    # A failed calibration: the window of its impact list and the deviation it raised.
    impact_window_start = models.DateTimeField(
        null=True, blank=True, help_text="Last passing calibration before it (empty: none ever)"
    )
    deviation_id = models.CharField(max_length=20, blank=True)
    deviation_number = models.CharField(max_length=30, blank=True)

    RECORD_FIELDS = (
        "plan",
        "equipment",
        "kind",
        "performed_at",
        "performed_by",
        "result",
        "remarks",
        "certificate_name",
        "certificate_sha256",
        "next_due_after",
    )

    class Meta:
        ordering = ["-performed_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=PlanKind.values), name="eq_record_kind"),
            models.CheckConstraint(condition=Q(result__in=Result.values), name="eq_record_result"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.equipment.equipment_id} {self.get_kind_display().lower()} "
            f"#{self.pk} ({self.result})"
        )

    @property
    def site(self) -> Site:
        return self.equipment.site

    @property
    def failed(self) -> bool:
        return self.result == Result.FAIL

    def signed_content(self) -> dict[str, Any]:
        return {
            "equipment": self.equipment.equipment_id,
            "plan": self.plan_id,
            "kind": self.kind,
            "performed_at": self.performed_at,
            "performed_by": self.performed_by_id,
            "result": self.result,
            "remarks": self.remarks,
            "certificate_sha256": self.certificate_sha256,
        }


class Usage(models.Model):
    """A unit used by a batch step, from when to when. The batch is a generic reference (the
    batch record lives in a later app) with its human label."""

    equipment = models.ForeignKey(Equipment, on_delete=models.PROTECT, related_name="usages")
    batch_type = models.CharField(max_length=100, help_text="Record type, e.g. manufacturing.batch")
    batch_id = models.CharField(max_length=64)
    batch_label = models.CharField(max_length=100, help_text="e.g. B-2026-0012")
    step = models.CharField(max_length=200)
    started_at = models.DateTimeField()
    started_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField()

    RECORD_FIELDS = (
        "equipment",
        "batch_type",
        "batch_id",
        "batch_label",
        "step",
        "started_at",
        "started_by",
        "ended_at",
        "ended_by",
    )

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["equipment", "started_at"], name="eq_usage_when")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="eq_usage_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.equipment.equipment_id} — {self.batch_label} {self.step}"

    @property
    def site(self) -> Site:
        return self.equipment.site

    @property
    def batch_ref(self) -> tuple[str, str]:
        return (self.batch_type, self.batch_id)

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class ImpactItem(models.Model):
    """One usage named by a failed calibration's impact list, as it stood at the failure."""

    record = models.ForeignKey(ServiceRecord, on_delete=models.PROTECT, related_name="impact")
    usage = models.ForeignKey(Usage, on_delete=models.PROTECT, related_name="+")
    batch_type = models.CharField(max_length=100)
    batch_id = models.CharField(max_length=64)
    batch_label = models.CharField(max_length=100)
    step = models.CharField(max_length=200)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True, help_text="Empty: still in use")

    class Meta:
        ordering = ["started_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["record", "usage"], name="eq_impact_usage_once")
        ]

    def __str__(self) -> str:
        return f"{self.batch_label} {self.step}"
