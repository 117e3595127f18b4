"""QC tables: test methods and their versions, specifications and their criteria, samples
(aliquots, shipments to a lab), results and the OOS investigations they open.

Nothing here is deleted or overwritten: a result is reviewed, or invalidated with a reason and
QA's signature, and a retest is a new result linked to the original. Every write goes through
qc.services.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from vein2vein.chain.models import TherapyProduct
from vein2vein.core.models import Site
from vein2vein.core.signing import signable
from vein2vein.equipment.models import Equipment
from vein2vein.manufacturing.models import Batch, BatchSample
from vein2vein.quality.models import Deviation
from vein2vein.standards.specifications import CriterionKind

from .choices import (
    Evaluation,
    LabKind,
    MethodCategory,
    OosPhase,
    ResultStatus,
    SamplePurpose,
    SampleStatus,
    SpecStage,
    SpecStatus,
)

CRITERION_KINDS = [(k.value, k.value.replace("_", " ")) for k in CriterionKind]


class TestMethod(models.Model):
    """A QC test as master data: what it measures, the training it needs (a document number or
    qualification code for the `is_qualified` gate) and the equipment kind it runs on."""

    code = models.CharField(max_length=30, unique=True, help_text="e.g. ENDO")
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=30, choices=MethodCategory.choices)
    numeric = models.BooleanField(help_text="A number with a unit (else a qualitative answer)")
    unit = models.CharField(max_length=30, blank=True)
    training_requirement = models.CharField(max_length=60, blank=True)
    equipment_kind = models.CharField(max_length=30, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField()

    __test__ = False  # not a pytest class
    RECORD_FIELDS = (
        "code",
        "name",
        "category",
        "numeric",
        "unit",
        "training_requirement",
        "equipment_kind",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def site(self) -> None:
        return None


class TestMethodVersion(models.Model):
    """A version of a method; a flow method's version stores its Gating-ML 2.0 strategy."""

    method = models.ForeignKey(TestMethod, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    description = models.TextField(blank=True)
    gating_ml = models.TextField(blank=True, help_text="Gating-ML 2.0 XML (flow methods)")
    gating_ml_sha256 = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField()

    __test__ = False
    RECORD_FIELDS = ("method", "version", "description", "gating_ml_sha256")

    class Meta:
        ordering = ["method_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["method", "version"], name="qc_method_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.method.name} v{self.version}"

    @property
    def site(self) -> None:
        return None


@signable(meanings=("approved",), site=lambda s: None, performer=lambda s: s.created_by)
class Specification(models.Model):
    """The acceptance criteria of a product at a stage, versioned; approved by signature."""

    product = models.ForeignKey(TherapyProduct, on_delete=models.PROTECT, related_name="+")
    stage = models.CharField(max_length=20, choices=SpecStage.choices)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=SpecStatus.choices)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    RECORD_FIELDS = ("product", "stage", "version", "title", "status")

    class Meta:
        ordering = ["product_id", "stage", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "stage", "version"], name="qc_spec_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.version} ({self.get_status_display().lower()})"

    @property
    def site(self) -> None:
        return None

    def signed_content(self) -> dict[str, Any]:
        """What the approver signs: the product, stage, version and every criterion."""
        return {
            "product": self.product_id,
            "stage": self.stage,
            "version": self.version,
            "title": self.title,
            "criteria": [
                c.signed_content()
                for c in self.criteria.select_related("method").order_by("position")
            ],
        }


class SpecCriterion(models.Model):
    """One test of a specification and its acceptance criterion (standards.specifications)."""

    specification = models.ForeignKey(
        Specification, on_delete=models.PROTECT, related_name="criteria"
    )
    method = models.ForeignKey(TestMethod, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=CRITERION_KINDS)
    low = models.DecimalField(max_digits=30, decimal_places=10, null=True, blank=True)
    high = models.DecimalField(max_digits=30, decimal_places=10, null=True, blank=True)
    unit = models.CharField(max_length=30, blank=True)
    expected = models.CharField(max_length=500, blank=True)
    printed = models.CharField(max_length=600, help_text="The criterion as printed on a CoA")

    class Meta:
        ordering = ["specification_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["specification", "method"], name="qc_criterion_one_per_method"
            )
        ]

    def __str__(self) -> str:
        return f"{self.method.name}: {self.printed}"

    def signed_content(self) -> dict[str, Any]:
        return {
            "method": self.method.code,
            "kind": self.kind,
            "low": None if self.low is None else str(self.low.normalize()),
            "high": None if self.high is None else str(self.high.normalize()),
            "unit": self.unit,
            "expected": self.expected,
        }


class Sample(models.Model):
    """A QC sample of a batch (from a BatchSample drawn at a step, or an aliquot of another
    QC sample): purpose, volume, storage location, the lab that holds it, who tests it, when."""

    number = models.CharField(max_length=40, unique=True)
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+")
    batch_sample = models.ForeignKey(
        BatchSample, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="aliquots"
    )
    purpose = models.CharField(max_length=20, choices=SamplePurpose.choices)
    volume = models.DecimalField(max_digits=12, decimal_places=3)
    unit = models.CharField(max_length=20)
    storage_location = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=SampleStatus.choices)
    lab_kind = models.CharField(max_length=20, choices=LabKind.choices, default=LabKind.INTERNAL)
    lab_name = models.CharField(max_length=200, default="QC laboratory")
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    due_date = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField()

    RECORD_FIELDS = (
        "number",
        "batch",
        "batch_sample",
        "parent",
        "purpose",
        "volume",
        "unit",
        "storage_location",
        "status",
        "lab_kind",
        "lab_name",
        "assigned_to",
        "due_date",
    )

    class Meta:
        ordering = ["batch_id", "number"]
        constraints = [
            models.CheckConstraint(condition=Q(volume__gte=0), name="qc_sample_volume_not_negative")
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def site(self) -> Site:
        return self.batch.site


class Shipment(models.Model):
    """Custody of a sample to a lab: shipped (packet), then received with its condition."""

    sample = models.ForeignKey(Sample, on_delete=models.PROTECT, related_name="shipments")
    lab_kind = models.CharField(max_length=20, choices=LabKind.choices)
    lab_name = models.CharField(max_length=200)
    packet = models.TextField(help_text="The shipment packet: conditions, courier, tracking")
    shipped_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    shipped_at = models.DateTimeField()
    received_by = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    condition_on_arrival = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    RECORD_FIELDS = (
        "sample",
        "lab_kind",
        "lab_name",
        "packet",
        "shipped_at",
        "received_by",
        "received_at",
        "condition_on_arrival",
    )

    class Meta:
        ordering = ["sample_id", "shipped_at"]

    def __str__(self) -> str:
        return f"{self.sample} to {self.lab_name}"

    @property
    def site(self) -> Site:
        return self.sample.batch.site


@signable(
    meanings=("reviewed", "approved"),
    site=lambda r: r.batch.site,
    performer=lambda r: r.entered_by,
)
class TestResult(models.Model):
    """A result of one test on one sample, evaluated against the criterion it was entered
    for. Reviewed by a second analyst (signed 'reviewed'); invalidated only with a reason and
    QA's signature ('approved'); a retest is a new result with `retest_of` set."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+")
    sample = models.ForeignKey(Sample, on_delete=models.PROTECT, related_name="results")
    criterion = models.ForeignKey(SpecCriterion, on_delete=models.PROTECT, related_name="+")
    method_version = models.ForeignKey(
        TestMethodVersion, on_delete=models.PROTECT, related_name="+"
    )
    value_number = models.DecimalField(max_digits=30, decimal_places=10, null=True, blank=True)
    value_text = models.CharField(max_length=200, blank=True)
    unit = models.CharField(max_length=30, blank=True)
    printed = models.CharField(max_length=200, help_text="The result as printed, with its unit")
    evaluation = models.CharField(max_length=20, choices=Evaluation.choices)
    evaluation_message = models.CharField(max_length=800)
    status = models.CharField(max_length=30, choices=ResultStatus.choices)
    equipment = models.ForeignKey(
        Equipment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    comment = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True, help_text="Instrument row, gate counts")
    file = models.FileField(upload_to="qc/results/", blank=True)
    file_name = models.CharField(max_length=255, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True)
    plot = models.FileField(upload_to="qc/plots/", blank=True)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    entered_at = models.DateTimeField()
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    retest_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="retests"
    )
    invalidation_reason = models.TextField(blank=True)
    invalidation_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    invalidation_requested_at = models.DateTimeField(null=True, blank=True)
    invalidated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    invalidated_at = models.DateTimeField(null=True, blank=True)

    __test__ = False
    RECORD_FIELDS = (
        "batch",
        "sample",
        "criterion",
        "method_version",
        "value_number",
        "value_text",
        "unit",
        "printed",
        "evaluation",
        "status",
        "equipment",
        "comment",
        "file_sha256",
        "entered_by",
        "entered_at",
        "retest_of",
    )

    class Meta:
        ordering = ["batch_id", "entered_at", "pk"]
        indexes = [models.Index(fields=["batch", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(reviewed_by__isnull=True) | ~Q(reviewed_by=models.F("entered_by")),
                name="qc_result_reviewer_is_not_analyst",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ResultStatus.values), name="qc_result_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"result #{self.pk} {self.printed}"

    @property
    def site(self) -> Site:
        return self.batch.site

    def signed_content(self) -> dict[str, Any]:
        """What the reviewer (and an invalidation's approver) signs: the result and its
        context; not the review and invalidation stamps."""
        number = None if self.value_number is None else str(self.value_number.normalize())
        return {
            "batch": self.batch_id,
            "sample": self.sample_id,
            "criterion": self.criterion_id,
            "method_version": self.method_version_id,
            "value_number": number,
            "value_text": self.value_text,
            "unit": self.unit,
            "evaluation": self.evaluation,
            "equipment": self.equipment_id,
            "file_sha256": self.file_sha256,
            "entered_by": self.entered_by_id,
            "entered_at": self.entered_at.isoformat(),
            "retest_of": self.retest_of_id,
            "invalidation_reason": self.invalidation_reason,
        }


class OosInvestigation(models.Model):
    """The OOS investigation of one result: a quality deviation (category OOS) opened in the
    same transaction as the result; phase I (laboratory) then, without an assignable lab
    cause, phase II (full-scale)."""

    result = models.OneToOneField(TestResult, on_delete=models.PROTECT, related_name="oos")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+")
    deviation = models.ForeignKey(Deviation, on_delete=models.PROTECT, related_name="+")
    phase = models.CharField(max_length=20, choices=OosPhase.choices)
    opened_at = models.DateTimeField()
    phase_i_summary = models.TextField(blank=True)
    assignable_cause = models.BooleanField(null=True, blank=True)
    phase_i_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    phase_i_at = models.DateTimeField(null=True, blank=True)
    phase_ii_summary = models.TextField(blank=True)
    phase_ii_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    phase_ii_at = models.DateTimeField(null=True, blank=True)

    RECORD_FIELDS = ("result", "batch", "deviation", "phase", "opened_at")

    class Meta:
        ordering = ["-opened_at"]

    def __str__(self) -> str:
        return f"OOS of result #{self.result_id}"

    @property
    def site(self) -> Site:
        return self.batch.site
