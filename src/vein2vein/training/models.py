"""Training and qualification: curricula per role, read-and-understood assignments per
document version, and qualifications that lapse on their own when they expire.

Rows are never deleted: a curriculum item is removed with a reason, an assignment is
superseded when a newer version becomes effective, a qualification is revoked or superseded.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models
from django.db.models import Q

from vein2vein.core.choices import Role
from vein2vein.core.models import Site, User
from vein2vein.core.signing import signable
from vein2vein.documents.models import Document, DocumentVersion

from .choices import (
    DEFAULT_DUE_DAYS,
    OPEN_ASSIGNMENT_STATUSES,
    AssignmentStatus,
    QualificationKind,
    QualificationStatus,
)


class QualificationType(models.Model):
    """Something a person is qualified for, for a while: aseptic gowning (12 months), an
    aseptic process simulation (6 months), a named process step, an instrument."""

    code = models.CharField(max_length=40, unique=True, help_text="e.g. ASEPTIC-GOWNING")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=QualificationKind.choices)
    subject = models.CharField(
        max_length=200, blank=True, help_text="The process step or instrument it covers"
    )
    description = models.TextField(blank=True)
    validity_months = models.PositiveSmallIntegerField(help_text="Months a grant stays valid")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    RECORD_FIELDS = ("code", "name", "kind", "subject", "description", "validity_months")

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=QualificationKind.values), name="qualification_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(validity_months__gte=1), name="qualification_validity_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Curriculum(models.Model):
    """What a role must have read and hold, everywhere (site=None) or at one site."""

    role = models.CharField(max_length=20, choices=Role.choices)
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, null=True, blank=True, related_name="curricula"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    RECORD_FIELDS = ("role", "site", "name", "description")

    class Meta:
        ordering = ["role", "site__code"]
        verbose_name_plural = "curricula"
        constraints = [
            models.CheckConstraint(condition=Q(role__in=Role.values), name="curriculum_role_valid"),
            models.UniqueConstraint(
                fields=["role"], condition=Q(site__isnull=True), name="one_curriculum_per_role"
            ),
            models.UniqueConstraint(
                fields=["role", "site"],
                condition=Q(site__isnull=False),
                name="one_curriculum_per_role_and_site",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def scope(self) -> str:
        where = self.site.code if self.site_id and self.site else "all sites"
        return f"{self.get_role_display()} at {where}"


class CurriculumItem(models.Model):
    """One line of a curriculum: a document to read (its currently effective version) or a
    qualification to hold. Removed with a reason, never deleted."""

    curriculum = models.ForeignKey(Curriculum, on_delete=models.PROTECT, related_name="items")
    document = models.ForeignKey(
        Document, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    qualification_type = models.ForeignKey(
        QualificationType, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    trainer_led = models.BooleanField(
        default=False, help_text="Needs the trainer's signature after the trainee's"
    )
    due_days = models.PositiveSmallIntegerField(
        default=DEFAULT_DUE_DAYS, help_text="Days to read a newly effective version"
    )
    added_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField()
    removed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    removed_at = models.DateTimeField(null=True, blank=True)
    remove_reason = models.TextField(blank=True)

    RECORD_FIELDS = ("curriculum", "document", "qualification_type", "trainer_led", "due_days")

    class Meta:
        ordering = ["curriculum", "document__number", "qualification_type__code"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(document__isnull=False) & Q(qualification_type__isnull=True))
                | (Q(document__isnull=True) & Q(qualification_type__isnull=False)),
                name="curriculum_item_document_xor_qualification",
            ),
            models.CheckConstraint(
                condition=Q(trainer_led=False) | Q(document__isnull=False),
                name="curriculum_item_trainer_led_document_only",
            ),
            models.UniqueConstraint(
                fields=["curriculum", "document"],
                condition=Q(removed_at__isnull=True, document__isnull=False),
                name="curriculum_document_once",
            ),
            models.UniqueConstraint(
                fields=["curriculum", "qualification_type"],
                condition=Q(removed_at__isnull=True, qualification_type__isnull=False),
                name="curriculum_qualification_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.curriculum}: {self.document or self.qualification_type}"

    @property
    def is_active(self) -> bool:
        return self.removed_at is None

    @property
    def requirement(self) -> str:
        """The item as an `is_qualified` requirement: a document number or a type code."""
        if self.document is not None:
            return self.document.number
        assert self.qualification_type is not None
        return self.qualification_type.code


@signable(
    meanings=("performed", "verified"),
    site=lambda a: a.site,
    performer=lambda a: a.trainee,
)
class TrainingAssignment(models.Model):
    """Read and understand one version of one document. Once completed it is the training
    record: it keeps which version was read, who signed and when."""

    trainee = models.ForeignKey(User, on_delete=models.PROTECT, related_name="training_assignments")
    document_version = models.ForeignKey(
        DocumentVersion, on_delete=models.PROTECT, related_name="training_assignments"
    )
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    curriculum_item = models.ForeignKey(
        CurriculumItem, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    trainer_led = models.BooleanField(default=False)
    status = models.CharField(
        max_length=20, choices=AssignmentStatus.choices, default=AssignmentStatus.ASSIGNED
    )
    assigned_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assigned_at = models.DateTimeField()
    due_at = models.DateTimeField()
    trainee_signed_at = models.DateTimeField(null=True, blank=True)
    trainer = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    trainer_signed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)
    superseded_reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    RECORD_FIELDS = (
        "trainee",
        "document_version",
        "site",
        "curriculum_item",
        "trainer_led",
        "status",
        "assigned_at",
        "due_at",
        "trainee_signed_at",
        "trainer",
        "trainer_signed_at",
        "completed_at",
        "superseded_at",
    )

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["trainee", "document_version"], name="one_assignment_per_version"
            ),
            models.CheckConstraint(
                condition=Q(status__in=AssignmentStatus.values),
                name="training_assignment_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status=AssignmentStatus.COMPLETED) | Q(completed_at__isnull=False),
                name="training_assignment_completed_has_time",
            ),
        ]
        indexes = [models.Index(fields=["trainee", "status"], name="training_assignment_todo")]

    def __str__(self) -> str:
        return f"{self.document_version} for {self.trainee}"

    @property
    def document(self) -> Document:
        return self.document_version.document

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ASSIGNMENT_STATUSES

    def is_overdue(self, at: dt.datetime) -> bool:
        return self.is_open and self.due_at <= at

    def signed_content(self) -> dict[str, Any]:
        """What the trainee's and trainer's signatures cover: who read which version (with the
        file's hash). Not the status, which the trainer's sign-off changes afterwards."""
        version = self.document_version
        return {
            "trainee": self.trainee_id,
            "document": version.document.number,
            "version": version.version,
            "document_version": version.pk,
            "file_sha256": version.file_sha256,
            "trainer_led": self.trainer_led,
        }


@signable(
    meanings=("approved",),
    site=lambda q: q.site,
    performer=lambda q: q.user,
)
class Qualification(models.Model):
    """A qualification granted to a person by a supervisor (signed, meaning approved).

    Valid from `granted_at` until `expires_at`; it lapses by itself: every check compares
    `expires_at` with the time of the check, no job has to run. A new grant supersedes the
    previous one; a revocation keeps its reason."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="qualifications")
    qualification_type = models.ForeignKey(
        QualificationType, on_delete=models.PROTECT, related_name="qualifications"
    )
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=20, choices=QualificationStatus.choices, default=QualificationStatus.ACTIVE
    )
    granted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    granted_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    note = models.TextField(blank=True, help_text="Basis of the grant, e.g. the APS run")
    superseded_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    RECORD_FIELDS = (
        "user",
        "qualification_type",
        "site",
        "status",
        "granted_by",
        "granted_at",
        "expires_at",
        "note",
        "superseded_at",
        "revoked_by",
        "revoked_at",
    )

    class Meta:
        ordering = ["-granted_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=QualificationStatus.values),
                name="qualification_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("granted_at")),
                name="qualification_expires_after_grant",
            ),
            models.CheckConstraint(
                condition=~Q(user=models.F("granted_by")), name="qualification_not_self_granted"
            ),
            models.UniqueConstraint(
                fields=["user", "qualification_type"],
                condition=Q(status=QualificationStatus.ACTIVE),
                name="one_active_qualification_per_type",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.qualification_type} — {self.user}"

    def state_at(self, at: dt.datetime) -> str:
        """valid, expired, revoked or superseded, as of `at` (expiry computed, not stored)."""
        if self.revoked_at is not None and self.revoked_at <= at:
            return "revoked"
        if self.superseded_at is not None and self.superseded_at <= at:
            return "superseded"
        if self.expires_at <= at:
            return "expired"
        return "valid"

    def signed_content(self) -> dict[str, Any]:
        """What the granting signature covers: who, what, where, from when until when."""
        return {
            "user": self.user_id,
            "qualification_type": self.qualification_type.code,
            "site": self.site_id,
            "granted_at": self.granted_at,
            "expires_at": self.expires_at,
            "note": self.note,
        }
