"""Quality records: deviations, CAPA, change control. Written only by quality.services.

Nothing here is ever deleted: records are cancelled, links removed, with a reason and who.
Generic references (record_type 'app_label.model', record_id) point at any record, so lower
apps never import the higher ones whose records they describe.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models
from django.db.models import Q

from vein2vein.core.models import Signature, Site, User
from vein2vein.core.signing import signable
from vein2vein.core.time import in_zone, now

from .choices import (
    ACTION_FINISHED,
    CHANGE_ACTIVE,
    DEVIATION_ACTIVE,
    ActionKind,
    ActionStatus,
    CapaStatus,
    ChangeStatus,
    CheckResult,
    Classification,
    DeviationCategory,
    DeviationStatus,
    RootCauseCategory,
    RootCauseMethod,
    TaskStatus,
)


def _today_at(site: Site) -> dt.date:
    """Today's date at `site`, from the server clock (DESIGN rule 4)."""
    return in_zone(now(), site.time_zone).date()


def _past_due(due: dt.date | None, site: Site) -> bool:
    return due is not None and _today_at(site) > due


def _values(record: models.Model, fields: tuple[str, ...]) -> dict[str, Any]:
    """The named fields as stored (foreign keys by their id): what a signature covers."""
    return {f: getattr(record, getattr(record._meta.get_field(f), "attname", f)) for f in fields}


# --- deviations -----------------------------------------------------------------------------
@signable(
    meanings=("approved",),
    site=lambda d: d.site,
    performer=lambda d: d.investigator or d.raised_by,
)
class Deviation(models.Model):
    """An unplanned departure from a procedure, specification or expected result."""

    number = models.CharField(max_length=20, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField()
    category = models.CharField(max_length=20, choices=DeviationCategory.choices)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="deviations")
    status = models.CharField(
        max_length=30, choices=DeviationStatus.choices, default=DeviationStatus.OPEN
    )
    # The record that caused it (any app): a generic reference, blank when raised by hand.
    source_type = models.CharField(max_length=100, blank=True)
    source_id = models.CharField(max_length=64, blank=True)
    raised_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    raised_at = models.DateTimeField()
    detected_at = models.DateTimeField()
    classification = models.CharField(
        max_length=10,
        choices=Classification.choices,
        blank=True,
        help_text="Blank until classified",
    )
    classification_justification = models.TextField(blank=True)
    immediate_actions = models.TextField(blank=True)
    impact_product = models.TextField("Impact on product", blank=True)
    impact_patient = models.TextField("Impact on patient", blank=True)
    investigator = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    investigation_started_at = models.DateTimeField(null=True, blank=True)
    root_cause_method = models.CharField(max_length=20, choices=RootCauseMethod.choices, blank=True)
    five_whys = models.JSONField(default=list, blank=True, help_text='[{"why", "answer"}], ≤ 5')
    ishikawa = models.JSONField(default=dict, blank=True, help_text="6M category → causes")
    root_cause_category = models.CharField(
        max_length=20, choices=RootCauseCategory.choices, blank=True
    )
    root_cause = models.TextField(blank=True, help_text="The root cause, in one statement")
    due_date = models.DateField()
    submitted_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closure_comment = models.TextField(blank=True)
    # {capa_action_id: why it may stay open} given by the QA approver at closure.
    closure_justifications = models.JSONField(default=dict, blank=True)
    cancelled_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    RECORD_FIELDS = (
        "number",
        "title",
        "description",
        "category",
        "site",
        "status",
        "source_type",
        "source_id",
        "raised_by",
        "raised_at",
        "detected_at",
        "classification",
        "classification_justification",
        "immediate_actions",
        "impact_product",
        "impact_patient",
        "investigator",
        "root_cause_method",
        "five_whys",
        "ishikawa",
        "root_cause_category",
        "root_cause",
        "due_date",
        "closed_by",
        "closed_at",
        "closure_comment",
        "closure_justifications",
        "cancelled_by",
        "cancel_reason",
    )
    INVESTIGATION_FIELDS = (
        "immediate_actions",
        "impact_product",
        "impact_patient",
        "root_cause_method",
        "five_whys",
        "ishikawa",
        "root_cause_category",
        "root_cause",
    )

    class Meta:
        ordering = ["-raised_at", "-pk"]
        indexes = [models.Index(fields=["status", "due_date"], name="quality_dev_status_due")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=DeviationStatus.values), name="quality_dev_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(category__in=DeviationCategory.values),
                name="quality_dev_category_valid",
            ),
            models.CheckConstraint(
                condition=Q(classification__in=["", *Classification.values]),
                name="quality_dev_class_valid",
            ),
            # A classification is never without its justification.
            models.CheckConstraint(
                condition=Q(classification="") | ~Q(classification_justification=""),
                name="quality_dev_class_justified",
            ),
            models.CheckConstraint(
                condition=~Q(status=DeviationStatus.CANCELLED) | ~Q(cancel_reason=""),
                name="quality_dev_cancel_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_active(self) -> bool:
        return self.status in DEVIATION_ACTIVE

    @property
    def is_overdue(self) -> bool:
        """Still active and past its due date, as today reads at the deviation's site."""
        return self.is_active and _past_due(self.due_date, self.site)

    # Workflow state, not what the closing QA approver attested: they stay outside the hash.
    WORKFLOW_FIELDS = ("status", "cancelled_by", "cancel_reason")

    def signed_content(self) -> dict[str, Any]:
        """The deviation as investigated and closed; a later workflow step (a reopening
        status, a cancellation field) leaves the closure signature valid."""
        return _values(self, tuple(f for f in self.RECORD_FIELDS if f not in self.WORKFLOW_FIELDS))


@signable(
    meanings=("approved", "reviewed"),
    site=lambda e: e.deviation.site,
    performer=lambda e: e.deviation.investigator or e.deviation.raised_by,
)
class DeviationExtension(models.Model):
    """A granted due-date extension: its own signed record, so later work on the deviation
    does not invalidate the QA signature that granted it."""

    deviation = models.ForeignKey(Deviation, on_delete=models.PROTECT, related_name="extensions")
    old_due_date = models.DateField()
    new_due_date = models.DateField()
    reason = models.TextField()
    granted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    granted_at = models.DateTimeField()

    class Meta:
        ordering = ["granted_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(new_due_date__gt=models.F("old_due_date")),
                name="quality_ext_later_date",
            )
        ]

    def __str__(self) -> str:
        return f"{self.deviation.number} due {self.old_due_date} → {self.new_due_date}"

    @property
    def site(self) -> Site:
        return self.deviation.site

    def signed_content(self) -> dict[str, Any]:
        return {
            "deviation": self.deviation.number,
            "old_due_date": self.old_due_date,
            "new_due_date": self.new_due_date,
            "reason": self.reason,
        }


class DeviationLink(models.Model):
    """An affected record (batch, lot, equipment, order, sample, sensor alarm...)."""

    deviation = models.ForeignKey(Deviation, on_delete=models.PROTECT, related_name="links")
    record_type = models.CharField(max_length=100)
    record_id = models.CharField(max_length=64)
    note = models.TextField(blank=True)
    linked_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    linked_at = models.DateTimeField()
    removed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    removed_at = models.DateTimeField(null=True, blank=True)
    removal_reason = models.TextField(blank=True)

    RECORD_FIELDS = ("deviation", "record_type", "record_id", "note")

    class Meta:
        ordering = ["linked_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["deviation", "record_type", "record_id"],
                condition=Q(removed_at__isnull=True),
                name="quality_dev_link_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.deviation.number} → {self.record_type}:{self.record_id}"

    @property
    def site(self) -> Site:
        return self.deviation.site


# --- CAPA -----------------------------------------------------------------------------------
class Capa(models.Model):
    """Corrective and preventive actions, for one or more deviations or standalone."""

    number = models.CharField(max_length=20, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(help_text="The problem the actions address")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="capas")
    status = models.CharField(max_length=20, choices=CapaStatus.choices, default=CapaStatus.OPEN)
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    deviations: models.ManyToManyField[Deviation, CapaDeviation] = models.ManyToManyField(
        Deviation, through="CapaDeviation", related_name="capas", blank=True
    )
    closed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closure_comment = models.TextField(blank=True)
    cancelled_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    RECORD_FIELDS = (
        "number",
        "title",
        "description",
        "site",
        "status",
        "owner",
        "closed_by",
        "closure_comment",
        "cancel_reason",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=CapaStatus.values), name="quality_capa_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=CapaStatus.CANCELLED) | ~Q(cancel_reason=""),
                name="quality_capa_cancel_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_overdue(self) -> bool:
        """Open with an overdue action or effectiveness check."""
        if self.status != CapaStatus.OPEN:
            return False
        return any(a.is_overdue for a in self.actions.all()) or any(
            c.is_overdue for c in self.checks.all()
        )


class CapaDeviation(models.Model):
    """A CAPA answers a deviation. Links stay: a CAPA raised in error is cancelled."""

    capa = models.ForeignKey(Capa, on_delete=models.PROTECT, related_name="deviation_links")
    deviation = models.ForeignKey(Deviation, on_delete=models.PROTECT, related_name="capa_links")
    linked_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    linked_at = models.DateTimeField()

    class Meta:
        ordering = ["linked_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["capa", "deviation"], name="quality_capa_dev_unique")
        ]

    def __str__(self) -> str:
        return f"{self.capa.number} ↔ {self.deviation.number}"


class CapaAction(models.Model):
    """One corrective or preventive action: an owner, a due date and, when done, evidence."""

    capa = models.ForeignKey(Capa, on_delete=models.PROTECT, related_name="actions")
    kind = models.CharField(max_length=20, choices=ActionKind.choices)
    description = models.TextField()
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    due_date = models.DateField()
    status = models.CharField(
        max_length=20, choices=ActionStatus.choices, default=ActionStatus.OPEN
    )
    evidence = models.TextField(blank=True)
    evidence_ref = models.CharField(
        max_length=200, blank=True, help_text="Where the evidence is, e.g. SOP-0042 v3"
    )
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    completed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    RECORD_FIELDS = (
        "capa",
        "kind",
        "description",
        "owner",
        "due_date",
        "status",
        "evidence",
        "evidence_ref",
        "completed_by",
        "cancel_reason",
    )

    class Meta:
        ordering = ["due_date", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ActionStatus.values), name="quality_action_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=ActionKind.values), name="quality_action_kind_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=ActionStatus.DONE) | ~Q(evidence=""),
                name="quality_action_done_has_evidence",
            ),
            models.CheckConstraint(
                condition=~Q(status=ActionStatus.CANCELLED) | ~Q(cancel_reason=""),
                name="quality_action_cancel_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.capa.number} {self.get_kind_display()} action #{self.pk}"

    @property
    def site(self) -> Site:
        return self.capa.site

    @property
    def is_finished(self) -> bool:
        return self.status in ACTION_FINISHED

    @property
    def is_overdue(self) -> bool:
        return not self.is_finished and _past_due(self.due_date, self.capa.site)


@signable(
    meanings=("reviewed",),
    site=lambda c: c.capa.site,
    performer=lambda c: c.planned_by,
)
class EffectivenessCheck(models.Model):
    """Did the actions work? Planned with criteria and a due date, then signed pass or fail.
    A failed check leaves the CAPA open for more actions and a new check."""

    capa = models.ForeignKey(Capa, on_delete=models.PROTECT, related_name="checks")
    due_date = models.DateField()
    criteria = models.TextField()
    result = models.CharField(max_length=10, choices=CheckResult.choices, blank=True)
    comment = models.TextField(blank=True)
    planned_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    planned_at = models.DateTimeField()
    checked_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    checked_at = models.DateTimeField(null=True, blank=True)

    RECORD_FIELDS = ("capa", "due_date", "criteria", "result", "comment", "checked_by")

    class Meta:
        ordering = ["planned_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(result__in=["", *CheckResult.values]),
                name="quality_check_result_valid",
            ),
            models.UniqueConstraint(
                fields=["capa"], condition=Q(result=""), name="quality_one_pending_check"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.capa.number} effectiveness check #{self.pk}"

    @property
    def site(self) -> Site:
        return self.capa.site

    @property
    def is_overdue(self) -> bool:
        return not self.result and _past_due(self.due_date, self.capa.site)

    def signed_content(self) -> dict[str, Any]:
        return {
            "capa": self.capa.number,
            "due_date": self.due_date,
            "criteria": self.criteria,
            "result": self.result,
            "comment": self.comment,
            "checked_by": self.checked_by_id,
        }


# --- change control -------------------------------------------------------------------------
@signable(
    meanings=("approved",),
    site=lambda c: c.site,
    performer=lambda c: c.requested_by,
)
class ChangeControl(models.Model):
    """A planned change: what, why, what it touches, its impact, approvals, implementation."""

    number = models.CharField(max_length=20, unique=True)
    title = models.CharField(max_length=200)
    what = models.TextField(help_text="What changes")
    why = models.TextField(help_text="Why it changes")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="change_controls")
    status = models.CharField(
        max_length=20, choices=ChangeStatus.choices, default=ChangeStatus.DRAFT
    )
    # {"documents": [...], "equipment": [...], "processes": [...], "products": [...]}
    affected = models.JSONField(default=dict, blank=True)
    validation_impact = models.BooleanField(null=True, blank=True)
    validation_notes = models.TextField(blank=True)
    regulatory_impact = models.BooleanField(null=True, blank=True)
    regulatory_notes = models.TextField(blank=True)
    training_impact = models.BooleanField(null=True, blank=True)
    training_notes = models.TextField(blank=True)
    # The roles whose approval it needs, fixed when it is submitted.
    required_roles = models.JSONField(default=list, blank=True)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    implementation_started_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closure_comment = models.TextField(blank=True)
    ended_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.TextField(blank=True, help_text="Why it was rejected or cancelled")
    updated_at = models.DateTimeField(auto_now=True)

    RECORD_FIELDS = (
        "number",
        "title",
        "what",
        "why",
        "site",
        "status",
        "affected",
        "validation_impact",
        "validation_notes",
        "regulatory_impact",
        "regulatory_notes",
        "training_impact",
        "training_notes",
        "required_roles",
        "requested_by",
        "closed_by",
        "closure_comment",
        "end_reason",
    )
    # What an approval signs: the request and its impact assessment, not the workflow state.
    SIGNED_FIELDS = (
        "number",
        "title",
        "what",
        "why",
        "site",
        "affected",
        "validation_impact",
        "validation_notes",
        "regulatory_impact",
        "regulatory_notes",
        "training_impact",
        "training_notes",
    )
    EDITABLE_FIELDS = (
        "title",
        "what",
        "why",
        "affected",
        "validation_impact",
        "validation_notes",
        "regulatory_impact",
        "regulatory_notes",
        "training_impact",
        "training_notes",
    )

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ChangeStatus.values), name="quality_change_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=[ChangeStatus.REJECTED, ChangeStatus.CANCELLED])
                | ~Q(end_reason=""),
                name="quality_change_end_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_active(self) -> bool:
        return self.status in CHANGE_ACTIVE

    def signed_content(self) -> dict[str, Any]:
        return _values(self, self.SIGNED_FIELDS)


class ChangeApproval(models.Model):
    """One required role's approval, given by e-signature."""

    change = models.ForeignKey(ChangeControl, on_delete=models.PROTECT, related_name="approvals")
    role = models.CharField(max_length=20)
    approver = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    signature = models.OneToOneField(Signature, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField()

    class Meta:
        ordering = ["approved_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["change", "role"], name="quality_one_approval_per_role"
            ),
            models.UniqueConstraint(
                fields=["change", "approver"], name="quality_one_approval_per_person"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.change.number} approved as {self.role} by {self.approver}"


class ChangeTask(models.Model):
    """An implementation task: owner, due date, done with evidence."""

    change = models.ForeignKey(ChangeControl, on_delete=models.PROTECT, related_name="tasks")
    description = models.TextField()
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    due_date = models.DateField()
    status = models.CharField(max_length=20, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    evidence = models.TextField(blank=True)
    evidence_ref = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    completed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    RECORD_FIELDS = (
        "change",
        "description",
        "owner",
        "due_date",
        "status",
        "evidence",
        "evidence_ref",
        "completed_by",
        "cancel_reason",
    )

    class Meta:
        ordering = ["due_date", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=TaskStatus.values), name="quality_task_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=TaskStatus.DONE) | ~Q(evidence=""),
                name="quality_task_done_has_evidence",
            ),
            models.CheckConstraint(
                condition=~Q(status=TaskStatus.CANCELLED) | ~Q(cancel_reason=""),
                name="quality_task_cancel_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.change.number} task #{self.pk}"

    @property
    def site(self) -> Site:
        return self.change.site

    @property
    def is_overdue(self) -> bool:
        return self.status == TaskStatus.OPEN and _past_due(self.due_date, self.change.site)
